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
	"unicode/utf8"
)

// Limits on body parsing.
const (
	maxJSONDepth      = 64
	maxMultipartParts = 256
	maxPartValueLen   = 64 << 10
)

// Decision is the outcome of evaluating a matched request.
type Decision struct {
	// Protected is true if the request needs confirmation.
	Protected bool
	// FailClosed is true if Protected is true only because a condition
	// could not be decided (missing or ambiguous field, unparseable body,
	// ordering comparison on a non-number).
	FailClosed bool
	// Amount and Payee are the values of the rule's AmountField and
	// PayeeField exactly as the upstream receives them (a JSON string
	// after unescaping, a JSON number as written, a form value after
	// percent-decoding): never cut, cleaned or masked. They are empty when
	// the rule names no such field, and whenever EvaluateRequest returns
	// an error. See EvaluateRequest for what a shown value may be.
	Amount, Payee string
	// Reason says in a few words why the request is or is not protected,
	// for logs and the journal. It never contains body values.
	Reason string
	// Currency is the amount's currency code: the rule's Currency, or the
	// value of its CurrencyField; empty if the rule has neither.
	Currency string
	// PayeeDisplay is Payee as the page shows it: masked if the rule masks
	// the payee field, otherwise Payee itself.
	PayeeDisplay string
	// Fields are the rule's Show fields, in the rule's order, with their
	// values; an optional field that the request does not have is left
	// out.
	Fields []Field
}

// Field is one shown field of a Decision.
type Field struct {
	Name    string // the rule's field name, e.g. "correspondent.name"
	Label   string // the rule's label for it
	Value   string // the value exactly as the upstream receives it
	Display string // what the page shows: Value, or Value masked
}

// ErrAmbiguous is the error every *AmbiguousError matches with errors.Is.
var ErrAmbiguous = errors.New("policy: ambiguous operation")

// AmbiguousError is the error EvaluateRequest returns for a protected
// request whose shown fields cannot be read exactly once and
// unambiguously. Such a request must be neither confirmed nor forwarded
// (the gateway answers 422 ambiguous_operation). Its text never contains
// body values.
type AmbiguousError struct {
	// Field is the rule's field that cannot be shown (a field name from
	// the rule, never a key from the body), or "" when the body as a whole
	// cannot be read.
	Field string
	// Reason says what is wrong, in a few words: "is repeated",
	// "is not a plain decimal amount", "JSON body cannot be parsed".
	Reason string
}

// Error returns "policy: ambiguous operation: field amount is repeated" or,
// for the body as a whole, "policy: ambiguous operation: JSON body cannot
// be parsed".
func (e *AmbiguousError) Error() string {
	return "policy: ambiguous operation: " + e.text()
}

func (e *AmbiguousError) text() string {
	if e.Field == "" {
		return e.Reason
	}
	return "field " + e.Field + " " + e.Reason
}

// Is reports whether target is ErrAmbiguous.
func (e *AmbiguousError) Is(target error) bool { return target == ErrAmbiguous }

// Evaluate is EvaluateRequest without a query string. Callers that have the
// request URL should use EvaluateRequest, so that a field that is also
// present in the query string is detected as ambiguous.
func (c *Compiled) Evaluate(contentType string, body []byte) (Decision, error) {
	return c.EvaluateRequest(contentType, "", body)
}

// EvaluateRequest decides, from the request's Content-Type, raw query string
// (r.URL.RawQuery) and bounded, already read body, whether a request that
// matched c is protected, and reads the fields the rule shows: amount,
// payee, currency and Show fields.
//
// # Body formats
//
//   - application/json, text/json and any */*+json type: a dotted field
//     walks through objects, and through arrays by decimal index
//     ("items.0.sum").
//   - application/x-www-form-urlencoded: the field is the form key as
//     written ("amount", "payee.wallet"; "payee[wallet]" is accepted as
//     the same key).
//   - multipart/form-data: like a form, from the parts that are not files
//     (at most 256 parts, 64 KiB per value).
//   - no Content-Type: JSON if the body is valid JSON, else unparseable.
//   - anything else: unparseable.
//
// A body is also unparseable when its Content-Type (or, in multipart, a
// part's) names a charset other than UTF-8 or US-ASCII ("utf-8", "utf8",
// "us-ascii", "ascii", any case), or a form's _charset_ field does; when a
// JSON or form body, or a multipart part's name or value, is not valid
// UTF-8 (or, for US-ASCII, not ASCII); when a multipart part has a
// transfer encoding other than 7bit, 8bit or binary, more than one
// Content-Disposition, a disposition other than form-data, or an RFC 2231
// "name*" parameter; when a form body is a valid JSON object or array
// (an upstream may ignore the declared type); when JSON nests deeper than
// 64 levels; or when the query string cannot be parsed.
//
// Query parameters are a further source, read like a form. A field is found
// when exactly one occurrence exists across query and body; it is ambiguous
// when it occurs more than once (repeated form keys, duplicate JSON keys,
// both in query and body, a multipart file part of that name) or occurs
// under a look-alike key that an upstream might take for it: a different
// case (Go's encoding/json matches keys case-insensitively, and also takes
// "ſ" for "s" and the Kelvin sign for "k"), surrounding spaces, bracket
// notation ("amount[]", "amount[x]"), a text after a NUL byte, a flat
// dotted key ("payee.wallet" next to "payee"), or, in forms, a key that PHP
// reads as the same variable ("payee_wallet" for "payee.wallet").
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
// If the body is needed and cannot be parsed, or any condition cannot be
// decided (its field is missing, ambiguous, null, an object or an array, or
// an ordering operator meets a non-number), the request is protected with
// FailClosed set, even if another condition is false. This is not an
// error: the body is the client's, and a malformed or surprising body is a
// reason to ask the user, never a reason to forward unconfirmed.
//
// # Shown fields
//
// When the rule shows fields (AmountField, PayeeField, CurrencyField or
// Show), what the page shows must be what the upstream executes. So when
// the request is protected, each shown field must be read exactly once and
// unambiguously, as above, from a parseable body whose JSON objects have no
// duplicate key anywhere; otherwise EvaluateRequest returns an
// *AmbiguousError (errors.Is(err, ErrAmbiguous)), the Decision says
// Protected and shows nothing, and the request must be refused, neither
// confirmed nor forwarded. A shown value must also be:
//
//   - present, unless it is an optional Show field (then it is left out);
//   - a JSON string or a form value (a JSON number is accepted where it is
//     a plain decimal of at most 15 significant digits, which every
//     upstream reads alike; objects, arrays, null and booleans are not);
//   - for the amount, a plain decimal (see ValidAmount);
//   - for the currency field, three upper-case ASCII letters;
//   - otherwise not empty (an optional Show field may be empty), at most 128
//     runes, and printable: no control, format (zero-width, bidi, soft
//     hyphen) or other invisible character, no line or paragraph
//     separator, no white space other than ASCII spaces and none at either
//     end, no U+FFFD, private-use or unassigned code point.
//
// Values are never cleaned or cut: Amount, Payee and Field.Value are
// exactly what the upstream receives. A request whose conditions do not
// hold is not protected and is not refused; its Decision then shows
// nothing if its shown fields could not be read.
//
// When the rule shows nothing, the error is non-nil only for misuse (a nil
// receiver); the Decision then still says Protected.
func (c *Compiled) EvaluateRequest(contentType, rawQuery string, body []byte) (Decision, error) {
	if c == nil {
		return Decision{Protected: true, FailClosed: true, Reason: "no rule"}, errors.New("policy: Evaluate on a nil rule")
	}
	if !c.NeedsBody() {
		return Decision{Protected: true, Reason: "rule has no conditions", Currency: c.Rule.Currency}, nil
	}
	src, err := parseSources(contentType, rawQuery, body)
	if err != nil {
		d := Decision{Protected: true, FailClosed: len(c.conds) > 0, Reason: err.Error()}
		if c.shows() {
			return d, &AmbiguousError{Reason: err.Error()}
		}
		return d, nil
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
		holds, ok := cond.eval(v.text)
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
	if c.shows() {
		if ae := c.view(src, &d); ae != nil {
			d.Amount, d.Payee, d.PayeeDisplay, d.Currency, d.Fields = "", "", "", "", nil
			if d.Protected {
				d.Reason = "refused: " + ae.text()
				return d, ae
			}
		}
	} else {
		d.Currency = c.Rule.Currency
	}
	return d, nil
}

// view reads the fields the rule shows into d.
func (c *Compiled) view(src *sources, d *Decision) *AmbiguousError {
	r := &c.Rule
	if r.AmountField != "" {
		v, _, ae := src.shown(r.AmountField, roleAmount, false)
		if ae != nil {
			return ae
		}
		d.Amount = v
	}
	if r.PayeeField != "" {
		v, _, ae := src.shown(r.PayeeField, roleText, false)
		if ae != nil {
			return ae
		}
		d.Payee, d.PayeeDisplay = v, v
		if kind, ok := r.Masks[r.PayeeField]; ok {
			d.PayeeDisplay = mask(kind, v)
		}
	}
	d.Currency = r.Currency
	if r.CurrencyField != "" {
		v, _, ae := src.shown(r.CurrencyField, roleCurrency, false)
		if ae != nil {
			return ae
		}
		d.Currency = v
	}
	for _, sf := range r.Show {
		v, present, ae := src.shown(sf.Field, roleText, sf.Optional)
		if ae != nil {
			return ae
		}
		if !present {
			continue
		}
		f := Field{Name: sf.Field, Label: sf.Label, Value: v, Display: v}
		if kind, ok := r.Masks[sf.Field]; ok {
			f.Display = mask(kind, v)
		}
		d.Fields = append(d.Fields, f)
	}
	if src.dups {
		return &AmbiguousError{Reason: "JSON body has a duplicate key"}
	}
	return nil
}

// roles of shown fields, for what their values may be.
type role uint8

const (
	roleText role = iota
	roleAmount
	roleCurrency
)

// shown reads a shown field strictly. present is false only for an
// optional field that the request does not have.
func (s *sources) shown(field string, ro role, optional bool) (text string, present bool, ae *AmbiguousError) {
	refuse := func(why string) (string, bool, *AmbiguousError) {
		return "", false, &AmbiguousError{Field: field, Reason: why}
	}
	v, why := s.lookup(field)
	switch {
	case why == whyMissing && optional:
		return "", false, nil
	case why != "":
		return refuse(why)
	}
	switch ro {
	case roleAmount:
		switch {
		case v.kind != jString && v.kind != jNumber:
			return refuse("is not a string or number")
		case !ValidAmount(v.text):
			return refuse("is not a plain decimal amount")
		case v.kind == jNumber && significantDigits(v.text) > maxJSONNumberDigits:
			return refuse("is a JSON number of more than 15 significant digits")
		}
	case roleCurrency:
		if v.kind != jString || !validCurrency(v.text) {
			return refuse("is not a currency code of three upper-case letters")
		}
	default:
		switch {
		case v.kind == jNumber:
			if !ValidAmount(v.text) || significantDigits(v.text) > maxJSONNumberDigits {
				return refuse("is a JSON number that is not a plain decimal of at most 15 digits")
			}
		case v.kind != jString:
			return refuse("is not a string")
		case v.text == "" && !optional:
			return refuse("is empty")
		}
		if p := displayProblem(v.text); p != "" {
			return refuse(p)
		}
	}
	return v.text, true, nil
}

// sources holds the parsed query and body. At most one of form and json is
// set for the body.
type sources struct {
	query url.Values
	form  url.Values // form or multipart body
	files []string   // names of multipart file parts
	json  *jnode     // JSON body
	dups  bool       // the JSON body has a duplicate key somewhere
}

// utf8Charset reports whether a charset parameter names UTF-8 or
// US-ASCII; ascii is true for the latter.
func utf8Charset(cs string) (ok, ascii bool) {
	switch strings.ToLower(cs) {
	case "utf-8", "utf8":
		return true, false
	case "us-ascii", "ascii":
		return true, true
	}
	return false, false
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
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
		if !utf8.Valid(body) {
			return nil, errors.New("body is not valid UTF-8")
		}
		n, dups, err := parseJSON(body)
		if err != nil {
			return nil, errors.New("body without content type is not JSON")
		}
		s.json, s.dups = n, dups
		return s, nil
	}
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return nil, errors.New("content type cannot be parsed")
	}
	if cs, ok := params["charset"]; ok {
		ok, ascii := utf8Charset(cs)
		if !ok {
			return nil, errors.New("body charset is not UTF-8")
		}
		if ascii && !isASCII(body) {
			return nil, errors.New("US-ASCII body has non-ASCII bytes")
		}
	}
	switch {
	case mt == "application/json" || mt == "text/json" || strings.HasSuffix(mt, "+json"):
		if !utf8.Valid(body) {
			return nil, errors.New("JSON body is not valid UTF-8")
		}
		n, dups, err := parseJSON(body)
		if err != nil {
			return nil, errors.New("JSON body cannot be parsed")
		}
		s.json, s.dups = n, dups
	case mt == "application/x-www-form-urlencoded":
		if !utf8.Valid(body) {
			return nil, errors.New("form body is not valid UTF-8")
		}
		if looksLikeJSON(body) {
			return nil, errors.New("form body is also valid JSON")
		}
		f, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, errors.New("form body cannot be parsed")
		}
		s.form = f
	case mt == "multipart/form-data":
		f, files, err := parseMultipart(body, params["boundary"])
		if err != nil {
			return nil, errors.New("multipart body cannot be parsed")
		}
		s.form, s.files = f, files
	default:
		return nil, errors.New("body type is not JSON, form or multipart")
	}
	if s.form != nil {
		for _, cs := range s.form["_charset_"] {
			if ok, _ := utf8Charset(cs); !ok {
				return nil, errors.New("form _charset_ is not UTF-8")
			}
		}
	}
	return s, nil
}

// looksLikeJSON reports whether body is a valid JSON object or array.
func looksLikeJSON(body []byte) bool {
	t := bytes.TrimLeft(body, " \t\r\n")
	return len(t) > 0 && (t[0] == '{' || t[0] == '[') && json.Valid(body)
}

// parseMultipart reads the values of the parts that are not files, and
// the names of those that are (any part with a filename parameter, even
// an empty one).
func parseMultipart(body []byte, boundary string) (url.Values, []string, error) {
	if boundary == "" {
		return nil, nil, errors.New("no boundary")
	}
	r := multipart.NewReader(bytes.NewReader(body), boundary)
	vals := url.Values{}
	var files []string
	for n := 0; ; n++ {
		// NextRawPart: NextPart would decode quoted-printable parts
		// silently, which other upstreams do not.
		part, err := r.NextRawPart()
		if err == io.EOF {
			return vals, files, nil
		}
		if err != nil {
			return nil, nil, err
		}
		if n >= maxMultipartParts {
			return nil, nil, errors.New("too many parts")
		}
		if cte := part.Header.Values("Content-Transfer-Encoding"); len(cte) > 0 {
			if len(cte) > 1 {
				return nil, nil, errors.New("more than one transfer encoding")
			}
			switch strings.ToLower(strings.TrimSpace(cte[0])) {
			case "7bit", "8bit", "binary":
			default:
				return nil, nil, errors.New("unsupported transfer encoding")
			}
		}
		cds := part.Header.Values("Content-Disposition")
		if len(cds) != 1 {
			return nil, nil, errors.New("part without exactly one content disposition")
		}
		disp, dparams, err := mime.ParseMediaType(cds[0])
		if err != nil || disp != "form-data" {
			return nil, nil, errors.New("part disposition is not form-data")
		}
		if hasExtendedName(cds[0]) {
			return nil, nil, errors.New("part name in RFC 2231 form")
		}
		name := dparams["name"]
		if !utf8.ValidString(name) {
			return nil, nil, errors.New("part name is not valid UTF-8")
		}
		_, isFile := dparams["filename"]
		if name == "" || isFile {
			if name != "" {
				files = append(files, name)
			}
			if _, err := io.Copy(io.Discard, part); err != nil {
				return nil, nil, err
			}
			continue
		}
		if ct := part.Header.Get("Content-Type"); ct != "" {
			_, pp, err := mime.ParseMediaType(ct)
			if err != nil {
				return nil, nil, errors.New("part content type cannot be parsed")
			}
			if cs, ok := pp["charset"]; ok {
				if ok, _ := utf8Charset(cs); !ok {
					return nil, nil, errors.New("part charset is not UTF-8")
				}
			}
		}
		v, err := io.ReadAll(io.LimitReader(part, maxPartValueLen+1))
		if err != nil {
			return nil, nil, err
		}
		if len(v) > maxPartValueLen {
			return nil, nil, errors.New("part too large")
		}
		if !utf8.Valid(v) {
			return nil, nil, errors.New("part value is not valid UTF-8")
		}
		vals[name] = append(vals[name], string(v))
	}
}

// hasExtendedName reports whether a Content-Disposition has a "name*"
// parameter, which mime.ParseMediaType decodes into "name" but many
// parsers ignore.
func hasExtendedName(cd string) bool {
	l := strings.ToLower(cd)
	for i := strings.Index(l, "name*"); i >= 0; {
		if !strings.HasSuffix(l[:i], "file") {
			return true
		}
		j := strings.Index(l[i+1:], "name*")
		if j < 0 {
			break
		}
		i += 1 + j
	}
	return false
}

// value is a field's value and its JSON kind (jString for form values).
type value struct {
	text string
	kind jKind
}

// whyMissing is lookup's reason for a field that is absent.
const whyMissing = "is missing"

// lookup finds field across the sources. why is "" when the field was found
// exactly once with a scalar value; otherwise it says what went wrong
// (whyMissing when it is absent).
func (s *sources) lookup(field string) (v value, why string) {
	segs := strings.Split(field, ".")
	var found []string
	inQuery := false
	for i, vals := range []url.Values{s.query, s.form} {
		vs, ambiguous := formLookup(vals, field, segs)
		if ambiguous {
			return value{}, whyLookalike
		}
		if len(found) > 0 && len(vs) > 0 && inQuery {
			return value{}, whyQueryAndBody
		}
		found = append(found, vs...)
		inQuery = i == 0 && len(vs) > 0
	}
	for _, name := range s.files {
		if name == field || bracketsToDots(name) == field || formLookalike(name, field, segs) {
			return value{}, "is ambiguous: also a file part"
		}
	}
	if s.json != nil {
		n, state := s.json.walk(segs)
		switch state {
		case walkRepeated:
			return value{}, whyRepeated
		case walkLookalike:
			return value{}, whyLookalike
		case walkFound:
			if n.kind == jObject || n.kind == jArray || n.kind == jNull {
				return value{}, "is not a string, number or boolean"
			}
			if len(found) == 0 {
				return value{text: n.text, kind: n.kind}, ""
			}
			return value{}, whyQueryAndBody
		}
	}
	switch len(found) {
	case 0:
		return value{}, whyMissing
	case 1:
		return value{text: found[0], kind: jString}, ""
	default:
		return value{}, whyRepeated
	}
}

// Reasons of lookup for an ambiguous field.
const (
	whyRepeated     = "is ambiguous: repeated"
	whyLookalike    = "is ambiguous: look-alike key"
	whyQueryAndBody = "is ambiguous: in both query and body"
)

// formLookup returns the values of key field in vals, where "a[b]" is the
// same key as "a.b". ambiguous is true if a look-alike key is present: one
// that an upstream might read as field (or as part of it, or as something
// inside it) but that is not spelled so (see lookalike and phpName).
func formLookup(vals url.Values, field string, segs []string) (values []string, ambiguous bool) {
	for k, vs := range vals {
		if k == field || bracketsToDots(k) == field {
			values = append(values, vs...)
			continue
		}
		if formLookalike(k, field, segs) {
			return nil, true
		}
	}
	return values, false
}

func formLookalike(k, field string, segs []string) bool {
	return lookalike(k, segs) || strings.EqualFold(phpName(k), phpName(field))
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
