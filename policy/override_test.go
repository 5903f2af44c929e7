package policy

import (
	"reflect"
	"strings"
	"testing"
)

func TestOverrideMethods(t *testing.T) {
	mct, mbody := multipartBody(t, [][2]string{{"amount", "5"}, {"_method", "put"}})
	tests := []struct {
		behavior string
		header   map[string][]string
		query    string
		ct       string
		body     string
		want     []string
	}{
		{"nothing", nil, "", "", "", nil},
		{"unrelated headers and fields", map[string][]string{"Accept": {"*/*"}}, "lang=en", ctForm, "amount=5&method=PUT", nil},
		{"override header", map[string][]string{"X-Http-Method-Override": {"post"}}, "", "", "", []string{"POST"}},
		{"every value of every header", map[string][]string{
			"X-Http-Method-Override": {"GET", "Delete"},
			"X-Http-Method":          {"PATCH"},
			"X-Method-Override":      {"put"},
		}, "", "", "", []string{"PATCH", "GET", "DELETE", "PUT"}}, // by header name
		{"comma-separated elements trimmed", map[string][]string{"X-Http-Method": {" get ,\tPOST, ,"}}, "", "", "", []string{"GET", "POST"}},
		{"duplicates removed", map[string][]string{"X-Http-Method": {"post, POST", "Post"}}, "", "", "", []string{"POST"}},
		{"non-canonical and underscored header names", map[string][]string{"x-http-method-override": {"PUT"}, "X_Method_Override": {"PATCH"}}, "", "", "", []string{"PATCH", "PUT"}},
		{"invalid tokens ignored", map[string][]string{"X-Http-Method": {"PO ST", "P/OST", strings.Repeat("A", 33), "DELETE"}}, "", "", "", []string{"DELETE"}},
		{"query _method", nil, "a=1&_method=delete", "", "", []string{"DELETE"}},
		{"query _method after a semicolon", nil, "a=1;_method=delete", "", "", []string{"DELETE"}},
		{"query _method percent-encoded", nil, "%5Fmethod=%50UT", "", "", []string{"PUT"}},
		{"query _method look-alike", nil, "_METHOD=patch&_method[]=put", "", "", []string{"PATCH", "PUT"}},
		{"form _method", nil, "", ctForm + "; charset=utf-8", "amount=5&_method=PUT", []string{"PUT"}},
		{"multipart _method", nil, "", mct, string(mbody), []string{"PUT"}},
		{"json _method", nil, "", ctJSON, `{"amount":5,"_method":"patch"}`, []string{"PATCH"}},
		{"form _method ignored for other types", nil, "", "text/plain", "_method=PUT", nil},
		{"malformed form still read", nil, "", ctForm, "x=%zz&_method=PUT", []string{"PUT"}},
		{"headers, query and body together", map[string][]string{"X-Http-Method-Override": {"PUT"}}, "_method=DELETE", ctForm, "_method=PATCH", []string{"PUT", "DELETE", "PATCH"}},
	}
	for _, tt := range tests {
		t.Run(tt.behavior, func(t *testing.T) {
			got := OverrideMethods(tt.header, tt.query, tt.ct, []byte(tt.body))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("OverrideMethods = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestOverrideMethodsBounded: a request naming more values than are read
// is taken to override to any method, so that hiding POST behind junk
// values does not work.
func TestOverrideMethodsBounded(t *testing.T) {
	junk := strings.Repeat("X,", MaxOverrideValues)
	got := OverrideMethods(map[string][]string{"X-Http-Method-Override": {junk + "POST"}}, "", "", nil)
	if len(got) != 2 || got[0] != "X" || got[1] != AnyMethod {
		t.Fatalf("OverrideMethods = %q, want [X *]", got)
	}
	p := mustCompile(t, Rule{Operation: "transfer", HTTPMethods: []string{"POST"}, Paths: []string{"/transfer"}})
	if p.MatchAny(got, "/transfer") == nil {
		t.Error("AnyMethod does not match a POST rule")
	}
	invalid := strings.Repeat("P OST,", MaxOverrideValues) + "POST"
	if got := OverrideMethods(nil, "_method="+invalid, "", nil); len(got) != 1 || got[0] != AnyMethod {
		t.Errorf("invalid values count towards the bound: %q", got)
	}
	if got := OverrideMethods(nil, strings.Repeat("_method=GET&", 1000)+"_method=POST", "", nil); len(got) != 2 || got[1] != AnyMethod {
		t.Errorf("repeated _method: %q", got)
	}
}

func TestPathMatchesAndMatchAny(t *testing.T) {
	p := mustCompile(t,
		Rule{Operation: "transfer", HTTPMethods: []string{"POST"}, Paths: []string{"/transfer"}},
		Rule{Operation: "remove", HTTPMethods: []string{"DELETE"}, Paths: []string{"/correspondents/*"}},
		Rule{Operation: "search", HTTPMethods: []string{"M-SEARCH"}, Paths: []string{"/search"}},
		Rule{Operation: "keys", Paths: []string{"/keys"}},
	)
	for path, want := range map[string]bool{
		"/transfer": true, "/TRANSFER/": true, "/x/../transfer;x=1": true, "/correspondents/1": true,
		"/search": true, "/keys": true, "/static/app.js": false, "/transfers": false,
	} {
		if got := p.PathMatches(path); got != want {
			t.Errorf("PathMatches(%q) = %v, want %v", path, got, want)
		}
	}
	tests := []struct {
		methods []string
		path    string
		want    string
	}{
		{[]string{"GET"}, "/transfer", "<none>"},
		{[]string{"GET", "post"}, "/transfer", "transfer"},
		{[]string{"PUT", "DELETE"}, "/Correspondents/7", "remove"},
		{[]string{"m-search"}, "/search", "search"},
		{[]string{"GET"}, "/keys", "keys"},
		{[]string{AnyMethod}, "/transfer", "transfer"},
		{nil, "/keys", "<none>"},
		{[]string{"POST"}, "/static/app.js", "<none>"},
	}
	for _, tt := range tests {
		if got := op(p.MatchAny(tt.methods, tt.path)); got != tt.want {
			t.Errorf("MatchAny(%q, %q) = %s, want %s", tt.methods, tt.path, got, tt.want)
		}
	}
	var nilPolicy *Policy
	if nilPolicy.PathMatches("/x") || nilPolicy.MatchAny([]string{"GET"}, "/x") != nil {
		t.Error("nil policy matches")
	}
}

// TestMatchAnyAgreesWithMatch: for one method, MatchAny is Match.
func TestMatchAnyAgreesWithMatch(t *testing.T) {
	p := mustCompile(t, fuzzRules()...)
	for _, m := range []string{"GET", "HEAD", "POST", "put", "PATCH", "DELETE", "M-SEARCH"} {
		for _, path := range []string{"/transfer", "/api/transfers/1", "/x.csv", "/u/a/pay", "/shop/pay/x", "/Über/ſtraße", "/nothing", "/api/v1/keys", "/index.php/transfer"} {
			if a, b := p.Match(m, path), p.MatchAny([]string{m}, path); a != b {
				t.Errorf("%s %s: Match %s, MatchAny %s", m, path, op(a), op(b))
			}
			if p.Match(m, path) != nil && !p.PathMatches(path) {
				t.Errorf("%s %s matches but PathMatches is false", m, path)
			}
		}
	}
}

func TestPaymentMode(t *testing.T) {
	tests := []struct {
		rule Rule
		want bool
	}{
		{Rule{}, false},
		{Rule{AmountField: "amount"}, false},
		{Rule{AmountField: "amount", PayeeField: "to"}, true},
		{Rule{AmountField: "amount", PayeeField: "to", EnumMode: EnumModeAuthorization}, false},
		{Rule{AmountField: "amount", PayeeField: "to", EnumMode: EnumModePayment}, true},
		{Rule{PayeeField: "to", EnumMode: EnumModeAuthorization}, false},
	}
	for _, tt := range tests {
		if got := compiledRule(t, tt.rule).PaymentMode(); got != tt.want {
			t.Errorf("PaymentMode(%+v) = %v, want %v", tt.rule, got, tt.want)
		}
	}
}

func FuzzOverrideMethods(f *testing.F) {
	f.Add("post, GET", "_method=put&x=1", ctForm, []byte("_method=DELETE"))
	f.Add("", "%5Fmethod=patch;_METHOD[]=x", "multipart/form-data; boundary=x", []byte("--x\r\nContent-Disposition: form-data; name=\"_method\"\r\n\r\nPUT\r\n--x--\r\n"))
	f.Add(strings.Repeat("A,", 20), "", ctJSON, []byte(`{"_method":"PATCH"}`))
	f.Fuzz(func(t *testing.T, header, query, ct string, body []byte) {
		got := OverrideMethods(map[string][]string{"X-Http-Method-Override": {header}, "x_method_override": {header}}, query, ct, body)
		if len(got) > MaxOverrideValues+1 {
			t.Fatalf("%d methods", len(got))
		}
		seen := map[string]bool{}
		for i, m := range got {
			if seen[m] {
				t.Fatalf("duplicate %q in %q", m, got)
			}
			seen[m] = true
			if m == AnyMethod && i == len(got)-1 {
				continue
			}
			if m == "" || len(m) > MaxMethodLen || strings.ToUpper(m) != m {
				t.Fatalf("method %q", m)
			}
			for j := 0; j < len(m); j++ {
				if !isTokenByte(m[j]) {
					t.Fatalf("method %q is not a token", m)
				}
			}
		}
		// Every element of the header is found, up to the bound.
		n := 0
		for elem := range strings.SplitSeq(header, ",") {
			e := strings.Trim(elem, " \t")
			if e == "" {
				continue
			}
			if n++; n > MaxOverrideValues/2 {
				break // the header is read twice (two names), so half the bound is surely read
			}
			if validMethodToken(e) && !seen[strings.ToUpper(e)] {
				t.Fatalf("header element %q missing from %q", e, got)
			}
		}
	})
}

func validMethodToken(m string) bool {
	if m == "" || len(m) > MaxMethodLen {
		return false
	}
	for j := 0; j < len(m); j++ {
		if !isTokenByte(m[j]) {
			return false
		}
	}
	return true
}
