package policy

import (
	"fmt"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

func mustCompile(t testing.TB, rules ...Rule) *Policy {
	t.Helper()
	p, err := Compile(rules)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return p
}

func op(c *Compiled) string {
	if c == nil {
		return "<none>"
	}
	return c.Rule.Operation
}

// typicalRules is a realistic policy of about ten rules.
func typicalRules() []Rule {
	return []Rule{
		{Operation: "transfer", HTTPMethods: []string{"POST"}, Paths: []string{"/transfer", "/api/transfers*"}},
		{Operation: "withdrawal", HTTPMethods: []string{"POST"}, Paths: []string{"/withdraw*"}},
		{Operation: "new_correspondent", HTTPMethods: []string{"POST", "PUT"}, Paths: []string{"/correspondents"}},
		{Operation: "card_payout", HTTPMethods: []string{"POST"}, Paths: []string{"/cards/*/payout"}},
		{Operation: "wallet_pay", HTTPMethods: []string{"POST"}, Paths: []string{"/u/*/pay", "/wallets/*/send*"}},
		{Operation: "export", HTTPMethods: []string{"GET"}, Paths: []string{"*.csv"}},
		{Operation: "delete_correspondent", HTTPMethods: []string{"DELETE"}, Paths: []string{"/correspondents/*"}},
		{Operation: "invoice_pay", HTTPMethods: []string{"POST"}, Paths: []string{"*/invoice/pay*"}},
		{Operation: "limits", HTTPMethods: []string{"POST"}, Paths: []string{"/settings/limits"}},
		{Operation: "api_keys", Paths: []string{"/api/v[12]/keys"}},
	}
}

func TestMatchPathTricks(t *testing.T) {
	p := mustCompile(t,
		Rule{Operation: "transfer", HTTPMethods: []string{"POST"}, Paths: []string{"/transfer"}},
		Rule{Operation: "withdrawal", HTTPMethods: []string{"POST"}, Paths: []string{"/api/withdrawals/*"}},
	)
	tests := []struct {
		name, path, want string
	}{
		{"exact", "/transfer", "transfer"},
		{"trailing slash", "/transfer/", "transfer"},
		{"many trailing slashes", "/transfer///", "transfer"},
		{"double leading slash", "//transfer", "transfer"},
		{"upper case", "/TRANSFER", "transfer"},
		{"mixed case", "/TrAnSfEr", "transfer"},
		{"dot segment", "/./transfer", "transfer"},
		{"dot dot segment", "/x/../transfer", "transfer"},
		{"dot dot above root", "/../../transfer", "transfer"},
		{"relative path", "transfer", "transfer"},
		{"path parameter", "/transfer;jsessionid=x", "transfer"},
		{"path parameter upper", "/TRANSFER;JSESSIONID=X", "transfer"},
		{"path parameter before slash", "/transfer;x=1/", "transfer"},
		{"tomcat dot dot with parameter", "/x/..;/transfer", "transfer"},
		{"backslash separator", `/x\..\transfer`, "transfer"},
		{"backslash prefix", `\transfer`, "transfer"},
		{"encoded slash decoded again", "/x%2F..%2Ftransfer", "transfer"},
		{"double encoded dot dot", "/x/%2e%2e/transfer", "transfer"},
		{"double encoded letters", "/tr%61nsfer", "transfer"},
		{"nul truncation", "/transfer\x00.png", "transfer"},
		{"windows trailing dot", "/transfer.", "transfer"},
		{"windows trailing space", "/transfer ", "transfer"},
		{"windows trailing dots and spaces", "/transfer. .", "transfer"},
		{"rails format extension", "/transfer.json", "transfer"},
		{"spring suffix pattern", "/Transfer.json.gz/", "transfer"},
		{"php front controller", "/index.php/transfer", "transfer"},
		{"php front controller and extension", "/INDEX.PHP/transfer.xml", "transfer"},
		{"php front controller in a directory", "/api/app.php/withdrawals/1", "withdrawal"},
		{"long s folds to s", "/tran\u017ffer", "transfer"},
		{"kelvin sign folds to k", "/api/withdrawals/\u212a", "withdrawal"},
		{"dotless i", "/api/w\u0131thdrawals/1", "withdrawal"},
		{"prefix", "/api/withdrawals/17", "withdrawal"},
		{"prefix deep", "/api/withdrawals/17/confirm", "withdrawal"},
		{"prefix pattern slash is insignificant", "/api/withdrawals", "withdrawal"},
		{"prefix with trailing slash", "/api/withdrawals/", "withdrawal"},
		{"prefix upper and dots", "/API/./Withdrawals//9", "withdrawal"},
		{"other path", "/transfers", "<none>"},
		{"other path prefix of pattern", "/transf", "<none>"},
		{"sibling", "/api/withdrawalsx", "<none>"},
		{"dot dot escapes prefix", "/api/withdrawals/../deposits", "<none>"},
		{"empty path", "", "<none>"},
		{"root", "/", "<none>"},
		{"encoded percent not decoded twice into match", "/trans%25fer", "<none>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := op(p.Match("POST", tt.path)); got != tt.want {
				t.Errorf("Match(POST, %q) = %s, want %s", tt.path, got, tt.want)
			}
		})
	}
}

func TestMatchMethods(t *testing.T) {
	p := mustCompile(t,
		Rule{Operation: "post_only", HTTPMethods: []string{"post"}, Paths: []string{"/a"}},
		Rule{Operation: "get_only", HTTPMethods: []string{"GET"}, Paths: []string{"/b"}},
		Rule{Operation: "head_only", HTTPMethods: []string{"HEAD"}, Paths: []string{"/c"}},
		Rule{Operation: "any", Paths: []string{"/d"}},
		Rule{Operation: "custom", HTTPMethods: []string{"PROPPATCH", "PATCH"}, Paths: []string{"/e"}},
	)
	tests := []struct {
		name, method, path, want string
	}{
		{"listed method", "POST", "/a", "post_only"},
		{"listed method lower case", "post", "/a", "post_only"},
		{"other method", "PUT", "/a", "<none>"},
		{"GET is not POST", "GET", "/a", "<none>"},
		{"GET rule", "GET", "/b", "get_only"},
		{"GET rule covers HEAD", "HEAD", "/b", "get_only"},
		{"GET rule is not POST", "POST", "/b", "<none>"},
		{"HEAD rule", "HEAD", "/c", "head_only"},
		{"HEAD rule does not cover GET", "GET", "/c", "<none>"},
		{"no methods is any method", "DELETE", "/d", "any"},
		{"no methods covers OPTIONS", "OPTIONS", "/d", "any"},
		{"no methods covers odd tokens", "X-FOO", "/d", "any"},
		{"extension method", "PROPPATCH", "/e", "custom"},
		{"second listed method", "patch", "/e", "custom"},
		{"prefix of a method", "PATC", "/e", "<none>"},
		{"empty method", "", "/a", "<none>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := op(p.Match(tt.method, tt.path)); got != tt.want {
				t.Errorf("Match(%q, %q) = %s, want %s", tt.method, tt.path, got, tt.want)
			}
		})
	}
}

func TestMatchPatterns(t *testing.T) {
	tests := []struct {
		name    string
		pattern string
		path    string
		want    bool
	}{
		{"exact", "/transfer", "/transfer", true},
		{"exact other", "/transfer", "/transfer2", false},
		{"exact pattern trailing slash", "/transfer/", "/transfer", true},
		{"exact pattern upper case", "/Transfer", "/TRANSFER", true},
		{"root", "/", "/", true},
		{"root is not everything", "/", "/x", false},
		{"prefix", "/api/transfers*", "/api/transfers", true},
		{"prefix longer", "/api/transfers*", "/api/transfers-batch", true},
		{"prefix crosses slash", "/api/transfers*", "/api/transfers/1/confirm", true},
		{"prefix mismatch", "/api/transfers*", "/api/transfer", false},
		{"prefix dir", "/api/transfers/*", "/api/transfers/1", true},
		{"prefix dir covers the dir", "/api/transfers/*", "/api/transfers", true},
		{"prefix dir not sibling", "/api/transfers/*", "/api/transfersx", false},
		{"slash star is everything", "/*", "/anything/at/all", true},
		{"suffix", "*.json", "/a/b/c.json", true},
		{"suffix mismatch", "*.json", "/a/b/c.jso", false},
		{"suffix upper", "*.JSON", "/A.json", true},
		{"suffix path", "*/pay", "/u/1/pay", true},
		{"suffix path is segment aligned only by text", "*/pay", "/u/1/prepay", false},
		{"suffix with trailing slash pattern", "*/pay/", "/u/1/pay", true},
		{"substring", "*/pay/*", "/u/1/pay/now", true},
		{"substring at end via trailing slash", "*/pay/*", "/u/1/pay", true},
		{"substring mismatch", "*/pay/*", "/u/1/payment", false},
		{"star", "*", "/", true},
		{"star anything", "*", "/x/y", true},
		{"double star", "**", "/x/y", true},
		{"glob segment", "/u/*/pay", "/u/42/pay", true},
		{"glob segment empty is cleaned away", "/u/*/pay", "/u//pay", false},
		{"glob segment does not cross slash", "/u/*/pay", "/u/4/2/pay", false},
		{"glob double star crosses slash", "/u/**/pay", "/u/4/2/pay", true},
		{"glob trailing star crosses slash", "/a/*/b*", "/a/x/b/c/d", true},
		{"glob trailing star", "/a/*/b*", "/a/x/bcd", true},
		{"glob trailing star mismatch", "/a/*/b*", "/a/x/y/b", false},
		{"glob leading star crosses slash", "*/u/*/pay", "/x/y/u/1/pay", true},
		{"glob question", "/v?/pay", "/v1/pay", true},
		{"glob question not slash", "/v?/pay", "/v//pay", false},
		{"glob question one rune", "/v?/pay", "/v\u00e9/pay", true},
		{"glob question not two", "/v?/pay", "/v10/pay", false},
		{"glob class", "/api/v[12]/keys", "/api/v2/keys", true},
		{"glob class mismatch", "/api/v[12]/keys", "/api/v3/keys", false},
		{"glob class range upper", "/[A-Z]x", "/qx", true},
		{"glob class range lower", "/[a-z]x", "/QX", true},
		{"glob negated class", "/[^a]x", "/bx", true},
		{"glob negated class mismatch", "/[^a]x", "/Ax", false},
		{"glob escaped star is literal", `/a\*b/*/c`, "/a*b/x/c", true},
		{"glob escaped star not wildcard", `/a\*b/*/c`, "/axb/x/c", false},
		{"glob trailing slash insignificant", "/u/*/", "/u/1", true},
		{"glob non ascii literal", "/p\u00c9/*/x", "/p\u00e9/1/x", true},
		{"escaped literal only is exact", `/a\*`, "/a*", true},
		{"escaped literal only not prefix", `/a\*`, "/ab", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustCompile(t, Rule{Operation: "x", Paths: []string{tt.pattern}})
			if got := p.Match("POST", tt.path) != nil; got != tt.want {
				t.Errorf("pattern %q, path %q: match = %v, want %v", tt.pattern, tt.path, got, tt.want)
			}
		})
	}
}

func TestMatchFirstRuleWins(t *testing.T) {
	p := mustCompile(t,
		Rule{Operation: "specific", HTTPMethods: []string{"POST"}, Paths: []string{"/api/transfers/bulk"}},
		Rule{Operation: "general", Paths: []string{"/api/*"}},
		Rule{Operation: "never", HTTPMethods: []string{"POST"}, Paths: []string{"/api/transfers/bulk"}},
	)
	for _, tt := range []struct{ method, path, want string }{
		{"POST", "/api/transfers/bulk", "specific"},
		{"POST", "/API/transfers/bulk/", "specific"},
		{"PUT", "/api/transfers/bulk", "general"},
		{"POST", "/api/other", "general"},
	} {
		if got := op(p.Match(tt.method, tt.path)); got != tt.want {
			t.Errorf("Match(%s, %s) = %s, want %s", tt.method, tt.path, got, tt.want)
		}
	}
	// Rule order wins over reading order: the first rule matches only the
	// parameter-stripped reading.
	p = mustCompile(t,
		Rule{Operation: "first", Paths: []string{"/a/b"}},
		Rule{Operation: "second", Paths: []string{"/a?b"}},
	)
	if got := op(p.Match("POST", `/a\b`)); got != "first" {
		t.Errorf(`Match(POST, /a\b) = %s, want first`, got)
	}
}

func TestMatchNilAndEmpty(t *testing.T) {
	var nilPolicy *Policy
	if c := nilPolicy.Match("POST", "/transfer"); c != nil {
		t.Errorf("nil policy matched %v", c.Rule.Operation)
	}
	if c := (&Policy{}).Match("POST", "/transfer"); c != nil {
		t.Errorf("zero policy matched %v", c.Rule.Operation)
	}
	p := mustCompile(t)
	if c := p.Match("POST", "/transfer"); c != nil {
		t.Errorf("empty policy matched %v", c.Rule.Operation)
	}
	if len(p.Rules()) != 0 || nilPolicy.Rules() != nil {
		t.Error("Rules of empty policies not empty")
	}
}

func TestMatchTypicalPolicy(t *testing.T) {
	p := mustCompile(t, typicalRules()...)
	for _, tt := range []struct{ method, path, want string }{
		{"POST", "/transfer", "transfer"},
		{"POST", "/api/transfers", "transfer"},
		{"POST", "/withdraw/card", "withdrawal"},
		{"PUT", "/correspondents", "new_correspondent"},
		{"POST", "/cards/4242/payout", "card_payout"},
		{"POST", "/u/alice/pay", "wallet_pay"},
		{"POST", "/wallets/w1/send/now", "wallet_pay"},
		{"GET", "/reports/2024.csv", "export"},
		{"HEAD", "/reports/2024.CSV", "export"},
		{"DELETE", "/correspondents/17", "delete_correspondent"},
		{"POST", "/shop/invoice/pay", "invoice_pay"},
		{"POST", "/settings/limits", "limits"},
		{"GET", "/api/v1/keys", "api_keys"},
		{"GET", "/transfer", "<none>"},
		{"GET", "/", "<none>"},
		{"GET", "/static/app.js", "<none>"},
		{"POST", "/login", "<none>"},
	} {
		if got := op(p.Match(tt.method, tt.path)); got != tt.want {
			t.Errorf("Match(%s, %s) = %s, want %s", tt.method, tt.path, got, tt.want)
		}
	}
}

// missPaths are typical requests that match none of typicalRules.
var missPaths = []struct{ method, path string }{
	{"GET", "/"},
	{"GET", "/static/app.js"},
	{"GET", "/static/css/site.css"},
	{"GET", "/favicon.ico"},
	{"GET", "/account/history"},
	{"POST", "/login"},
	{"GET", "/api/v3/balance"},
	{"GET", "/transfer"},
	{"POST", "/api/v2/keysx"},
	{"GET", "/u/alice/profile"},
	{"POST", "/cards/4242/details"},
	{"GET", "/reports/2024.pdf"},
}

func TestMatchMissDoesNotAllocate(t *testing.T) {
	p := mustCompile(t, typicalRules()...)
	for _, m := range missPaths {
		if c := p.Match(m.method, m.path); c != nil {
			t.Fatalf("Match(%s, %s) = %s, want none", m.method, m.path, c.Rule.Operation)
		}
		if !isCanonical(m.path) {
			t.Fatalf("test path %q is not canonical", m.path)
		}
		allocs := testing.AllocsPerRun(100, func() {
			p.Match(m.method, m.path)
		})
		if allocs != 0 {
			t.Errorf("Match(%s, %s): %v allocs, want 0", m.method, m.path, allocs)
		}
	}
}

func TestMatchCleanHitDoesNotAllocate(t *testing.T) {
	p := mustCompile(t, typicalRules()...)
	for _, path := range []string{"/transfer", "/api/v1/keys", "/u/bob/pay", "/reports/x.csv"} {
		allocs := testing.AllocsPerRun(100, func() { p.Match("POST", path) })
		if allocs != 0 {
			t.Errorf("Match(POST, %s): %v allocs, want 0", path, allocs)
		}
	}
}

func TestIsCanonical(t *testing.T) {
	for _, tt := range []struct {
		path string
		want bool
	}{
		{"/", true},
		{"/transfer", true},
		{"/a/b.json", true},
		{"/a-b_c~d/e", true},
		{"", false},
		{"transfer", false},
		{"/transfer/", false},
		{"//transfer", false},
		{"/a//b", false},
		{"/./a", false},
		{"/a/..", false},
		{"/a/../b", false},
		{"/Transfer", false},
		{"/tr\u00e9", false},
		{"/a%2f", false},
		{"/a;b", false},
		{`/a\b`, false},
		{"/a\x00", false},
		{"/a.", false},
		{"/a /b", false},
	} {
		if got := isCanonical(tt.path); got != tt.want {
			t.Errorf("isCanonical(%q) = %v, want %v", tt.path, got, tt.want)
		}
		// A canonical path must be its own only reading.
		if tt.want {
			if r := pathReadings(tt.path); len(r) != 1 || r[0] != tt.path {
				t.Errorf("pathReadings(%q) = %q, want just itself", tt.path, r)
			}
		}
	}
}

func TestPathReadings(t *testing.T) {
	for _, tt := range []struct {
		path string
		want []string
	}{
		{"/Transfer/", []string{"/transfer"}},
		{"/a;x/b", []string{"/a;x/b", "/a/b"}},
		{`/a\b`, []string{`/a\b`, "/a/b"}},
		{"/a%2fb", []string{"/a%2fb", "/a/b"}},
		{"/a.", []string{"/a.", "/a"}},
		{"/x/.. /y", []string{"/x/.. /y", "/x/y", "/y"}},
		{"/a\x00b", []string{"/a\x00b", "/a"}},
	} {
		got := pathReadings(tt.path)
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("pathReadings(%q) = %q, want %q", tt.path, got, tt.want)
		}
	}
	// The worst case stays bounded.
	if n := len(pathReadings("/A%2e;x\\b.\x00/c. ;y\\%3b")); n > 48 {
		t.Errorf("%d readings, want at most 48", n)
	}
}

func TestScanPathPlain(t *testing.T) {
	for path, plain := range map[string]bool{
		"/":                    true,
		"/transfer":            true,
		"/a.b/transfer":        true,
		"/transfer.json":       false,
		"/index.php/transfer":  false,
		"/x/index.php/y":       false,
		"/index.php":           false,
		"/php/x":               true,
		"/a.phpx/b":            true,
		"/static/app.js":       false,
		"/v1.2/api/transfers":  true,
		"/.well-known/openid":  true,
		"/.well-known/app.php": false,
	} {
		canonical, got := scanPath(path)
		if !canonical || got != plain {
			t.Errorf("scanPath(%q) = %v, %v; want true, %v", path, canonical, got, plain)
		}
		if want := len(frameworkReadings(nil, path)) == 1; got != want {
			t.Errorf("scanPath(%q) plain = %v, but frameworkReadings disagrees", path, got)
		}
	}
}

func TestFrameworkReadings(t *testing.T) {
	for _, tt := range []struct {
		q    string
		want []string
	}{
		{"/", []string{"/"}},
		{"/transfer", []string{"/transfer"}},
		{"/transfer.json", []string{"/transfer.json", "/transfer"}},
		{"/a.b/transfer.x.y", []string{"/a.b/transfer.x.y", "/a.b/transfer"}},
		{"/.well-known/x", []string{"/.well-known/x"}},
		{"/.hidden", []string{"/.hidden"}},
		{"/index.php", []string{"/index.php", "/index"}},
		{"/index.php/transfer", []string{"/index.php/transfer", "/transfer"}},
		{"/app/index.php/t.json", []string{"/app/index.php/t.json", "/app/index.php/t", "/app/t.json", "/app/t"}},
		{"/.php/x", []string{"/.php/x"}},
	} {
		if got := frameworkReadings(nil, tt.q); fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("frameworkReadings(%q) = %q, want %q", tt.q, got, tt.want)
		}
	}
}

func TestPercentDecodeOnce(t *testing.T) {
	for _, tt := range []struct {
		in, want string
		ok       bool
	}{
		{"/a", "", false},
		{"/a%", "", false},
		{"/a%4", "", false},
		{"/a%zz", "", false},
		{"/a%41", "/aA", true},
		{"/%zz%2f", "/%zz/", true},
		{"%25%32%66", "%2f", true},
	} {
		got, ok := percentDecodeOnce(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("percentDecodeOnce(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestFoldRuneIsCaseInvariant(t *testing.T) {
	if testing.Short() {
		t.Skip("exhaustive over all runes")
	}
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if !utf8.ValidRune(r) {
			continue // surrogates never appear in a decoded string
		}
		f := foldRune(r)
		if foldRune(f) != f {
			t.Fatalf("foldRune not idempotent at %U", r)
		}
		for _, v := range [...]rune{unicode.ToUpper(r), unicode.ToLower(r), unicode.ToTitle(r), unicode.SimpleFold(r)} {
			if foldRune(v) != f {
				t.Fatalf("foldRune(%U) = %U but foldRune(%U) = %U", r, f, v, foldRune(v))
			}
		}
	}
	for in, want := range map[rune]rune{'A': 'a', 'z': 'z', '\u017f': 's', '\u212a': 'k', '\u0131': 'i', '\u0130': 'i', '\u00c9': '\u00c9'} {
		if got := foldRune(in); got != want && !(in == '\u00c9' && got == foldRune('\u00e9')) {
			t.Errorf("foldRune(%U) = %U, want %U", in, got, want)
		}
	}
}

func TestCompiledRuleIsNormalisedCopy(t *testing.T) {
	in := Rule{
		Operation:   "transfer",
		HTTPMethods: []string{"post", "Get"},
		Paths:       []string{"/transfer"},
		Confirm:     []string{"SMS", "enum"},
		TTL:         5 * time.Minute,
		MaxAttempts: 3,
		When:        []Condition{{Field: "amount", Op: ">", Value: "1000"}},
		AmountField: "amount",
		PayeeField:  "to",
	}
	p := mustCompile(t, in)
	c := p.Rules()[0]
	if got := fmt.Sprint(c.Rule.HTTPMethods, c.Rule.Confirm); got != "[POST GET] [sms enum]" {
		t.Errorf("normalised = %s", got)
	}
	in.Paths[0] = "/other"
	c.Rule.Paths[0] = "/other"
	if p.Match("POST", "/transfer") == nil {
		t.Error("changing the input or Compiled.Rule changed matching")
	}
	if c.Index != 0 || !c.NeedsBody() {
		t.Errorf("Index = %d, NeedsBody = %v", c.Index, c.NeedsBody())
	}
}
