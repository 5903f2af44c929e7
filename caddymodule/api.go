package caddymodule

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/enumgate/enumgate/challenge"
	"github.com/enumgate/enumgate/policy"
)

// JSON bodies of the API. Field names are a contract (see README).
type (
	// operationJSON is what the customer confirms: raw values exactly as
	// the upstream receives them, and their display forms.
	operationJSON struct {
		Amount        string      `json:"amount,omitempty"`
		Currency      string      `json:"currency,omitempty"`
		AmountDisplay string      `json:"amount_display,omitempty"`
		Payee         string      `json:"payee,omitempty"`
		PayeeDisplay  string      `json:"payee_display,omitempty"`
		Fields        []fieldJSON `json:"fields,omitempty"`
		Mode          string      `json:"mode"`
	}
	fieldJSON struct {
		Name    string `json:"name"`
		Label   string `json:"label"`
		Value   string `json:"value"`
		Display string `json:"display"`
	}
	challengeCreated struct {
		ChallengeID string `json:"challenge_id"`
		Operation   string `json:"operation"`
		operationJSON
		Methods   []challenge.Method `json:"methods"`
		ExpiresIn int                `json:"expires_in"`
		Href      string             `json:"href"`
	}
	challengeView struct {
		ChallengeID string `json:"challenge_id"`
		Operation   string `json:"operation"`
		operationJSON
		Methods      []challenge.Method `json:"methods"`
		State        challenge.State    `json:"state"`
		ConfirmedAt  *time.Time         `json:"confirmed_at,omitempty"`
		Method       challenge.Method   `json:"method,omitempty"`
		AttemptsLeft int                `json:"attempts_left"`
		ExpiresIn    int                `json:"expires_in"`
	}
	methodBegun struct {
		Method   challenge.Method `json:"method"`
		Question string           `json:"question,omitempty"`
		// Mode, URI, Payee and Amount are set for enum: the E-num mode,
		// the enum: URI of the page's QR code, and in payment mode the
		// normalized payee and amount the app computes the answer from.
		Mode     string `json:"mode,omitempty"`
		URI      string `json:"uri,omitempty"`
		Payee    string `json:"payee,omitempty"`
		Amount   string `json:"amount,omitempty"`
		SentTo   string `json:"sent_to,omitempty"`
		ResendIn *int   `json:"resend_in,omitempty"`
	}
	apiError struct {
		Error        string `json:"error"`
		Message      string `json:"message"`
		AttemptsLeft *int   `json:"attempts_left,omitempty"`
		ResendIn     *int   `json:"resend_in,omitempty"`
		RetryIn      *int   `json:"retry_in,omitempty"`
	}
	methodRequest struct {
		Method string `json:"method"`
	}
	answerRequest struct {
		Answer string `json:"answer"`
	}
)

// maxAPIBody bounds the JSON bodies of API calls.
const maxAPIBody = 4 << 10

// securityHeaders are set on every response the gateway itself makes.
func securityHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	securityHeaders(w)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}

// operationJSON describes c's operation for the API, display forms in
// the language the client asks for.
func (h *Handler) operationJSON(r *http.Request, c *challenge.Challenge) operationJSON {
	lang := h.pages.langs.negotiate(r.Header.Get("Accept-Language")).lang
	o := operationJSON{
		Amount: c.Amount, Currency: c.Currency, Payee: c.Payee, PayeeDisplay: c.PayeeDisplay,
		Mode: string(c.Mode),
	}
	if c.Amount != "" {
		o.AmountDisplay = policy.FormatAmount(c.Amount, c.Currency, lang)
	}
	for _, f := range c.Fields {
		o.Fields = append(o.Fields, fieldJSON{Name: f.Name, Label: f.Label, Value: f.Value, Display: f.Display})
	}
	return o
}

// decodeBody decodes a small JSON body strictly.
func decodeBody(r *http.Request, v any) bool { return decodeJSON(r.Body, v) }

// decodeJSON decodes one small JSON value strictly: no unknown fields,
// nothing after it, at most maxAPIBody bytes.
func decodeJSON(rd io.Reader, v any) bool {
	dec := json.NewDecoder(io.LimitReader(rd, maxAPIBody+1))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return false
	}
	var extra json.RawMessage
	return dec.Decode(&extra) == io.EOF
}

func (h *Handler) serveAPI(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler, rest string) error {
	id, action, _ := strings.Cut(rest, "/")
	who := h.subject(r)
	if who.User == "" {
		return h.fail(w, r, "unauthenticated")
	}
	ctx := r.Context()
	switch action {
	case "":
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			c, err := h.engine.Get(ctx, id, who)
			if err != nil {
				return h.engineError(w, r, err, id)
			}
			v := challengeView{
				ChallengeID: c.ID, Operation: c.Operation, operationJSON: h.operationJSON(r, c),
				Methods: c.Methods, State: c.State, Method: c.Method,
				AttemptsLeft: c.AttemptsLeft, ExpiresIn: secondsUntil(c.Expires),
			}
			if !c.ConfirmedAt.IsZero() {
				at := c.ConfirmedAt.UTC()
				v.ConfirmedAt = &at
			}
			return writeJSON(w, http.StatusOK, v)
		case http.MethodDelete:
			if err := h.engine.Cancel(ctx, id, who); err != nil {
				return h.engineError(w, r, err, id)
			}
			securityHeaders(w)
			w.WriteHeader(http.StatusNoContent)
			return nil
		}
		return h.methodNotAllowed(w, r, "GET, DELETE")
	case "method":
		if r.Method != http.MethodPost {
			return h.methodNotAllowed(w, r, "POST")
		}
		var req methodRequest
		if !decodeBody(r, &req) {
			return h.refuse(w, r, refusal{code: "bad_request", key: "error.api_method", args: []any{"methods", strings.Join(methodNames(), ", ")}})
		}
		m, err := challenge.ParseMethod(req.Method)
		if err != nil {
			return h.refuse(w, r, refusal{code: "bad_request", key: "error.api_method", args: []any{"methods", strings.Join(methodNames(), ", ")}})
		}
		c, err := h.engine.BeginWith(ctx, id, who, m, h.beginOptions(r))
		if err != nil {
			return h.engineError(w, r, err, id)
		}
		out := methodBegun{Method: c.Method, Question: c.Question, SentTo: c.SentTo}
		if c.Question != "" {
			out.Mode, out.URI = string(c.Mode), enumURI(c)
			out.Payee, out.Amount = c.PaymentPurse, c.PaymentAmount
		}
		if !c.ResendAt.IsZero() {
			n := secondsUntil(c.ResendAt)
			out.ResendIn = &n
		}
		return writeJSON(w, http.StatusOK, out)
	case "answer":
		if r.Method != http.MethodPost {
			return h.methodNotAllowed(w, r, "POST")
		}
		var req answerRequest
		if !decodeBody(r, &req) {
			return h.refuse(w, r, refusal{code: "bad_request", key: "error.api_answer"})
		}
		conf, err := h.engine.Verify(ctx, id, who, req.Answer)
		if err != nil {
			return h.answerError(w, r, err, id)
		}
		return h.replay(w, r, next, conf)
	case "deliver":
		if r.Method != http.MethodPost {
			return h.methodNotAllowed(w, r, "POST")
		}
		conf, err := h.engine.Deliver(ctx, id, who)
		if err != nil {
			return h.answerError(w, r, err, id)
		}
		return h.replay(w, r, next, conf)
	}
	return h.fail(w, r, "not_found")
}
