package caddymodule_test

import (
	"net/http"
	"testing"
)

// TestASectionAsksOnceAndCannotBeDodged: the first request in a section
// is held; once confirmed, the section is open for this session only; a
// method override naming a covered method is held like the method.
func TestASectionAsksOnceAndCannotBeDodged(t *testing.T) {
	g := startGateway(t, gatewayOptions{handler: defaultRules + "\t\tprotect_section settings GET POST /settings* {\n\t\t\tgrant 10m\n\t\t}\n"})
	alice := g.client(t, "alice")
	other := g.client(t, "alice")
	other.session = "another-session"
	if r := alice.do("PUT", "/settings", "application/json", []byte(`{}`), "X-HTTP-Method-Override", "POST"); r.Status != http.StatusUnauthorized {
		t.Fatalf("an override into the section = %d %s, want it held", r.Status, r.Body)
	}
	r := alice.do("GET", "/settings/profile", "", nil)
	if r.Status != http.StatusUnauthorized || r.json(t)["operation"] != "section_settings" {
		t.Fatalf("first visit = %d %s", r.Status, r.Body)
	}
	id := r.json(t)["challenge_id"].(string)
	q := alice.beginEnum(id)
	if a := alice.postJSON("/.enumgate/api/challenges/"+id+"/answer", map[string]string{"answer": enumApp(t, q)}); a.Status/100 != 2 {
		t.Fatalf("confirmation = %d %s", a.Status, a.Body)
	}
	before := len(g.upstream.requests())
	if r := alice.do("POST", "/settings", "application/json", []byte(`{"x":1}`)); r.Status/100 != 2 || len(g.upstream.requests()) != before+1 {
		t.Fatalf("inside the open section = %d %s", r.Status, r.Body)
	}
	if r := other.do("GET", "/settings", "", nil); r.Status != http.StatusUnauthorized {
		t.Fatalf("another session = %d, want 401", r.Status)
	}
	if r := alice.do("DELETE", "/settings", "", nil); r.Status/100 != 2 {
		t.Fatalf("a method the section does not cover = %d, want it passed", r.Status)
	}
}
