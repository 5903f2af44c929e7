package demo

import (
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func TestUnmarshalCaddyfile(t *testing.T) {
	tests := []struct {
		name, input string
		want        App
		err         string // part of the error; "" for success
	}{
		{"full", "enumgate_demo {\n\tsecret {env.ENUMGATE_SECRET}\n\tmax_age 2m\n}",
			App{Secret: "{env.ENUMGATE_SECRET}", MaxAge: caddy.Duration(2 * time.Minute)}, ""},
		{"bare", "enumgate_demo", App{}, ""},
		{"empty block", "enumgate_demo {\n}", App{}, ""},
		{"days", "enumgate_demo {\n\tmax_age 1d\n}", App{MaxAge: caddy.Duration(24 * time.Hour)}, ""},
		{"argument", "enumgate_demo secret", App{}, "takes no arguments"},
		{"secret without value", "enumgate_demo {\n\tsecret\n}", App{}, "secret needs a value"},
		{"secret twice", "enumgate_demo {\n\tsecret a\n\tsecret b\n}", App{}, "more than once"},
		{"secret extra", "enumgate_demo {\n\tsecret a b\n}", App{}, "extra"},
		{"max_age missing", "enumgate_demo {\n\tmax_age\n}", App{}, "needs a duration"},
		{"max_age bad", "enumgate_demo {\n\tmax_age soon\n}", App{}, `max_age "soon"`},
		{"max_age zero", "enumgate_demo {\n\tmax_age 0s\n}", App{}, "positive"},
		{"max_age negative", "enumgate_demo {\n\tmax_age -1m\n}", App{}, "positive"},
		{"unknown", "enumgate_demo {\n\tsecrets x\n}", App{}, `unknown enumgate_demo setting "secrets"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var a App
			err := a.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tt.input))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error = %v, want one containing %q", err, tt.err)
				}
				if !strings.Contains(err.Error(), "Testfile:") {
					t.Errorf("error %q has no position", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if a.Secret != tt.want.Secret || a.MaxAge != tt.want.MaxAge {
				t.Errorf("got secret %q max_age %v, want %q %v", a.Secret, a.MaxAge, tt.want.Secret, tt.want.MaxAge)
			}
		})
	}
}

// TestCaddyfileAdapt checks that the directive needs no "order" line and
// lands before respond.
func TestCaddyfileAdapt(t *testing.T) {
	input := `http://localhost:9080 {
	respond /health 200
	enumgate_demo {
		secret {env.ENUMGATE_SECRET}
		max_age 90s
	}
}`
	out, warnings, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(input), nil)
	if err != nil {
		t.Fatalf("adapt: %v", err)
	}
	for _, w := range warnings {
		t.Logf("warning: %s", w.Message)
	}
	s := string(out)
	demo := strings.Index(s, `"handler":"enumgate_demo"`)
	respond := strings.Index(s, `"handler":"static_response"`)
	if demo < 0 || respond < 0 {
		t.Fatalf("adapted config lacks a handler:\n%s", s)
	}
	if demo > respond {
		t.Errorf("enumgate_demo comes after respond:\n%s", s)
	}
	for _, want := range []string{`"secret":"{env.ENUMGATE_SECRET}"`, `"max_age":90000000000`} {
		if !strings.Contains(s, want) {
			t.Errorf("adapted config lacks %s:\n%s", want, s)
		}
	}

	_, _, err = caddyconfig.GetAdapter("caddyfile").Adapt([]byte("http://localhost:9080 {\n\tenumgate_demo {\n\t\tbogus\n\t}\n}"), nil)
	if err == nil || !strings.Contains(err.Error(), "bogus") {
		t.Errorf("adapting a bad block: error = %v", err)
	}
}
