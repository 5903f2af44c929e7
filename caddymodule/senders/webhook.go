package senders

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"text/template"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"go.uber.org/zap"

	"github.com/enumgate/enumgate/challenge"
)

func init() {
	caddy.RegisterModule(Webhook{})
}

// DefaultWebhookTemplate is the body Webhook sends when no body_template is
// configured: every field of the message, JSON-encoded.
const DefaultWebhookTemplate = `{"method":{{json .Method}},"to":{{json .To}},"text":{{json .Text}},` +
	`"code":{{json .Code}},"user":{{json .User}},"operation":{{json .Operation}},` +
	`"challenge_id":{{json .ChallengeID}}}`

const (
	defaultWebhookContentType = "application/json"
	defaultSendTimeout        = 10 * time.Second
	// maxWebhookResponse is how much of a provider's answer is read (and
	// discarded, so the connection can be reused).
	maxWebhookResponse = 4 << 10
)

// Webhook sends codes with one HTTP POST to an SMS provider (or any HTTP
// endpoint). The body is a Go text/template executed with the
// challenge.Message. Any 2xx answer is success; anything else, a redirect,
// a transport error or a timeout is a failure. A failed request is never
// retried, since every delivered SMS is billed.
type Webhook struct {
	// URL is the http or https endpoint to POST to. It is required and
	// may use `{env.*}` placeholders, expanded when the module is
	// provisioned.
	URL string `json:"url,omitempty"`

	// Headers are extra request headers, e.g. Authorization. Values may
	// use `{env.*}` placeholders, expanded when the module is provisioned.
	// Set the content type with content_type, not here. Default: none
	// (besides Content-Type and a User-Agent of "enumgate").
	Headers map[string]string `json:"headers,omitempty"`

	// BodyTemplate is a Go text/template for the request body, executed
	// with the message: .Method ("sms" or "email"), .To, .Code, .Text,
	// .User, .Operation, .ChallengeID, .Amount (a plain decimal),
	// .Currency, .Payee (as the page shows it, masked where the rule
	// masks it), .Lang (the page's language) and .Subject (e-mail). .Text
	// is already in .Lang and names the operation. The function `json` encodes a
	// value as JSON (quotes included). When the content type is JSON the
	// template must yield valid JSON; this is checked at provision time.
	// Default: a JSON object with the keys method, to, text, code, user,
	// operation and challenge_id.
	BodyTemplate string `json:"body_template,omitempty"`

	// ContentType is the request's Content-Type. Default: application/json.
	ContentType string `json:"content_type,omitempty"`

	// Timeout bounds the whole request, from dialing to reading the
	// answer. Default: 10s.
	Timeout caddy.Duration `json:"timeout,omitempty"`

	endpoint string      // URL with placeholders expanded
	display  string      // endpoint without userinfo and query, for errors and logs
	header   http.Header // Headers expanded, plus Content-Type and User-Agent
	tmpl     *template.Template
	client   *http.Client
	logger   *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (Webhook) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "enumgate.senders.webhook",
		New: func() caddy.Module { return new(Webhook) },
	}
}

// Provision expands placeholders, applies defaults, parses the body
// template and builds the HTTP client.
func (w *Webhook) Provision(ctx caddy.Context) error {
	w.logger = ctx.Logger()
	repl := caddy.NewReplacer()

	w.endpoint = repl.ReplaceKnown(w.URL, "")
	w.display = redactURL(w.endpoint)
	if w.ContentType == "" {
		w.ContentType = defaultWebhookContentType
	}
	if w.Timeout == 0 {
		w.Timeout = caddy.Duration(defaultSendTimeout)
	}

	w.header = make(http.Header, len(w.Headers)+2)
	w.header.Set("User-Agent", "enumgate")
	for name, value := range w.Headers {
		w.header.Set(name, repl.ReplaceKnown(value, ""))
	}
	w.header.Set("Content-Type", w.ContentType)

	src := w.BodyTemplate
	if src == "" {
		src = DefaultWebhookTemplate
	}
	tmpl, err := parseBodyTemplate(src)
	if err != nil {
		return err
	}
	w.tmpl = tmpl

	timeout := time.Duration(w.Timeout)
	dialer := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	w.client = &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:                  http.ProxyFromEnvironment,
			DialContext:            dialer.DialContext,
			TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12},
			TLSHandshakeTimeout:    timeout,
			ResponseHeaderTimeout:  timeout,
			ExpectContinueTimeout:  time.Second,
			ForceAttemptHTTP2:      true,
			MaxIdleConns:           8,
			IdleConnTimeout:        90 * time.Second,
			MaxResponseHeaderBytes: 64 << 10,
		},
		// A redirect is not followed: it comes back as a non-2xx answer,
		// which is an error. Following it could deliver (and bill) twice
		// or send the code somewhere unexpected.
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	return nil
}

// Validate checks the URL, headers, content type and timeout, and executes
// the body template once on a sample message.
func (w *Webhook) Validate() error {
	if w.URL == "" {
		return errors.New("webhook: url is required")
	}
	u, err := url.Parse(w.endpoint)
	if err != nil {
		return fmt.Errorf("webhook: invalid url %s: %v", w.display, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("webhook: url %s: scheme must be http or https", w.display)
	}
	if u.Host == "" {
		return fmt.Errorf("webhook: url %s has no host", w.display)
	}
	for name := range w.Headers {
		if !validHeaderName(name) {
			return fmt.Errorf("webhook: invalid header name %q", name)
		}
		if strings.EqualFold(name, "Content-Type") {
			return errors.New("webhook: set the content type with content_type, not headers")
		}
	}
	for name, values := range w.header {
		for _, v := range values {
			if strings.ContainsAny(v, "\r\n\x00") {
				return fmt.Errorf("webhook: header %s: value contains a line break or NUL", name)
			}
		}
	}
	mediaType, _, err := mime.ParseMediaType(w.ContentType)
	if err != nil {
		return fmt.Errorf("webhook: invalid content_type %q: %v", w.ContentType, err)
	}
	if w.Timeout < 0 {
		return fmt.Errorf("webhook: timeout must be positive, got %s", time.Duration(w.Timeout))
	}

	body, err := w.render(sampleMessage)
	if err != nil {
		return fmt.Errorf("webhook: body_template: %v", err)
	}
	if isJSONMediaType(mediaType) && !json.Valid(body) {
		return fmt.Errorf("webhook: body_template does not yield valid JSON for content type %s: %s", mediaType, body)
	}
	return nil
}

// Cleanup closes idle connections to the provider.
func (w *Webhook) Cleanup() error {
	if w.client != nil {
		w.client.CloseIdleConnections()
	}
	return nil
}

// Send POSTs the rendered body once. It succeeds on a 2xx answer; the error
// otherwise names the status (never the code or the text).
func (w *Webhook) Send(ctx context.Context, m challenge.Message) error {
	start := time.Now()
	status, err := w.post(ctx, m)
	fields := []zap.Field{
		zap.String("to", maskTo(m)),
		zap.String("method", string(m.Method)),
		zap.String("challenge_id", m.ChallengeID),
		zap.Int("status", status),
		zap.Duration("duration", time.Since(start)),
	}
	if err != nil {
		w.logger.Error("webhook send failed", append(fields, zap.Error(err))...)
		return err
	}
	w.logger.Info("webhook sent", fields...)
	return nil
}

// post renders the body, sends it and returns the status (0 when no answer
// arrived).
func (w *Webhook) post(ctx context.Context, m challenge.Message) (int, error) {
	if m.To == "" {
		return 0, errors.New("webhook: message has no destination")
	}
	body, err := w.render(m)
	if err != nil {
		return 0, fmt.Errorf("webhook: rendering body: %v", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.endpoint, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("webhook %s: %v", w.display, err)
	}
	req.Header = w.header.Clone()
	if host := req.Header.Get("Host"); host != "" {
		req.Host = host // net/http ignores a Host entry in Header
		req.Header.Del("Host")
	}

	resp, err := w.client.Do(req)
	if err != nil {
		// *url.Error repeats the full URL, which may carry a token.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return 0, fmt.Errorf("webhook %s: %w", w.display, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxWebhookResponse))

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("webhook %s: provider answered %s", w.display, resp.Status)
	}
	return resp.StatusCode, nil
}

// render executes the body template with m.
func (w *Webhook) render(m challenge.Message) ([]byte, error) {
	var buf bytes.Buffer
	if err := w.tmpl.Execute(&buf, m); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// UnmarshalCaddyfile sets up the webhook sender from Caddyfile tokens. The
// dispenser is positioned on the module name. Syntax:
//
//	webhook <url> {
//		header <name> <value>
//		body_template <template>
//		content_type <media type>
//		timeout <duration>
//	}
//
// header may be repeated, once per header name.
func (w *Webhook) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // consume module name
	if !d.NextArg() {
		return d.Err("webhook: missing URL")
	}
	w.URL = d.Val()
	if d.NextArg() {
		return d.ArgErr()
	}

	for d.NextBlock(0) {
		switch d.Val() {
		case "header":
			var name, value string
			if !d.Args(&name, &value) {
				return d.ArgErr()
			}
			if d.NextArg() {
				return d.ArgErr()
			}
			if !validHeaderName(name) {
				return d.Errf("webhook: invalid header name %q", name)
			}
			if w.Headers == nil {
				w.Headers = make(map[string]string)
			}
			for existing := range w.Headers {
				if strings.EqualFold(existing, name) {
					return d.Errf("webhook: duplicate header %s", name)
				}
			}
			w.Headers[name] = value

		case "body_template":
			src, err := singleArg(d)
			if err != nil {
				return err
			}
			if _, err := parseBodyTemplate(src); err != nil {
				return d.Errf("%v", err)
			}
			w.BodyTemplate = src

		case "content_type":
			ct, err := singleArg(d)
			if err != nil {
				return err
			}
			if _, _, err := mime.ParseMediaType(ct); err != nil {
				return d.Errf("webhook: invalid content_type %q: %v", ct, err)
			}
			w.ContentType = ct

		case "timeout":
			dur, err := parseTimeout(d)
			if err != nil {
				return err
			}
			w.Timeout = dur

		default:
			return d.Errf("webhook: unrecognized subdirective %q", d.Val())
		}
	}
	return nil
}

// sampleMessage checks a body template at provision time. Its text has
// quotes, markup and non-ASCII so a template that forgets `json` fails.
var sampleMessage = challenge.Message{
	Method:      challenge.MethodSMS,
	To:          "+70000000000",
	Code:        "00000000",
	Text:        `Code "00000000" <confirms> transfer — enumgate`,
	User:        "sample-user",
	Operation:   "transfer",
	ChallengeID: "sample-challenge",
}

// parseBodyTemplate parses a webhook body template with its functions.
func parseBodyTemplate(src string) (*template.Template, error) {
	tmpl, err := template.New("body_template").
		Funcs(template.FuncMap{"json": jsonString}).
		Option("missingkey=error").
		Parse(src)
	if err != nil {
		return nil, fmt.Errorf("webhook: invalid body_template: %v", err)
	}
	return tmpl, nil
}

// jsonString encodes v as JSON without HTML escaping.
func jsonString(v any) (string, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSuffix(buf.String(), "\n"), nil
}

// isJSONMediaType reports whether a media type is JSON.
func isJSONMediaType(mt string) bool {
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

// redactURL drops userinfo, query and fragment, which may carry secrets.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(invalid url)"
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
}

// validHeaderName reports whether name is an RFC 9110 token.
func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// singleArg reads a subdirective's one and only argument.
func singleArg(d *caddyfile.Dispenser) (string, error) {
	if !d.NextArg() {
		return "", d.ArgErr()
	}
	val := d.Val()
	if d.NextArg() {
		return "", d.ArgErr()
	}
	return val, nil
}

// parseTimeout reads the timeout subdirective's positive duration.
func parseTimeout(d *caddyfile.Dispenser) (caddy.Duration, error) {
	val, err := singleArg(d)
	if err != nil {
		return 0, err
	}
	dur, err := caddy.ParseDuration(val)
	if err != nil {
		return 0, d.Errf("invalid timeout %q: %v", val, err)
	}
	if dur <= 0 {
		return 0, d.Errf("timeout must be positive, got %q", val)
	}
	return caddy.Duration(dur), nil
}

// Interface guards
var (
	_ caddy.Provisioner     = (*Webhook)(nil)
	_ caddy.Validator       = (*Webhook)(nil)
	_ caddy.CleanerUpper    = (*Webhook)(nil)
	_ caddyfile.Unmarshaler = (*Webhook)(nil)
	_ challenge.Sender      = (*Webhook)(nil)
)
