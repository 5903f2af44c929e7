package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on body parsing.
const (
	maxJSONDepth      = 64
	maxMultipartParts = 256
	maxPartValueLen   = 64 << 10
	maxDisplayRunes   = 128
)

// Decision is the outcome of evaluating a matched request.
type Decision struct {
	// Protected is true if the request needs confirmation.
	Protected bool
	// FailClosed is true if Protected is true only because a condition
	// could not be decided (missing or ambiguous field, unparseable body,
	// ordering comparison on a non-number).
	FailClosed bool
	// Amount and Payee are the display values of the rule's AmountField and
	// PayeeField: at most 128 runes, control and format characters removed.
	// They are empty when the rule names no such field, the field is missing
	// or ambiguous or not a string, number or boolean, or the body cannot be
	// parsed.
	Amount, Payee string
	// Reason says in a few words why the request is or is not protected,
	// for logs and the journal. It never contains body values.
	Reason string
}

// Evaluate is EvaluateRequest without a query string. Callers that have the
// request URL should use EvaluateRequest, so that a field that is also
// present in the query string is detected as ambiguous.
func (c *Compiled) Evaluate(contentType string, body []byte) (Decision, error) {
	return c.EvaluateRequest(contentType, "", body)
}

// EvaluateRequest decides, from the request's Content-Type, raw query string
// (r.URL.RawQuery) and bounded, already read body, whether a request that
// matched c is protected, and extracts the amount and payee to display.
//
// # Body formats
//
//   - application/json, text/json and any */*+json type (charset, if
//     given, must be UTF-8): a dotted field walks through objects, and
//     through arrays by decimal index ("items.0.sum").
//   - application/x-www-form-urlencoded: the field is the form key as
//     written ("amount", "payee.wallet"; "payee[wallet]" is accepted as
//     the same key).
//   - multipart/form-data: like a form, from the parts that are not files
//     (at most 256 parts, 64 KiB per value).
//   - no Content-Type: JSON if the body is valid JSON, else unparseable.
//   - anything else: unparseable.
//
// Query parameters are a further source, read like a form. A field is found
// when exactly one occurrence exists across query and body; it is ambiguous
// when it occurs more than once (repeated form keys, duplicate JSON keys,
// both in query and body) or occurs under a look-alike key that an upstream
// might take for it (a different case, as Go's encoding/json matches keys
// case-insensitively; surrounding spaces; bracket notation). A body whose
// declared type is not JSON but which is a valid JSON object or array is
// unparseable too, since an upstream may ignore the declared type.
//
// # Conditions
//
// All conditions must hold for the request to be protected. A condition
// compares numerically when both sides are decimal numbers (JSON numbers, or
// strings like "1000.50", "+5", ".5", "1e3"; at most 64 characters; no
// spaces, thousands separators, hex, Infinity or NaN), exactly and without
// rounding, so "1e3" is 1000 and 1000.000000000000000001 > 1000. Otherwise
// "==" holds when the texts are equal ignoring case and surrounding spaces,
// "!=" when they are not byte-for-byte identical, and an ordering operator
// cannot be decided. JSON true and false compare as the texts "true" and
// "false".
//
// # Failing closed
//
// If the body is needed and cannot be parsed, or any condition cannot be
// decided (its field is missing, ambiguous, null, an object or an array, or
// an ordering operator meets a non-number), the request is protected with
// FailClosed set, even if another condition is false. This is not an error:
// the body is the client's, and a malformed or surprising body is a reason
// to ask the user, never a reason to forward unconfirmed or to fail the
// request; the upstream still receives the body exactly as sent and judges
// it. Amount and Payee stay empty when the body cannot be parsed; when it
// can, each is shown if its own field was found exactly once, even if a
// condition failed closed.
//
// The error is non-nil only for misuse (a nil receiver); the Decision then
// still says Protected.
func (c *Compiled) EvaluateRequest(contentType, rawQuery string, body []byte) (Decision, error) {
	if c == nil {
		return Decision{Protected: true, FailClosed: true, Reason: "no rule"}, errors.New("policy: Evaluate on a nil rule")
	}
	if !c.NeedsBody() {
		return Decision{Protected: true, Reason: "rule has no conditions"}, nil
	}
	src, err := parseSources(contentType, rawQuery, body)
	if err != nil {
		return Decision{Protected: true, FailClosed: len(c.conds) > 0, Reason: err.Error()}, nil
	}
	d := Decision{Protected: true, Reason: "all conditions hold"}
	if len(c.conds) == 0 {
		d.Reason = "rule has no conditions"
	}
	var undecided string
	for i := range c.conds {
		cond := &c.conds[i]
		v, why := src.lookup(cond.Field)
		if why != "" {
			if undecided == "" {
				undecided = fmt.Sprintf("field %s %s", cond.Field, why)
			}
			continue
		}
		holds, ok := cond.eval(v)
		switch {
		case !ok:
			if undecided == "" {
				undecided = fmt.Sprintf("field %s is not a number for %s", cond.Field, cond.Op)
			}
		case !holds && d.Protected:
			d.Protected = false
			d.Reason = "condition " + cond.Field + " " + cond.Op + " " + strconv.Quote(cond.Value) + " does not hold"
		}
	}
	if undecided != "" {
		d.Protected, d.FailClosed, d.Reason = true, true, "fail closed: "+undecided
	}
	if f := c.Rule.AmountField; f != "" {
		if v, why := src.lookup(f); why == "" {
			d.Amount = sanitizeDisplay(v)
		}
	}
	if f := c.Rule.PayeeField; f != "" {
		if v, why := src.lookup(f); why == "" {
			d.Payee = sanitizeDisplay(v)
		}
	}
	return d, nil
}

// sources holds the parsed query and body. At most one of form and json is
// set for the body.
type sources struct {
	query url.Values
	form  url.Values // form or multipart body
	json  *jnode     // JSON body
}

func parseSources(contentType, rawQuery string, body []byte) (*sources, error) {
	s := &sources{}
	if rawQuery != "" {
		q, err := url.ParseQuery(rawQuery)
		if err != nil {
			return nil, errors.New("query string cannot be parsed")
		}
		s.query = q
	}
	if len(body) == 0 {
		return s, nil
	}
	if strings.TrimSpace(contentType) == "" {
		n, err := parseJSON(body)
		if err != nil {
			return nil, errors.New("body without content type is not JSON")
		}
		s.json = n
		return s, nil
	}
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return nil, errors.New("content type cannot be parsed")
	}
	switch {
	case mt == "application/json" || mt == "text/json" || strings.HasSuffix(mt, "+json"):
		if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "utf8") {
			return nil, errors.New("JSON body is not UTF-8")
		}
		n, err := parseJSON(body)
		if err != nil {
			return nil, errors.New("JSON body cannot be parsed")
		}
		s.json = n
	case mt == "application/x-www-form-urlencoded":
		if looksLikeJSON(body) {
			return nil, errors.New("form body is also valid JSON")
		}
		f, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, errors.New("form body cannot be parsed")
		}
		s.form = f
	case mt == "multipart/form-data":
		f, err := parseMultipart(body, params["boundary"])
		if err != nil {
			return nil, errors.New("multipart body cannot be parsed")
		}
		s.form = f
	default:
		return nil, errors.New("body type is not JSON, form or multipart")
	}
	return s, nil
}

// looksLikeJSON reports whether body is a valid JSON object or array.
func looksLikeJSON(body []byte) bool {
	t := bytes.TrimLeft(body, " \t\r\n")
	return len(t) > 0 && (t[0] == '{' || t[0] == '[') && json.Valid(body)
}

func parseMultipart(body []byte, boundary string) (url.Values, error) {
	if boundary == "" {
		return nil, errors.New("no boundary")
	}
	r := multipart.NewReader(bytes.NewReader(body), boundary)
	vals := url.Values{}
	for n := 0; ; n++ {
		part, err := r.NextPart()
		if err == io.EOF {
			return vals, nil
		}
		if err != nil {
			return nil, err
		}
		if n >= maxMultipartParts {
			return nil, errors.New("too many parts")
		}
		if cte := part.Header.Get("Content-Transfer-Encoding"); cte != "" {
			switch strings.ToLower(cte) {
			case "7bit", "8bit", "binary":
			default:
				return nil, errors.New("unsupported transfer encoding")
			}
		}
		name := part.FormName()
		if name == "" || part.FileName() != "" {
			if _, err := io.Copy(io.Discard, part); err != nil {
				return nil, err
			}
			continue
		}
		v, err := io.ReadAll(io.LimitReader(part, maxPartValueLen+1))
		if err != nil {
			return nil, err
		}
		if len(v) > maxPartValueLen {
			return nil, errors.New("part too large")
		}
		vals[name] = append(vals[name], string(v))
	}
}

// lookup finds field across the sources. why is "" when the field was found
// exactly once with a scalar value; otherwise it says what went wrong.
func (s *sources) lookup(field string) (text, why string) {
	var found []string
	for _, vals := range []url.Values{s.query, s.form} {
		vs, lookalike := formLookup(vals, field)
		if lookalike {
			return "", "is ambiguous"
		}
		found = append(found, vs...)
	}
	if s.json != nil {
		n, state := s.json.walk(field)
		switch state {
		case walkAmbiguous:
			return "", "is ambiguous"
		case walkFound:
			if n.kind == jObject || n.kind == jArray || n.kind == jNull {
				return "", "is not a string, number or boolean"
			}
			found = append(found, n.text)
		}
	}
	switch len(found) {
	case 0:
		return "", "is missing"
	case 1:
		return found[0], ""
	default:
		return "", "is ambiguous"
	}
}

// formLookup returns the values of key field in vals, where "a[b]" is the
// same key as "a.b". lookalike is true if a key that an upstream might read
// as field, but that is not spelled so, is present: one that differs in
// case or surrounding spaces, or that makes field an array or map in PHP
// and Rails ("amount[]", "amount[x]").
func formLookup(vals url.Values, field string) (values []string, lookalike bool) {
	for k, vs := range vals {
		if k == field || bracketsToDots(k) == field {
			values = append(values, vs...)
			continue
		}
		t := strings.TrimSpace(k)
		if strings.EqualFold(strings.TrimSpace(bracketsToDots(t)), field) {
			return nil, true
		}
		if len(t) > len(field) && t[len(field)] == '[' && strings.EqualFold(t[:len(field)], field) {
			return nil, true
		}
	}
	return values, false
}

// bracketsToDots rewrites "a[b][c]" as "a.b.c"; other keys are returned
// unchanged.
func bracketsToDots(k string) string {
	i := strings.IndexByte(k, '[')
	if i <= 0 || !strings.HasSuffix(k, "]") {
		return k
	}
	var b strings.Builder
	b.WriteString(k[:i])
	rest := k[i:]
	for rest != "" {
		if rest[0] != '[' {
			return k
		}
		j := strings.IndexByte(rest, ']')
		if j < 0 {
			return k
		}
		seg := rest[1:j]
		if seg == "" || strings.ContainsAny(seg, "[.") {
			return k
		}
		b.WriteByte('.')
		b.WriteString(seg)
		rest = rest[j+1:]
	}
	return b.String()
}

// sanitizeDisplay makes a body value safe to show on a page: invalid UTF-8
// becomes U+FFFD; control characters, format characters (bidi overrides,
// zero-width characters) and line/paragraph separators are removed;
// surrounding spaces are trimmed; and the result is cut to 128 runes, the
// last being "…" if anything was cut.
func sanitizeDisplay(s string) string {
	var b strings.Builder
	for _, r := range s {
		if unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp) {
			continue
		}
		b.WriteRune(r)
	}
	out := strings.TrimSpace(b.String())
	if utf8.RuneCountInString(out) > maxDisplayRunes {
		out = string([]rune(out)[:maxDisplayRunes-1]) + "…"
	}
	return out
}
