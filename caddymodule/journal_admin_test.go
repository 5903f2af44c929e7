package caddymodule

import (
	"bytes"
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/enumgate/enumgate/challenge"
)

// runJournalCmd runs `enumgate journal ARGS` and returns stdout; a
// failure must be one line on stderr.
func runJournalCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := &cobra.Command{Use: "journal"}
	journalCobra(root)
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	err := root.Execute()
	if err != nil {
		if want := "enumgate: " + err.Error() + "\n"; errOut.String() != want {
			t.Errorf("journal %v: stderr = %q, want one line %q", args, errOut.String(), want)
		}
	} else if errOut.Len() != 0 {
		t.Errorf("journal %v succeeded with stderr %q", args, errOut.String())
	}
	return out.String(), err
}

// journalSteps observes n steps of alice's through the running app and
// waits until they are journalled.
func journalSteps(t *testing.T, app *App, n int) {
	t.Helper()
	base := time.Now().Add(-time.Minute)
	for i := range n {
		app.observe(challenge.Event{Kind: challenge.EventIssued, Time: base.Add(time.Duration(i) * time.Second), User: "alice",
			ChallengeID: strings.Repeat(string(rune('A'+i)), 22), Operation: "transfer", Amount: "10.00", Payee: "Z•••9012",
			ClientIP: "192.0.2.7", UserAgent: "Browser\t1.0"})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := app.flushJournal(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestAdminJournalAndTheJournalCommandReadTheRunningGateway(t *testing.T) {
	config, admin := startGateway(t)
	app, err := runningApp()
	if err != nil {
		t.Fatal(err)
	}
	journalSteps(t, app, 3)

	status, m, raw := adminDo(t, "GET", admin+"/enumgate/journal/alice?limit=2")
	events, _ := m["events"].([]any)
	if status != 200 || len(events) != 2 || m["next"] == nil {
		t.Fatalf("GET journal/alice?limit=2 = %d %s", status, raw)
	}
	newest := events[0].(map[string]any)
	if newest["challenge_id"] != strings.Repeat("C", 22) || newest["event"] != "issued" || newest["ip"] != "192.0.2.7" || newest["payee"] != "Z•••9012" {
		t.Fatalf("newest event = %v", newest)
	}
	status, m, raw = adminDo(t, "GET", admin+"/enumgate/journal/alice?before="+url.QueryEscape(m["next"].(string)))
	if events, _ := m["events"].([]any); status != 200 || len(events) != 1 || m["next"] != nil {
		t.Fatalf("older page = %d %s", status, raw)
	}
	if status, m, raw := adminDo(t, "GET", admin+"/enumgate/journal/nobody"); status != 200 || raw != "{\"events\":[]}\n" || m["next"] != nil {
		t.Fatalf("journal of nobody = %d %s", status, raw)
	}
	for _, tc := range []struct {
		method, path string
		status       int
		code         string
	}{
		{"GET", "/enumgate/journal/alice?limit=0", 400, "bad_request"},
		{"GET", "/enumgate/journal/alice?before=x", 400, "bad_request"},
		{"GET", "/enumgate/journal/" + strings.Repeat("a", 300), 400, "bad_request"},
		{"GET", "/enumgate/journal/a%00b", 400, "bad_request"},
		{"GET", "/enumgate/journal/alice/more", 400, "bad_request"},
		{"POST", "/enumgate/journal/alice", 405, "method_not_allowed"},
	} {
		if status, m, raw := adminDo(t, tc.method, admin+tc.path); status != tc.status || m["error"] != tc.code {
			t.Errorf("%s %s = %d %s, want %d %s", tc.method, tc.path, status, raw, tc.status, tc.code)
		}
	}

	// The command: the config's admin address, or --address.
	out, err := runJournalCmd(t, "alice", "--config", config, "--adapter", "caddyfile", "--limit", "2")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "TIME") || !strings.Contains(lines[1], strings.Repeat("C", 22)) ||
		!strings.Contains(lines[1], "Browser 1.0") || !strings.HasPrefix(lines[3], "older: enumgate journal alice --before ") {
		t.Fatalf("journal alice --limit 2 =\n%s", out)
	}
	cursor := strings.Fields(lines[3])[5]
	addr := strings.TrimPrefix(admin, "http://")
	out, err = runJournalCmd(t, "alice", "--address", addr, "--before", cursor)
	if err != nil || strings.Count(out, "\n") != 2 || !strings.Contains(out, strings.Repeat("A", 22)) || strings.Contains(out, "older:") {
		t.Fatalf("journal alice --before %s = %q, %v", cursor, out, err)
	}
	if out, err := runJournalCmd(t, "nobody", "--address", addr); err != nil || out != "no journal entries for nobody\n" {
		t.Fatalf("journal nobody = %q, %v", out, err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"alice", "--address", addr, "--limit", "0"}, "--limit must be 1 to 100"},
		{[]string{"alice", "--address", addr, "--before", "x"}, "--before is the cursor the previous page printed"},
		{[]string{"alice", "--address", "127.0.0.1:1"}, "cannot reach the gateway's admin API at 127.0.0.1:1"},
		{[]string{"alice", "--config", config + ".missing"}, "no config: " + config + ".missing not found"},
	} {
		if _, err := runJournalCmd(t, tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("journal %v = %v, want %q", tc.args, err, tc.want)
		}
	}
}

func TestAccountChangesAreJournalledWithTheirDetail(t *testing.T) {
	startGateway(t)
	app, err := runningApp()
	if err != nil {
		t.Fatal(err)
	}
	app.observe(challenge.Event{Kind: "account_email_added", User: "alice", Detail: "b•••@example.test", ClientIP: "192.0.2.9"})
	app.observe(challenge.Event{Kind: challenge.EventRefused, User: "alice", Reason: "cross_site", Detail: "payee"})
	app.observe(challenge.Event{Kind: challenge.EventIssued}) // no user: not journalled
	ctx := context.Background()
	if err := app.flushJournal(ctx); err != nil {
		t.Fatal(err)
	}
	entries, _, err := app.journalEntries(ctx, "alice", 10, "")
	if err != nil || len(entries) != 2 {
		t.Fatalf("entries = %+v, %v", entries, err)
	}
	if e := entries[1]; e.Event != "account_email_added" || e.Detail != "b•••@example.test" || e.IP != "192.0.2.9" {
		t.Fatalf("account change = %+v", e)
	}
	if e := entries[0]; e.Event != "refused" || e.Reason != "cross_site" || e.Detail != "" {
		t.Fatalf("refusal = %+v (only account changes keep their detail)", e)
	}
}
