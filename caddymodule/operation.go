package caddymodule

import (
	"html/template"
	"net"
	"net/http"
	"strconv"
	"strings"

	qrcode "github.com/skip2/go-qrcode"

	"github.com/enumgate/enumgate/challenge"
	"github.com/enumgate/enumgate/challenge/ocra/payment"
	"github.com/enumgate/enumgate/policy"
)

// enumURI is the enum: URI of the page's QR code for c's E-num question:
// enum:payment?challenge=…&purse=…&amount=… in payment mode, else
// enum:login?challenge=…. "" if no question was drawn.
func enumURI(c *challenge.Challenge) string {
	if c.Question == "" {
		return ""
	}
	u := payment.URI{Mode: payment.ModeLogin, Challenge: c.Question}
	if c.Mode == challenge.ModePayment {
		u.Mode, u.Purse, u.Amount = payment.ModePayment, c.Payee, c.Amount
	}
	return u.String()
}

// qrSVG draws content as a QR code in inline SVG (no script, no style
// attribute, so it passes the page's CSP), labelled for screen readers.
// It returns "" if content cannot be encoded.
func qrSVG(content, label string) template.HTML {
	q, err := qrcode.New(content, qrcode.Medium)
	if err != nil {
		return ""
	}
	bm := q.Bitmap() // includes the quiet zone
	n := len(bm)
	var b strings.Builder
	b.WriteString(`<svg class="eg-qr" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 `)
	b.WriteString(strconv.Itoa(n) + " " + strconv.Itoa(n))
	b.WriteString(`" role="img" aria-label="`)
	b.WriteString(template.HTMLEscapeString(label))
	b.WriteString(`" shape-rendering="crispEdges"><rect width="100%" height="100%" fill="#fff"/><path fill="#000" d="`)
	for y, row := range bm {
		for x := 0; x < len(row); x++ {
			if !row[x] {
				continue
			}
			run := 1
			for x+run < len(row) && row[x+run] {
				run++
			}
			b.WriteString("M" + strconv.Itoa(x) + " " + strconv.Itoa(y) + "h" + strconv.Itoa(run) + "v1h-" + strconv.Itoa(run) + "z")
			x += run - 1
		}
	}
	b.WriteString(`"/></svg>`)
	return template.HTML(b.String())
}

// opName names operation op in catalog cat: op.<name> from the messages,
// else the name made readable ("new_correspondent" is "New correspondent").
func opName(cat *catalog, op string) string {
	if t, ok := cat.msgs["op."+op]; ok {
		return t
	}
	return readable(op)
}

// readable turns an identifier into words: "full_name" is "Full name".
func readable(s string) string {
	s = strings.ReplaceAll(strings.ReplaceAll(s, "_", " "), ".", " ")
	if s != "" {
		s = strings.ToUpper(s[:1]) + s[1:]
	}
	return s
}

// beginOptions words the SMS or e-mail of a method begun from r in the
// language of r's page, and ends SMS with the WebOTP origin line.
func (h *Handler) beginOptions(r *http.Request) challenge.BeginOptions {
	cat := h.pages.langs.negotiate(r.Header.Get("Accept-Language"))
	host := r.Host
	if hn, _, err := net.SplitHostPort(host); err == nil {
		host = hn
	}
	return challenge.BeginOptions{Lang: cat.lang,
		Text: func(m challenge.Message) string { return messageText(cat, m, host) },
		Subject: func(m challenge.Message) string {
			return format(cat.text("text.email_subject"), []any{"operation", opName(cat, m.Operation)}, nil)
		},
	}
}

// messageText is the text of an SMS or e-mail in cat's language: what is
// confirmed — operation, amount with currency, payee as the page shows it
// — then the code. SMS end with the WebOTP line "@host #code", so a
// browser that supports WebOTP fills the code in on that site only.
func messageText(cat *catalog, m challenge.Message, host string) string {
	op := opName(cat, m.Operation)
	amount := ""
	if m.Amount != "" {
		amount = policy.FormatAmount(m.Amount, m.Currency, cat.lang)
	}
	var summary string
	switch {
	case amount != "" && m.Payee != "":
		summary = format(cat.text("text.summary"), []any{"operation", op, "amount", amount, "payee", m.Payee}, nil)
	case amount != "":
		summary = format(cat.text("text.summary_amount"), []any{"operation", op, "amount", amount}, nil)
	case m.Payee != "":
		summary = format(cat.text("text.summary_payee"), []any{"operation", op, "payee", m.Payee}, nil)
	default:
		summary = format(cat.text("text.summary_plain"), []any{"operation", op}, nil)
	}
	key := "text.sms"
	if m.Method == challenge.MethodEmail {
		key = "text.email"
	}
	text := format(cat.text(key), []any{"summary", summary, "code", m.Code}, nil)
	if m.Method == challenge.MethodSMS && host != "" && validWebOTPHost(host) {
		text += "\n\n@" + host + " #" + m.Code
	}
	return text
}

// validWebOTPHost reports whether host can stand in a WebOTP origin line:
// a DNS name or address without spaces, '#' or '@'.
func validWebOTPHost(host string) bool {
	if len(host) > 253 {
		return false
	}
	for i := 0; i < len(host); i++ {
		c := host[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == ':' || c == '[' || c == ']') {
			return false
		}
	}
	return true
}
