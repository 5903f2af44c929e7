package demo

import (
	"strings"
	"testing"
)

func TestSettingsShowAndChangeTheDisplayName(t *testing.T) {
	a := newApp(t)
	tests := []struct {
		name, method, body string
		status             int
		want               string
	}{
		{"shows the profile", "GET", "", 200, "79000000001"},
		{"saves a display name", "POST", "nickname=Alice+Liddell", 200, "Alice Liddell"},
		{"keeps it", "GET", "", 200, "Alice Liddell"},
		{"refuses an empty one", "POST", "nickname=", 400, ""},
		{"refuses another method", "DELETE", "", 405, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := serve(t, a, req(tt.method, "/settings", tt.body, "Content-Type", "application/x-www-form-urlencoded", UserHeader, "alice", "Accept", "text/html"))
			if w.Code != tt.status || !strings.Contains(w.Body.String(), tt.want) {
				t.Fatalf("= %d %s", w.Code, w.Body)
			}
		})
	}
	if w := serve(t, a, req("GET", "/settings", "", "Accept", "text/html")); w.Code == 200 {
		t.Fatal("settings without a user")
	}
}
