package caddymodule_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestCaddyErrorsGoToTheOperatorsHandleErrors: the pages of the codes an
// operator lists in caddy_errors reach handle_errors with the status, the
// text in the customer's language and the code; other codes and JSON
// answers keep the gateway's own.
func TestCaddyErrorsGoToTheOperatorsHandleErrors(t *testing.T) {
	port := freePort(t)
	loadCaddyfile(t, fmt.Sprintf(`{
	admin off
	persist_config off
	enumgate {
		secret %s
		users file %s
	}
}
http://127.0.0.1:%d {
	enumgate {
		%s
		caddy_errors unauthenticated
	}
	respond "app"
	handle_errors {
		respond "restyled: {http.error.message} [{http.vars.enumgate_error}]" {http.error.status_code}
	}
}`, testSecret, usersFile(t), port, defaultRules))
	tests := []struct {
		name, accept, lang, user string
		status                   int
		want                     string
	}{
		{"a listed code, for a browser", "text/html", "ru", "", 401, "restyled: Войдите в приложение, прежде чем подтверждать операцию. [unauthenticated]"},
		{"a listed code, as JSON", "application/json", "en", "", 401, `"error":"unauthenticated"`},
		{"a code not listed", "text/html", "en", "alice", 413, `data-error="body_too_large"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := `{"to":"Z1","amount":"1.00"}`
			if tt.status == 413 {
				body = `{"to":"` + strings.Repeat("x", 2000) + `","amount":"1.00"}`
			}
			req, _ := http.NewRequest("POST", fmt.Sprintf("http://127.0.0.1:%d/transfer", port), strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", tt.accept)
			req.Header.Set("Accept-Language", tt.lang)
			if tt.user != "" {
				req.Header.Set("X-User", tt.user)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status || !strings.Contains(string(b), tt.want) {
				t.Fatalf("= %d %s, want %d with %q", resp.StatusCode, b, tt.status, tt.want)
			}
		})
	}
}
