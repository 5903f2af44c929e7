package policy

import (
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	"net/url"
	"sort"
	"strings"
)

// Bounds of OverrideMethods.
const (
	// MaxOverrideValues is how many override values OverrideMethods
	// reads; a request naming more is taken to override to any method.
	MaxOverrideValues = 16
	// maxOverrideValueLen bounds a _method form value that is read.
	maxOverrideValueLen = 1024
)

// overrideHeaders are the method-override headers, in canonical form.
var overrideHeaders = [...]string{"X-Http-Method-Override", "X-Http-Method", "X-Method-Override"}

// methodParam is the form field many frameworks (Rails, Laravel, Symfony,
// Express method-override) read as the method.
var methodParam = []string{"_method"}

// OverrideMethods returns the methods that a request asks, by a method
// override, to be treated as: every value of the X-HTTP-Method-Override,
// X-HTTP-Method and X-Method-Override headers, and of a "_method" field in
// the query string or in a form body (application/x-www-form-urlencoded or
// multipart/form-data) or a top-level "_method" member of a JSON body.
// Many frameworks honour one of these, each in its own way (the first
// value, the last, a comma-separated list), so all are taken: every header
// value (header names matched ignoring case, and "_" as "-", as CGI
// gateways merge them), every comma-separated element of each, trimmed,
// and _method under look-alike spellings too ("_METHOD", "_method[]").
//
// The result is upper-cased and without duplicates, in the order found;
// nil if there is none. Values that are not an HTTP method token of at
// most 32 characters are ignored (no upstream takes them for a method).
// At most MaxOverrideValues values are read; if a request names more,
// AnyMethod is appended, which MatchAny takes to match every rule. Parsing
// is lenient (a malformed query or body still yields the values found in
// it), as upstreams are.
//
// The caller passes the body only when the path is protected for some
// method (see Policy.PathMatches), after reading it within its size
// bound; a nil body looks only at headers and query.
func OverrideMethods(header map[string][]string, rawQuery, contentType string, body []byte) []string {
	var o overrides
	var names []string
	for k := range header {
		if isOverrideHeader(k) {
			names = append(names, k)
		}
	}
	if len(names) > 1 {
		sort.Strings(names)
	}
	for _, k := range names {
		for _, v := range header[k] {
			o.addList(v)
		}
	}
	if rawQuery != "" {
		o.addForm(rawQuery)
	}
	if len(body) > 0 {
		mt, params, err := mime.ParseMediaType(contentType)
		if err != nil {
			mt, _, _ = strings.Cut(contentType, ";")
			mt = strings.ToLower(strings.TrimSpace(mt))
		}
		switch {
		case mt == "application/x-www-form-urlencoded":
			o.addForm(string(body))
		case mt == "multipart/form-data":
			o.addMultipart(body, params["boundary"])
		case mt == "application/json" || mt == "text/json" || strings.HasSuffix(mt, "+json"):
			o.addJSON(body)
		}
	}
	return o.methods
}

// isOverrideHeader reports whether a header name is one of the override
// headers, ignoring case and taking "_" for "-".
func isOverrideHeader(k string) bool {
	for _, h := range overrideHeaders {
		if len(k) != len(h) {
			continue
		}
		same := true
		for i := 0; i < len(k) && same; i++ {
			c := k[i]
			if c == '_' {
				c = '-'
			}
			same = c == h[i] || 'a' <= c && c <= 'z' && c-('a'-'A') == h[i] || 'A' <= c && c <= 'Z' && c+('a'-'A') == h[i]
		}
		if same {
			return true
		}
	}
	return false
}

type overrides struct {
	methods []string
	seen    int  // values read
	full    bool // more than MaxOverrideValues values were named
}

// addList adds the comma-separated methods of one value.
func (o *overrides) addList(v string) {
	for elem := range strings.SplitSeq(v, ",") {
		o.add(strings.Trim(elem, " \t"))
	}
}

func (o *overrides) add(m string) {
	if m == "" || o.full {
		return
	}
	if o.seen == MaxOverrideValues {
		o.full = true
		o.push(AnyMethod)
		return
	}
	o.seen++
	if len(m) > MaxMethodLen {
		return
	}
	for i := 0; i < len(m); i++ {
		if !isTokenByte(m[i]) {
			return
		}
	}
	o.push(strings.ToUpper(m))
}

func (o *overrides) push(m string) {
	for _, have := range o.methods {
		if have == m {
			return
		}
	}
	o.methods = append(o.methods, m)
}

// addForm adds the _method values of a query string or urlencoded form,
// split at "&" and ";", each part unescaped if it can be.
func (o *overrides) addForm(s string) {
	for s != "" && !o.full {
		var pair string
		if i := strings.IndexAny(s, "&;"); i >= 0 {
			pair, s = s[:i], s[i+1:]
		} else {
			pair, s = s, ""
		}
		k, v, _ := strings.Cut(pair, "=")
		if !containsMethodFold(k) && strings.IndexByte(k, '%') < 0 {
			continue // cheap skip of the usual fields
		}
		if u, err := url.QueryUnescape(k); err == nil {
			k = u
		}
		if !lookalike(k, methodParam) {
			continue
		}
		if u, err := url.QueryUnescape(v); err == nil {
			v = u
		}
		o.addList(v)
	}
}

// addMultipart adds the _method values of a multipart form, up to the
// first part it cannot read.
func (o *overrides) addMultipart(body []byte, boundary string) {
	if boundary == "" {
		return
	}
	r := multipart.NewReader(bytes.NewReader(body), boundary)
	for n := 0; n < maxMultipartParts && !o.full; n++ {
		part, err := r.NextRawPart()
		if err != nil {
			return
		}
		_, params, err := mime.ParseMediaType(part.Header.Get("Content-Disposition"))
		if err != nil || !lookalike(params["name"], methodParam) {
			continue
		}
		v, err := io.ReadAll(io.LimitReader(part, maxOverrideValueLen))
		if err != nil {
			return
		}
		o.addList(string(v))
	}
}

// addJSON adds the top-level "_method" string members of a JSON object
// (Laravel reads JSON input like form input).
func (o *overrides) addJSON(body []byte) {
	n, _, err := parseJSON(body)
	if err != nil || n.kind != jObject {
		return
	}
	for i, k := range n.keys {
		if v := n.elems[i]; v.kind == jString && lookalike(k, methodParam) {
			o.addList(v.text)
		}
	}
}

// containsMethodFold reports whether s contains "method" in any ASCII case.
func containsMethodFold(s string) bool {
	const w = "method"
	for i := 0; i+len(w) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(w)], w) {
			return true
		}
	}
	return false
}
