package caddymodule

import (
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// FuzzHandlerCaddyfile feeds arbitrary tokens to the enumgate directive's
// parser: it must return a value or an error, never panic.
func FuzzHandlerCaddyfile(f *testing.F) {
	for _, s := range []string{
		"user {http.auth.user.id}\nprotect transfer POST /transfer /api/transfers* {\nwhen amount > 1000\namount amount\n}",
		"methods enum sms\nttl 5m\nmax_attempts 3\nmax_body 64KiB",
		"ui {\nname \"Bank\"\nprimary_color 0b5cad\n}",
		"protect x {\n}", "}", "{",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		d := caddyfile.NewTestDispenser("enumgate {\n" + body + "\n}")
		var h Handler
		_ = h.UnmarshalCaddyfile(d)
	})
}

// FuzzAppCaddyfile does the same for the global enumgate options,
// including the guest modules' parsers (store, users, senders).
func FuzzAppCaddyfile(f *testing.F) {
	for _, s := range []string{
		"secret abcdefabcdefabcdef\nstore memory {\nmax_challenges 10\n}\nusers file u.json",
		"store redis redis://127.0.0.1:6379/0 {\npassword x\ntls {\nserver_name r\n}\n}\nusers redis {\ncache_ttl 1m\n}",
		"lockout 5 30m\nsms_limits {\nuser_hourly off\n}",
		"sms webhook http://x {\nheader A b\n}",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		d := caddyfile.NewTestDispenser("enumgate {\n" + body + "\n}")
		_, _ = parseApp(d, nil)
	})
}

// FuzzNegotiate checks Accept-Language negotiation always picks an
// available language.
func FuzzNegotiate(f *testing.F) {
	for _, s := range []string{"ru-RU,ru;q=0.9,en;q=0.8", "*", "en;q=0", "", "de, fr;q=0.5", strings.Repeat("x-y;q=0.1,", 100)} {
		f.Add(s)
	}
	available := []string{"en", "ru"}
	f.Fuzz(func(t *testing.T, header string) {
		if got := negotiate(header, available, "en"); !slices.Contains(available, got) {
			t.Fatalf("negotiate(%q) = %q, not an available language", header, got)
		}
	})
}

// FuzzSameOriginReferer checks a cancel target is always a local path.
func FuzzSameOriginReferer(f *testing.F) {
	for _, s := range []string{"http://pay.example/transfer?x=1", "https://evil.example/", "//evil.example/x", "http://pay.example//evil", "javascript:alert(1)", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ref string) {
		r := httptest.NewRequest("POST", "http://pay.example/transfer", nil)
		r.Header.Set("Referer", ref)
		got := sameOriginReferer(r)
		if got != "" && (!strings.HasPrefix(got, "/") || strings.HasPrefix(got, "//") || strings.HasPrefix(got, "/\\")) {
			t.Fatalf("sameOriginReferer(%q) = %q: not a local path", ref, got)
		}
	})
}
