package policy

import (
	"strings"
	"testing"
)

// The policy knows no confirmation method; the program tells Compile
// which it can carry out. These tests compile with the gateway's
// built-in methods.
func init() { DefaultMethods = []string{"enum", "sms", "email"} }

func TestRulesNameMethodsTheProgramKnows(t *testing.T) {
	rule := func(m ...string) []Rule {
		return []Rule{{Operation: "transfer", HTTPMethods: []string{"POST"}, Paths: []string{"/t"}, Confirm: m}}
	}
	tests := []struct {
		name    string
		methods []string
		confirm []string
		wantErr string
	}{
		{"any well-formed name without a list", nil, []string{"push", "Voice_2"}, ""},
		{"a malformed name without a list", nil, []string{"pu sh"}, `confirmation method "pu sh" must be 1-32 characters of [a-z0-9_]`},
		{"a listed name", []string{"enum", "push"}, []string{"PUSH"}, ""},
		{"an unlisted name", []string{"enum", "push"}, []string{"sms"}, `confirmation method "sms" is not one of enum, push`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := CompileWith(rule(tt.confirm...), Options{Methods: tt.methods})
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("CompileWith = %v, want %q", err, tt.wantErr)
			}
		})
	}
}
