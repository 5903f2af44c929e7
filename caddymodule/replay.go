package caddymodule

import (
	"bytes"
	"crypto/subtle"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/enumgate/enumgate/challenge"
)

// maxOriginLen bounds an allowed_origins entry.
const maxOriginLen = 255

// normalizeOrigin returns an origin ("https://app.example.com",
// "http://localhost:8080") in the form browsers send it, or an error.
func normalizeOrigin(s string) (string, error) {
	if len(s) > maxOriginLen {
		return "", fmt.Errorf("origin %q is too long", s)
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("origin %q must be scheme://host[:port], e.g. https://app.example.com", s)
	}
	return u.Scheme + "://" + strings.ToLower(u.Host), nil
}

// crossSite reports whether a protected request was started by another
// site: the browser says so in Sec-Fetch-Site, or its Origin is neither
// this site's nor one of the allowed origins. Requests without those
// headers (API clients, old browsers) are not cross-site.
func (h *Handler) crossSite(r *http.Request) bool {
	if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		return true
	}
	origins := r.Header.Values("Origin")
	switch len(origins) {
	case 0:
		return false
	case 1:
	default:
		return true
	}
	o := origins[0]
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return true // includes "null", sent by sandboxed and privacy-sensitive contexts
	}
	if strings.EqualFold(u.Host, r.Host) {
		return false
	}
	norm := u.Scheme + "://" + strings.ToLower(u.Host)
	for _, a := range h.allowedOrigins {
		if norm == a {
			return false
		}
	}
	return true
}

// stripConfirmedTrailer removes a client's Enumgate-Confirmed trailer:
// trailers arrive only after the body, so the key is removed now (from the
// declared trailers) and again when the body has been read to its end.
func stripConfirmedTrailer(r *http.Request) {
	delete(r.Trailer, challenge.ConfirmedHeader)
	delete(r.Trailer, challenge.ApprovedHeader)
	r.Body = &trailerStripper{ReadCloser: r.Body, r: r}
}

// trailerStripper deletes the Enumgate-Confirmed trailer of r once its
// body is read to the end, when net/http has filled in the trailers.
type trailerStripper struct {
	io.ReadCloser
	r *http.Request
}

func (t *trailerStripper) Read(p []byte) (int, error) {
	n, err := t.ReadCloser.Read(p)
	if err != nil {
		delete(t.r.Trailer, challenge.ConfirmedHeader)
		delete(t.r.Trailer, challenge.ApprovedHeader)
	}
	return n, err
}

// authPlaceholders are carried from the answering request into the
// replayed one: the user is the same (the engine checked it), and
// handlers after enumgate (e.g. reverse_proxy's header_up) may use them.
var authPlaceholders = []string{"http.auth.user.id"}

// stashRequest builds the request to forward from the stash alone: its
// method, target, host, headers and body, a Content-Length of the stashed
// body and no trailers; nothing of the answering request's headers,
// framing or trailers. The context keeps the answering request's
// server, but gets a fresh replacer and vars bound to the stashed
// request, so handlers and logs after the replay see its placeholders.
func (h *Handler) stashRequest(w http.ResponseWriter, r *http.Request, conf *challenge.Confirmation) (*http.Request, error) {
	st := conf.Stash
	u, err := url.ParseRequestURI(st.URI)
	if err != nil {
		return nil, fmt.Errorf("stashed URI: %w", err)
	}
	body := st.Body
	out := &http.Request{
		Method:     st.Method,
		URL:        u,
		RequestURI: st.URI,
		Host:       st.Host,
		Proto:      st.Proto,
		RemoteAddr: st.RemoteAddr,
		Header:     st.Header.Clone(),
		Body:       io.NopCloser(bytes.NewReader(body)),
		GetBody: func() (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(body)), nil
		},
		ContentLength: int64(len(body)),
		TLS:           r.TLS,
	}
	if out.Proto == "" {
		out.Proto = r.Proto
	}
	out.ProtoMajor, out.ProtoMinor, _ = http.ParseHTTPVersion(out.Proto)
	if out.Header == nil {
		out.Header = make(http.Header)
	}
	for _, k := range []string{"Transfer-Encoding", "Trailer", "Te", "Content-Length", "Expect"} {
		delete(out.Header, k)
	}
	if len(body) > 0 || methodHasBody(st.Method) {
		out.Header.Set("Content-Length", strconv.Itoa(len(body)))
	}
	if len(body) == 0 {
		out.Body = http.NoBody
	}
	out.Header.Set(challenge.ConfirmedHeader, conf.Header)

	out = out.WithContext(r.Context())
	old, _ := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	if srv, ok := r.Context().Value(caddyhttp.ServerCtxKey).(*caddyhttp.Server); ok {
		repl := caddy.NewReplacer()
		out = caddyhttp.PrepareRequest(out, repl, w, srv)
		// The replay is the confirmed user's request. Their identity is
		// carried from the answering request when that is theirs; when
		// someone else answered (an approver deciding a four-eyes
		// approval) the placeholders name the confirmed user instead, so
		// e.g. header_up X-User {http.auth.user.id} never hands the
		// operation to the approver.
		own := h.subject(r).User == conf.User
		for _, k := range h.carriedPlaceholders() {
			if !own {
				repl.Set(k, conf.User)
			} else if old != nil {
				if v, ok := old.Get(k); ok {
					repl.Set(k, v)
				}
			}
		}
	}
	return out, nil
}

// carriedPlaceholders are the placeholders copied from the answering
// request's replacer into the replayed request's: the authenticated
// user, and the handler's user placeholder when it is a plain {name}
// not derived from the request itself.
func (h *Handler) carriedPlaceholders() []string {
	keys := authPlaceholders
	if k, ok := strings.CutPrefix(h.User, "{"); ok {
		if k, ok = strings.CutSuffix(k, "}"); ok && !strings.ContainsAny(k, "{}") &&
			!strings.HasPrefix(k, "http.request.") && k != authPlaceholders[0] {
			keys = append(keys[:len(keys):len(keys)], k)
		}
	}
	return keys
}

// methodHasBody reports whether requests of method m conventionally have
// a body, so an empty one is sent with Content-Length: 0.
func methodHasBody(m string) bool {
	switch m {
	case http.MethodPost, http.MethodPut, http.MethodPatch:
		return true
	}
	return false
}

// replay sends the confirmed, stashed request to the next handler (see
// stashRequest), with the signed Enumgate-Confirmed header and
// Idempotency-Key: <challenge id>. The next handler's response is the
// response to the answer. If the next handler fails before writing
// anything (reverse_proxy's dial error, 502/503/504, timeout), the
// confirmation is kept as not delivered: the customer is told so and may
// have it delivered again, with the same id and header; once the upstream
// has answered, never again.
func (h *Handler) replay(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler, conf *challenge.Confirmation) error {
	out, err := h.stashRequest(w, r, conf)
	if err != nil {
		h.logger.Error("confirmed request cannot be rebuilt", zap.String("challenge", conf.Challenge.ID), zap.Error(err))
		h.settle(r, conf, false)
		return h.fail(w, r, "unavailable")
	}
	out.Header.Set("Idempotency-Key", conf.Challenge.ID)
	w.Header().Set("Enumgate-Result", "confirmed")
	if wantsHTML(r) {
		h.rememberMethod(w, r, conf)
	}
	rec := &deliveryRecorder{ResponseWriterWrapper: &caddyhttp.ResponseWriterWrapper{ResponseWriter: w}}
	if sec, ok := h.sectionOf(conf.Challenge.Operation); ok {
		h.openSection(r, conf, sec)
	}
	if h.ownPath(conf.Stash.URI) {
		// A confirmed change of the customer's own account: carried out
		// here, never sent to the upstream.
		err = h.serveOwn(rec, out.WithContext(withConfirmation(out.Context(), conf)), next)
	} else {
		err = next.ServeHTTP(rec, out)
	}
	if rec.wrote || err == nil {
		// (No body and no explicit status is an answer too: 200.)
		h.settle(r, conf, true)
		if c := conf.Challenge; c != nil {
			h.remember(r, conf.User, c.Payee, c.Amount, c.Currency, true)
		}
		return err
	}
	h.logger.Warn("confirmed request not delivered: the upstream failed before answering; the customer may try again",
		zap.String("challenge", conf.Challenge.ID), zap.String("user", conf.User), zap.Error(err))
	h.settle(r, conf, false)
	w.Header().Del("Set-Cookie")
	w.Header().Set("Enumgate-Result", "not_delivered")
	return h.notDelivered(w, r, conf.Challenge)
}

// settle records the delivery's outcome; a failure to record it is
// logged (the lease then ends by itself).
func (h *Handler) settle(r *http.Request, conf *challenge.Confirmation, delivered bool) {
	if err := h.engine.Settle(r.Context(), conf, delivered); err != nil {
		h.logger.Error("recording the delivery of a confirmation failed", zap.String("challenge", conf.Challenge.ID), zap.Bool("delivered", delivered), zap.Error(err))
	}
}

// notDeliveredRetry is the retry_in of a not_delivered answer.
const notDeliveredRetry = 2

// notDelivered tells the customer the confirmation stands but the bank did
// not answer: a page with "Try again", or 502 not_delivered.
func (h *Handler) notDelivered(w http.ResponseWriter, r *http.Request, c *challenge.Challenge) error {
	if !wantsHTML(r) {
		return h.refuse(w, r, refusal{code: "not_delivered", n: notDeliveredRetry})
	}
	w.Header().Set("Retry-After", strconv.Itoa(notDeliveredRetry))
	who := h.subject(r)
	cat := h.pages.langs.negotiate(r.Header.Get("Accept-Language"))
	d := h.pages.data(cat, h.Prefix)
	d.ErrorCode, d.Error = "not_delivered", cat.text("error.not_delivered")
	d.Action, d.Token = h.Prefix+"challenge/"+c.ID, h.engine.FormToken(c.ID, who)
	d.Deliver = true
	if rt := returnTo(c.ReturnTo); rt != "" {
		d.Home = rt
	}
	return h.pages.render(w, http.StatusBadGateway, "error.html", d)
}

// deliveryRecorder notes whether the next handler wrote a response.
type deliveryRecorder struct {
	*caddyhttp.ResponseWriterWrapper
	wrote bool
}

func (d *deliveryRecorder) WriteHeader(status int) {
	if status >= 200 || status == http.StatusSwitchingProtocols {
		d.wrote = true
	}
	d.ResponseWriterWrapper.WriteHeader(status)
}

func (d *deliveryRecorder) Write(b []byte) (int, error) {
	d.wrote = true
	return d.ResponseWriterWrapper.Write(b)
}

func (d *deliveryRecorder) ReadFrom(rd io.Reader) (int64, error) {
	d.wrote = true
	return d.ResponseWriterWrapper.ReadFrom(rd)
}

// lastMethodCookie remembers, in the customer's browser, the method of
// their last successful confirmation, so the next one starts with it.
const lastMethodCookie = "enumgate_method"

// lastMethodTag binds the remembered method to the user, so another
// user of the same browser does not get it.
func (h *Handler) lastMethodTag(user string, m challenge.Method) string {
	return h.engine.FormToken("last-method\x00"+string(m), challenge.Subject{User: user})[:16]
}

// rememberMethod sets the last-method cookie after a confirmation.
func (h *Handler) rememberMethod(w http.ResponseWriter, r *http.Request, conf *challenge.Confirmation) {
	http.SetCookie(w, &http.Cookie{
		Name: lastMethodCookie, Value: string(conf.Method) + "." + h.lastMethodTag(conf.User, conf.Method),
		Path: "/", MaxAge: 365 * 24 * 3600, HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode,
	})
}

// lastMethod returns the method the customer last confirmed with, if the
// browser remembers one for this user and the challenge offers it.
func (h *Handler) lastMethod(r *http.Request, user string, c *challenge.Challenge) (challenge.Method, bool) {
	ck, err := r.Cookie(lastMethodCookie)
	if err != nil || len(ck.Value) > 64 {
		return "", false
	}
	name, tag, ok := strings.Cut(ck.Value, ".")
	m, err := challenge.ParseMethod(name)
	if !ok || err != nil || !slices.Contains(c.Methods, m) || subtle.ConstantTimeCompare([]byte(tag), []byte(h.lastMethodTag(user, m))) != 1 {
		return "", false
	}
	return m, true
}
