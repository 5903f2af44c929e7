package demo

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
)

// Input bounds.
const (
	maxBody     = 64 << 10 // bytes of a POST body
	maxPayeeLen = 64       // bytes of to, card or wallet
	maxNameLen  = 100      // characters of a correspondent's name
)

// kind describes one of the three operations.
type kind struct {
	op     string // the recorded operation name
	payee  string // the field naming the payee
	amount bool   // whether an amount is required
	name   bool   // whether a name is required
}

var (
	kindTransfer      = kind{op: "transfer", payee: "to", amount: true}
	kindWithdrawal    = kind{op: "withdrawal", payee: "card", amount: true}
	kindCorrespondent = kind{op: "new_correspondent", payee: "wallet", name: true}
)

// created is the body of a 201 answer to a JSON post.
type created struct {
	ID          string `json:"id"`
	Operation   string `json:"operation"`
	To          string `json:"to"`
	Amount      string `json:"amount"`
	Status      string `json:"status"`
	ConfirmedBy string `json:"confirmed_by"`
}

// listed is one element of GET /operations as JSON: created plus "at".
type listed struct {
	created
	At string `json:"at"`
}

func (op *operation) created() created {
	return created{ID: op.ID, Operation: op.Operation, To: op.To, Amount: op.Amount,
		Status: op.Status, ConfirmedBy: op.ConfirmedBy}
}

func (op *operation) listed() listed {
	return listed{created: op.created(), At: op.At.UTC().Format(time.RFC3339)}
}

// apiError is the body of every JSON error.
type apiError struct {
	Error   string `json:"error"`
	Message string `json:"message,omitempty"`
}

// badRequest is an input error whose message is shown to the client.
type badRequest struct {
	status   int
	code     string
	msg      string
	replayed bool // the confirmation's challenge id was seen already
}

func (e *badRequest) Error() string { return e.msg }

func invalid(format string, args ...any) *badRequest {
	return &badRequest{status: http.StatusBadRequest, code: "bad_request", msg: fmt.Sprintf(format, args...)}
}

// home serves the home page.
func (a *App) home(w http.ResponseWriter, r *http.Request) error {
	u, err := a.requireUser(w, r)
	if u == "" {
		return err
	}
	return a.render(w, http.StatusOK, "home", page{Title: "Home", User: u, Data: PhoneURL})
}

// operate returns the handler that performs operations of kind k.
func (a *App) operate(k kind) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		u, err := a.requireUser(w, r)
		if u == "" {
			return err
		}
		// A delivery again of an operation performed already (same
		// Idempotency-Key, same user) gets the first response: before the
		// replay check, which would refuse the challenge id seen.
		key, bad := idempotencyKey(r)
		if bad != nil {
			return a.fail(w, r, bad.status, bad.code, bad.msg)
		}
		if e := a.state.idem.lookup(u, key, a.now()); key != "" && e != nil {
			return a.repeat(w, r, u, key, e)
		}
		// The execution is reserved under the key and the challenge id
		// (so that a delivery again is known even if the first had no
		// key) before the header is checked: concurrent deliveries of one
		// confirmation wait for the first instead of seeing it as a
		// replay. Only a header the gateway signed reserves anything.
		// Without a key, a header seen is a replay, refused below.
		var entry *idemEntry
		if cid, ok := a.signedChallenge(r); ok && key != "" {
			e, fresh := a.state.idem.reserve(u, cid, []string{key, cid}, a.now())
			if !fresh {
				return a.repeat(w, r, u, key, e)
			}
			entry = e
		}
		// Confirmation first: without it the request is not even read.
		c, refused := a.confirmed(r)
		if refused != nil {
			if entry != nil {
				a.state.idem.abandon(entry)
			}
			if e := a.state.idem.lookup(u, key, a.now()); key != "" && refused.replayed && e != nil {
				return a.repeat(w, r, u, key, e)
			}
			return a.fail(w, r, refused.status, refused.code, refused.msg)
		}
		if entry == nil {
			// Remembered under the challenge id, so that a delivery again
			// with Idempotency-Key: <challenge id> is known.
			e, fresh := a.state.idem.reserve(u, c.ChallengeID, []string{key, c.ChallengeID}, a.now())
			if !fresh {
				return a.repeat(w, r, u, key, e)
			}
			entry = e
		}
		by := c.Method
		rec := &recorder{ResponseWriter: w}
		w = rec
		defer func() { a.state.idem.finish(entry, rec.result()) }()
		op, err := readOperation(w, r, k)
		if br, ok := errors.AsType[*badRequest](err); ok {
			return a.fail(w, r, br.status, br.code, br.msg)
		} else if err != nil {
			return caddyhttp.Error(http.StatusInternalServerError, err)
		}
		op.User = u
		op.Status = "completed"
		op.At = a.now()
		op.ConfirmedBy = by
		for {
			if op.ID, err = newID(); err != nil {
				return caddyhttp.Error(http.StatusInternalServerError, err)
			}
			if a.state.add(op) {
				break
			}
		}
		a.logger.Info("operation completed",
			zap.String("id", op.ID), zap.String("operation", op.Operation),
			zap.String("user", u), zap.String("confirmed_by", op.ConfirmedBy))
		if respondJSON(r) {
			return writeJSON(w, http.StatusCreated, op.created())
		}
		http.Redirect(w, r, "/receipt/"+op.ID, http.StatusSeeOther)
		return nil
	}
}

// readOperation reads and validates the body of an operation of kind k.
func readOperation(w http.ResponseWriter, r *http.Request, k kind) (*operation, error) {
	form, err := readFields(w, r)
	if err != nil {
		return nil, err
	}
	op := &operation{Operation: k.op}
	if op.To, err = text(form, k.payee, maxPayeeLen); err != nil {
		return nil, err
	}
	if k.amount {
		a, ok := form["amount"]
		if !ok || strings.TrimSpace(a) == "" {
			return nil, invalid("amount is required")
		}
		cents, err := parseAmount(a)
		if err != nil {
			return nil, invalid("%v", err)
		}
		op.Amount = formatAmount(cents)
	}
	if k.name {
		if op.Name, err = text(form, "name", maxNameLen); err != nil {
			return nil, err
		}
	}
	return op, nil
}

// readFields reads a form-encoded or JSON body (at most maxBody bytes)
// into field values. In JSON, amount may be a number or a string; the
// other fields are strings. A form field given twice is refused.
func readFields(w http.ResponseWriter, r *http.Request) (map[string]string, error) {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	json := isJSONType(ct)
	if ct != "application/x-www-form-urlencoded" && !json {
		return nil, &badRequest{status: http.StatusUnsupportedMediaType, code: "unsupported_media_type",
			msg: "send application/x-www-form-urlencoded or application/json"}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, invalid("request body is larger than %d KiB", maxBody>>10)
		}
		return nil, invalid("reading request body: %v", err)
	}
	if json {
		return jsonFields(body)
	}
	vals, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, invalid("malformed form data")
	}
	fields := make(map[string]string, len(vals))
	for k, v := range vals {
		if len(v) > 1 {
			return nil, invalid("%s given more than once", k)
		}
		fields[k] = v[0]
	}
	return fields, nil
}

// jsonFields decodes a JSON object whose values are strings, or, for
// amount, a number. Unknown members are ignored; null counts as absent.
func jsonFields(body []byte) (map[string]string, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil || raw == nil {
		return nil, invalid("body must be a JSON object")
	}
	fields := make(map[string]string, len(raw))
	for _, k := range []string{"to", "card", "wallet", "name", "amount"} {
		v, ok := raw[k]
		if !ok || string(v) == "null" {
			continue
		}
		var s string
		if err := json.Unmarshal(v, &s); err == nil {
			fields[k] = s
			continue
		}
		if k == "amount" {
			var n json.Number
			if err := json.Unmarshal(v, &n); err == nil {
				fields[k] = n.String()
				continue
			}
			return nil, invalid("amount must be a number or a string")
		}
		return nil, invalid("%s must be a string", k)
	}
	return fields, nil
}

func isJSONType(ct string) bool {
	return ct == "application/json" || (strings.HasPrefix(ct, "application/") && strings.HasSuffix(ct, "+json"))
}

// text returns the trimmed, required field name, of at most max
// characters, printable.
func text(fields map[string]string, name string, max int) (string, error) {
	v := strings.TrimSpace(fields[name])
	switch {
	case v == "":
		return "", invalid("%s is required", name)
	case !utf8.ValidString(v) || !printable(v):
		return "", invalid("%s must be printable text", name)
	case utf8.RuneCountInString(v) > max:
		return "", invalid("%s must be at most %d characters", name, max)
	}
	return v, nil
}

// printable reports whether s is valid UTF-8 without control characters.
func printable(s string) bool {
	for _, c := range s {
		if c == utf8.RuneError || unicode.IsControl(c) {
			return false
		}
	}
	return true
}

// newID returns a random operation id: 12 lowercase hex digits.
func newID() (string, error) {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generating operation id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// receipt serves GET /receipt/{id}: one of the user's operations.
func (a *App) receipt(w http.ResponseWriter, r *http.Request) error {
	u, err := a.requireUser(w, r)
	if u == "" {
		return err
	}
	op, ok := a.state.get(u, strings.TrimPrefix(r.URL.Path, "/receipt/"))
	if !ok {
		return a.fail(w, r, http.StatusNotFound, "not_found", "There is no such operation.")
	}
	if respondJSON(r) {
		return writeJSON(w, http.StatusOK, op.listed())
	}
	return a.render(w, http.StatusOK, "receipt", page{Title: "Receipt", User: u, Data: op})
}

// operations serves GET /operations: the user's operations, newest first.
func (a *App) operations(w http.ResponseWriter, r *http.Request) error {
	u, err := a.requireUser(w, r)
	if u == "" {
		return err
	}
	ops := a.state.list(u)
	if respondJSON(r) {
		out := make([]listed, 0, len(ops))
		for i := range ops {
			out = append(out, ops[i].listed())
		}
		return writeJSON(w, http.StatusOK, out)
	}
	return a.render(w, http.StatusOK, "operations", page{Title: "Operations", User: u, Data: ops})
}
