package senders

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"net/mail"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	gomail "github.com/wneessen/go-mail"
)

// Mail is a general e-mail (a notification, a verification link), as
// opposed to a challenge.Message that carries a code. It is sent as a
// multipart/alternative message: Text as text/plain and HTML (or, when
// HTML is empty, a simple HTML rendering of Text) as text/html.
type Mail struct {
	// To are the recipients, RFC 5322 addresses that may have a display
	// name; 1 to 10 of them, duplicates dropped. All of them are named in
	// the To header, and the message is refused whole if the server
	// refuses any of them.
	To []string
	// Subject is the subject line, required, at most 256 bytes, no line
	// breaks; non-ASCII text is RFC 2047 encoded.
	Subject string
	// Text is the plain-text body, required, at most 64 KiB of UTF-8.
	Text string
	// HTML is the HTML body, a complete document the caller built and
	// escaped (at most 256 KiB). Empty: the text is rendered as simple,
	// escaped HTML paragraphs in a document with Lang and Subject.
	HTML string
	// Lang is the language tag of Subject and Text (e.g. "ru"); it is
	// sent as Content-Language and as the HTML document's lang. Empty:
	// neither is set.
	Lang string
}

// Mailer sends general e-mail. The SMTP sender implements it; an
// observer can use it for notifications while codes keep going through
// challenge.Sender. SendMail must not retry in a way that could deliver
// a message twice.
type Mailer interface {
	SendMail(ctx context.Context, m Mail) error
}

// Limits of a Mail.
const (
	maxMailRecipients = 10
	maxMailSubject    = 256
	maxMailText       = 64 << 10
	maxMailHTML       = 256 << 10
)

// langTag is the shape of a BCP 47 language tag, enough to keep headers
// and the HTML attribute clean.
var langTag = regexp.MustCompile(`^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$`)

// validLang reports whether tag looks like a language tag.
func validLang(tag string) bool { return len(tag) <= 35 && langTag.MatchString(tag) }

// parseRecipient parses one recipient address, refusing line breaks and
// lists.
func parseRecipient(to string) (*mail.Address, error) {
	if strings.ContainsAny(to, "\r\n") {
		return nil, errors.New("smtp: recipient contains a line break")
	}
	addr, err := mail.ParseAddress(to)
	if err != nil {
		return nil, fmt.Errorf("smtp: invalid recipient address: %v", err)
	}
	return addr, nil
}

// check validates m and returns its recipients, duplicates dropped.
func (m Mail) check() ([]*mail.Address, error) {
	if len(m.To) == 0 {
		return nil, errors.New("smtp: mail has no recipient")
	}
	if len(m.To) > maxMailRecipients {
		return nil, fmt.Errorf("smtp: mail has %d recipients, at most %d allowed", len(m.To), maxMailRecipients)
	}
	var to []*mail.Address
	seen := make(map[string]bool, len(m.To))
	for _, r := range m.To {
		addr, err := parseRecipient(r)
		if err != nil {
			return nil, err
		}
		if key := strings.ToLower(addr.Address); !seen[key] {
			seen[key] = true
			to = append(to, addr)
		}
	}
	switch {
	case m.Subject == "":
		return nil, errors.New("smtp: mail subject is required")
	case len(m.Subject) > maxMailSubject:
		return nil, fmt.Errorf("smtp: mail subject is longer than %d bytes", maxMailSubject)
	case strings.ContainsAny(m.Subject, "\r\n"):
		return nil, errors.New("smtp: mail subject contains a line break")
	case m.Text == "":
		return nil, errors.New("smtp: mail text is required")
	case len(m.Text) > maxMailText:
		return nil, fmt.Errorf("smtp: mail text is larger than %d bytes", maxMailText)
	case len(m.HTML) > maxMailHTML:
		return nil, fmt.Errorf("smtp: mail html is larger than %d bytes", maxMailHTML)
	case !utf8.ValidString(m.Subject) || !utf8.ValidString(m.Text) || !utf8.ValidString(m.HTML):
		return nil, errors.New("smtp: mail subject, text or html is not valid UTF-8")
	case m.Lang != "" && !validLang(m.Lang):
		return nil, fmt.Errorf("smtp: mail lang %q is not a language tag", m.Lang)
	}
	return to, nil
}

// composed is a message ready for DATA and its envelope recipients.
type composed struct {
	rcpts []string
	data  []byte
}

// compose builds the RFC 5322 message with go-mail: From, To, Subject,
// Date, Message-ID (in the sender's domain), MIME-Version,
// Auto-Submitted and, when lang is set, Content-Language; a
// quoted-printable UTF-8 text/plain body, and with html a
// multipart/alternative of text and HTML.
func (s *SMTP) compose(to []*mail.Address, subject, text, html, lang string, now time.Time) (composed, error) {
	id, err := messageID(s.from.Address)
	if err != nil {
		return composed{}, err
	}
	m := gomail.NewMsg(
		gomail.WithCharset(gomail.Charset("utf-8")),
		gomail.WithEncoding(gomail.EncodingQP),
		gomail.WithNoDefaultUserAgent(),
	)
	m.FromMailAddress(s.from)
	m.ToMailAddress(to...)
	m.Subject(subject)
	m.SetDateWithValue(now)
	m.SetMessageIDWithValue(id)
	m.SetGenHeader("Auto-Submitted", "auto-generated")
	if lang != "" {
		m.SetGenHeader(gomail.HeaderContentLang, lang)
	}
	m.SetBodyString(gomail.TypeTextPlain, text)
	if html != "" {
		m.AddAlternativeString(gomail.TypeTextHTML, html)
	}
	var b bytes.Buffer
	if _, err := m.WriteTo(&b); err != nil {
		return composed{}, fmt.Errorf("smtp: composing the message: %w", err)
	}
	if !bytes.HasSuffix(b.Bytes(), []byte("\r\n")) {
		b.WriteString("\r\n")
	}
	rcpts := make([]string, len(to))
	for i, a := range to {
		rcpts[i] = a.Address
	}
	return composed{rcpts: rcpts, data: b.Bytes()}, nil
}

// htmlPage renders a plain text as a small accessible HTML document: the
// language and a title for screen readers, paragraphs at blank lines,
// line breaks kept, readable type and contrast, no images or tables.
var htmlPage = template.Must(template.New("mail").Parse(`<!DOCTYPE html>
<html{{with .Lang}} lang="{{.}}"{{end}}>
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
</head>
<body style="margin:0;padding:16px;background:#ffffff;color:#1a1a1a;font-family:Arial,Helvetica,sans-serif;font-size:16px;line-height:1.5">
<main style="max-width:40em">
{{range .Paragraphs}}<p>{{range $i, $line := .}}{{if $i}}<br>
{{end}}{{$line}}{{end}}</p>
{{end}}</main>
</body>
</html>
`))

// textToHTML returns the HTML version of a plain-text mail.
func textToHTML(lang, title, text string) (string, error) {
	var paragraphs [][]string
	for _, p := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n\n") {
		if p = strings.Trim(p, "\n"); p != "" {
			paragraphs = append(paragraphs, strings.Split(p, "\n"))
		}
	}
	var b strings.Builder
	err := htmlPage.Execute(&b, struct {
		Lang, Title string
		Paragraphs  [][]string
	}{lang, title, paragraphs})
	return b.String(), err
}

// messageID returns a fresh Message-ID (without the angle brackets) in
// the sender's domain.
func messageID(from string) (string, error) {
	var r [16]byte
	if _, err := rand.Read(r[:]); err != nil {
		return "", err
	}
	domain := "enumgate.invalid"
	if at := strings.LastIndexByte(from, '@'); at >= 0 && at < len(from)-1 {
		domain = from[at+1:]
	}
	return hex.EncodeToString(r[:]) + "@" + domain, nil
}
