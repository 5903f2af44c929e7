package caddymodule

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/enumgate/enumgate/challenge/ocra/enroll"
	"github.com/enumgate/enumgate/challenge/store"
	"github.com/enumgate/enumgate/internal/redistest"
)

// runUsers runs `enumgate users ARGS --config CONFIG` and returns its
// output; a failure must be one line on stderr, "enumgate: " and the
// error.
func runUsers(t *testing.T, config string, args ...string) (string, error) {
	t.Helper()
	if config != "" {
		args = append(args, "--config", config, "--adapter", "caddyfile")
	}
	out, stderr, err := runUsersRaw(t, args...)
	if err != nil {
		if want := "enumgate: " + err.Error() + "\n"; stderr != want {
			t.Errorf("users %v: stderr = %q, want one line %q", args, stderr, want)
		}
	} else if stderr != "" {
		t.Errorf("users %v succeeded with stderr %q", args, stderr)
	}
	return out, err
}

// runUsersRaw runs `enumgate users ARGS` and returns stdout and stderr.
func runUsersRaw(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	root := &cobra.Command{Use: "users"}
	usersCobra(root)
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	err = root.Execute()
	return out.String(), errOut.String(), err
}

func TestUsersCommandsManageRedisUsers(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	rs := redistest.Start(t, redistest.Options{})
	dir := t.TempDir()
	config := filepath.Join(dir, "Caddyfile")
	os.WriteFile(config, []byte(`{
	admin off
	enumgate {
		secret users-command-test-secret
		store redis `+rs.URL+`
		users redis
	}
}
`), 0o600)

	out, err := runUsers(t, config, "import", "../demo/users.json")
	if err != nil || !strings.Contains(out, "imported 3 users") {
		t.Fatalf("import = %q, %v", out, err)
	}
	out, err = runUsers(t, config, "list")
	if err != nil || out != "alice\nbob\ndave\n" {
		t.Fatalf("list = %q, %v", out, err)
	}
	out, err = runUsers(t, config, "show", "alice")
	if err != nil || !strings.Contains(out, `"phone": "+79000000001"`) || strings.Contains(out, "3132333435") {
		t.Fatalf("show = %q, %v (the key must never be shown)", out, err)
	}
	out, err = runUsers(t, config, "set", "carol", "--phone", "+79000000003", "--email", "carol@example.test", "--new-device", "phone", "--issuer", "Demo Bank")
	if err != nil {
		t.Fatalf("set = %q, %v", out, err)
	}
	uri := strings.Trim(strings.TrimSpace(out[strings.Index(out, "enum enroll ")+len("enum enroll "):]), "'")
	e, err := enroll.Parse(uri)
	if err != nil || e.Account != "carol" || e.Issuer != "Demo Bank" || len(e.Key) != 32 {
		t.Fatalf("enrolment URI %q = %+v, %v", uri, e, err)
	}
	if _, err := runUsers(t, config, "set", "carol", "--phone", "0800"); err == nil {
		t.Fatal("set accepted a bad phone number")
	}
	if out, err := runUsers(t, config, "reset-device", "carol"); err != nil || !strings.Contains(out, "removed the E-num devices") {
		t.Fatalf("reset-device = %q, %v", out, err)
	}
	if out, _ := runUsers(t, config, "show", "carol"); strings.Contains(out, `"devices"`) {
		t.Fatalf("devices left after reset-device: %s", out)
	}

	// unlock lifts a lock the store holds.
	err = withApp(usersFlags{config: config, adapter: "caddyfile"}, func(ctx context.Context, a *App) error {
		st := a.storeMod.(StoreModule).ChallengeStore()
		r := &store.Record{ID: "AAAAAAAAAAAAAAAAAAAAAA", User: "alice", Session: make([]byte, 32), Operation: "transfer",
			Methods: []string{"enum"}, Digest: make([]byte, 32), Created: time.Now(), Expires: time.Now().Add(time.Minute), MaxAttempts: 3, AttemptsLeft: 3}
		o := store.Owner{User: "alice", Session: r.Session}
		if err := st.Create(ctx, r, time.Now()); err != nil {
			return err
		}
		if _, err := st.Begin(ctx, r.ID, o, store.Begin{Method: "enum", Expected: [][]byte{make([]byte, 32)}}, time.Now()); err != nil {
			return err
		}
		if res, err := st.Attempt(ctx, r.ID, o, bytes.Repeat([]byte{1}, 32), store.Lockout{After: 1, For: time.Hour}, time.Now()); err != nil || res.LockedUntil.IsZero() {
			t.Fatalf("locking alice = %+v, %v", res, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if out, err := runUsers(t, config, "show", "alice"); err != nil || !strings.Contains(out, `"locked_until"`) {
		t.Fatalf("show of locked alice = %q, %v", out, err)
	}
	if out, err := runUsers(t, config, "unlock", "alice"); err != nil || out != "unlocked alice\n" {
		t.Fatalf("unlock = %q, %v", out, err)
	}
	if _, err := runUsers(t, config, "unlock", "nosuch"); err == nil || err.Error() != `no user "nosuch"` {
		t.Fatalf("unlock nosuch = %v", err)
	}
	if _, err := runUsers(t, config, "reset-device", "nosuch"); err == nil || err.Error() != `no user "nosuch"` {
		t.Fatalf("reset-device nosuch = %v", err)
	}
	withApp(usersFlags{config: config, adapter: "caddyfile"}, func(ctx context.Context, a *App) error {
		if until, _ := a.storeMod.(StoreModule).ChallengeStore().LockedUntil(ctx, "alice", time.Now()); !until.IsZero() {
			t.Fatalf("alice still locked until %v", until)
		}
		return nil
	})

	if out, err := runUsers(t, config, "reencrypt"); err != nil || !strings.Contains(out, "re-encrypted") {
		t.Fatalf("reencrypt = %q, %v", out, err)
	}
	if _, err := runUsers(t, config, "delete", "carol"); err != nil {
		t.Fatal(err)
	}
	if _, err := runUsers(t, config, "show", "carol"); err == nil || err.Error() != `no user "carol"` {
		t.Fatalf("show after delete = %v", err)
	}
	if _, err := runUsers(t, config, "delete", "carol"); err == nil || err.Error() != `no user "carol"` {
		t.Fatalf("second delete = %v", err)
	}
}

func TestUsersCommandsNeedUsersRedis(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	config := filepath.Join(t.TempDir(), "Caddyfile")
	os.WriteFile(config, []byte("{\n\tadmin off\n\tenumgate {\n\t\tsecret 0123456789abcdef0123\n\t\tusers file ../demo/users.json\n\t}\n}\n"), 0o600)
	if _, err := runUsers(t, config, "list"); err == nil || !strings.Contains(err.Error(), "users redis") {
		t.Fatalf("list with a users file = %v", err)
	}
	// With the memory store, unlock goes to the running gateway's admin
	// API, and this config turns it off.
	if _, err := runUsers(t, config, "unlock", "alice"); err == nil || !strings.Contains(err.Error(), "'admin off'") {
		t.Fatalf("unlock with the memory store and admin off = %v", err)
	}
}

func TestConfirmKeyCommandPrintsTheDerivedKey(t *testing.T) {
	t.Setenv("ENUMGATE_SECRET", "")
	fs := pflag.NewFlagSet("confirm-key", pflag.ContinueOnError)
	fs.String("secret", "", "")
	if code, err := cmdConfirmKey(caddycmd.Flags{FlagSet: fs}); code != 1 || err == nil {
		t.Fatalf("without a secret = %d, %v", code, err)
	}
	fs.Set("secret", "short")
	if code, err := cmdConfirmKey(caddycmd.Flags{FlagSet: fs}); code != 1 || err == nil {
		t.Fatalf("with a short secret = %d, %v", code, err)
	}
}
