package browsertest

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	_ "github.com/caddyserver/caddy/v2/modules/standard"
	"github.com/chromedp/chromedp"

	_ "github.com/enumgate/enumgate/caddymodule"
	_ "github.com/enumgate/enumgate/caddymodule/redismod"
	_ "github.com/enumgate/enumgate/caddymodule/senders"
	"github.com/enumgate/enumgate/challenge/ocra"
	"github.com/enumgate/enumgate/challenge/ocra/payment"
	"github.com/enumgate/enumgate/demo"
)

var updateScreenshots = flag.Bool("update-screenshots", false, "also write the screenshots of docs/screenshots/")

// env is what every test shares: one Caddy, one browser.
var env struct {
	skip    string          // why the tests skip, if they do
	gw      string          // the gateway of Caddyfile.example
	short   string          // the same gateway with ttl 30s
	app     string          // the demo app and its phone
	browser context.Context // the running browser; tabs are its children
	users   atomic.Int32    // users handed out so far
}

// testUsers are the users of the test's users file besides the demo's
// (alice, bob and dave, who has no device): each test takes its own, so
// lockouts, SMS limits and phone inboxes of tests running in parallel
// never mix.
var testUsers = []string{
	"carol", "chuck", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory", "niaj",
	"olivia", "peggy", "rupert", "sybil", "trent", "ursula", "victor", "walter", "xena", "yuri",
	"zara", "amos", "bella", "cyrus", "delia", "emil", "fiona", "gus",
}

// user is one demo user of the test run.
type user struct {
	ID, Phone, Email string
}

// newUser hands out the next unused test user.
func newUser(t *testing.T) user {
	t.Helper()
	i := int(env.users.Add(1)) - 1
	if i >= len(testUsers) {
		t.Fatal("out of test users: add names to testUsers")
	}
	return user{ID: testUsers[i], Phone: fmt.Sprintf("+7900000%04d", 100+i), Email: testUsers[i] + "@example.test"}
}

func TestMain(m *testing.M) {
	flag.Parse()
	if v := os.Getenv("ENUMGATE_UPDATE_SCREENSHOTS"); v != "" && v != "0" {
		*updateScreenshots = true
	}
	os.Exit(run(m))
}

func run(m *testing.M) int {
	tmp, err := os.MkdirTemp("", "enumgate-browsertest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	// Caddy writes to $HOME even with admin off.
	for _, k := range []string{"HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME"} {
		os.Setenv(k, filepath.Join(tmp, "home"))
	}

	chromium := findChromium()
	if chromium == "" {
		msg := "no Chromium or Chrome found (looked at $ENUMGATE_CHROMIUM, /usr/bin/chromium and the PATH)"
		if os.Getenv("CI") == "true" {
			fmt.Fprintln(os.Stderr, "browsertest: FAIL: "+msg+"; CI=true requires a browser")
			return 1
		}
		env.skip = msg
		return m.Run()
	}
	if err := startCaddy(tmp); err != nil {
		fmt.Fprintln(os.Stderr, "browsertest:", err)
		return 1
	}
	defer caddy.Stop()

	// The browser gets its own profile and its own TMPDIR, so the
	// org.chromium.Chromium.* files it leaves go with tmp.
	profile, btmp := filepath.Join(tmp, "profile"), filepath.Join(tmp, "tmp")
	if err := os.MkdirAll(btmp, 0o700); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.NoSandbox, // tests often run as root, where Chromium needs it
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(800, 1000),
		chromedp.Env("TMPDIR="+btmp),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	browser, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()
	// No timeout on the first context: it would end the browser.
	if err := chromedp.Do(browser); err != nil {
		msg := fmt.Sprintf("starting %s: %v", chromium, err)
		if os.Getenv("CI") == "true" {
			fmt.Fprintln(os.Stderr, "browsertest: FAIL:", msg)
			return 1
		}
		env.skip = msg
	}
	env.browser = browser
	return m.Run()
}

func findChromium() string {
	for _, p := range []string{os.Getenv("ENUMGATE_CHROMIUM"), "/usr/bin/chromium"} {
		if p == "" {
			continue
		}
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	for _, n := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell"} {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	return ""
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startCaddy runs Caddyfile.example in this process, on free ports, with
// what the tests need on top:
//   - the test users (in basic_auth and in a users file beside demo's);
//   - branding: a ui block with a name, a logo file, a help link and SMS
//     marked as paid;
//   - a 3s resend cooldown, no SMS cooldowns between challenges and 3 SMS
//     an hour per user, so resend and SMS limits can be tested quickly;
//     no e-mail cooldowns, so an account verifies two addresses at once;
//   - the protected section settings in front of the demo's /settings
//     (grant 10m), unless Caddyfile.example has it;
//   - a copy of the gateway on a third port with ttl 30s, the shortest
//     ttl allowed, for the expiry test.
func startCaddy(tmp string) error {
	src, err := os.ReadFile("../../Caddyfile.example")
	if err != nil {
		return err
	}
	cf := string(src)
	var ports [3]int
	for i := range ports {
		if ports[i], err = freePort(); err != nil {
			return err
		}
	}
	usersFile, err := writeUsers(tmp)
	if err != nil {
		return err
	}
	// The password of every demo user is "demo": reuse alice's hash.
	hash := regexp.MustCompile(`(?m)^\s*alice (\S+)$`).FindStringSubmatch(cf)
	if hash == nil {
		return errors.New("Caddyfile.example: no basic_auth line for alice")
	}
	var logins strings.Builder
	for _, u := range testUsers {
		fmt.Fprintf(&logins, "\t\t%s %s\n", u, hash[1])
	}
	must := func(old, new string) {
		if err == nil && !strings.Contains(cf, old) {
			err = fmt.Errorf("Caddyfile.example has changed: no %q", old)
		}
		cf = strings.Replace(cf, old, new, 1)
	}
	must("\talice "+hash[1]+"\n", "\talice "+hash[1]+"\n"+logins.String())
	must("users file demo/users.json", "users file "+usersFile)
	logo, _ := filepath.Abs(filepath.Join("testdata", "logo.svg"))
	must("\t\tui {\n\t\t\tname \"Demo Bank\"\n\t\t\tsms_paid\n\t\t}\n",
		"\t\tui {\n\t\t\tname \"Demo Bank\"\n\t\t\tlogo "+logo+"\n\t\t\thelp_url https://bank.example/help\n\t\t\tsms_paid\n\t\t}\n")
	must("{\n\tenumgate {", "{\n\tadmin off\n\tpersist_config off\n\tlog {\n\t\tlevel ERROR\n\t}\n\tenumgate {\n"+
		"\t\tresend_cooldown 3s\n\t\tsms_limits {\n\t\t\tuser_cooldown off\n\t\t\tphone_cooldown off\n\t\t\tuser_hourly 3\n\t\t}\n"+
		"\t\temail_limits {\n\t\t\tuser_cooldown off\n\t\t\taddress_cooldown off\n\t\t}")
	// The protected section of issue 12 in front of the demo's /settings,
	// until Caddyfile.example has it.
	if !strings.Contains(cf, "protect_section settings") {
		must("\t\tmethods enum sms email\n", "\t\tprotect_section settings GET POST /settings* {\n\t\t\tgrant 10m\n\t\t}\n\t\tmethods enum sms email\n")
	}
	if err != nil {
		return err
	}
	// The gateway's site block, copied with ttl 30s.
	start := strings.Index(cf, "http://:8080 {")
	end := strings.Index(cf[start:], "\n}\n")
	if start < 0 || end < 0 {
		return errors.New("Caddyfile.example has changed: no http://:8080 site")
	}
	site := cf[start : start+end+3]
	short := strings.Replace(strings.Replace(site, "http://:8080", "http://:8081", 1), "ttl 5m", "ttl 30s", 1)
	if short == site || !strings.Contains(short, "ttl 30s") {
		return errors.New("Caddyfile.example has changed: the gateway has no ttl 5m")
	}
	cf += "\n" + short
	cf = strings.NewReplacer(
		":8080", fmt.Sprintf(":%d", ports[0]),
		":8081", fmt.Sprintf(":%d", ports[1]),
		":9080", fmt.Sprintf(":%d", ports[2]),
	).Replace(cf)
	cfg, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(cf), nil)
	if err != nil {
		return fmt.Errorf("adapting the test Caddyfile: %w\n%s", err, cf)
	}
	if err := caddy.Load(cfg, true); err != nil {
		return fmt.Errorf("loading the test Caddyfile: %w", err)
	}
	env.gw = fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	env.short = fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	env.app = fmt.Sprintf("http://127.0.0.1:%d", ports[2])
	return nil
}

// writeUsers writes demo/users.json plus the test users, each with
// alice's E-num device, and returns the file's path.
func writeUsers(tmp string) (string, error) {
	raw, err := os.ReadFile("../../demo/users.json")
	if err != nil {
		return "", err
	}
	var f struct {
		Users []map[string]any `json:"users"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		return "", fmt.Errorf("demo/users.json: %w", err)
	}
	alice := demo.Users[0]
	for i, id := range testUsers {
		f.Users = append(f.Users, map[string]any{
			"id": id, "phone": fmt.Sprintf("+7900000%04d", 100+i), "emails": []string{id + "@example.test"},
			"devices": []map[string]string{{"name": "phone", "suite": alice.Suite, "key": alice.Key}},
		})
	}
	out, _ := json.Marshal(f)
	p := filepath.Join(tmp, "users.json")
	return p, os.WriteFile(p, out, 0o600)
}

// shownURIs maps each question a page showed to the enum: URI it showed
// with it (the question's data-uri; the QR code carries the same).
var shownURIs sync.Map

// enumAnswer is what the E-num app of a test user (alice's device)
// answers to question q: in payment mode, as the page's URI says, from
// the question, payee and amount (cmd/enum's code path: payment.ParseURI
// and payment.Answer); else from the question alone.
func enumAnswer(t *testing.T, q string) string {
	t.Helper()
	if v, ok := shownURIs.Load(q); ok {
		return uriAnswer(t, v.(string))
	}
	return plainAnswer(t, q)
}

// plainAnswer is the authorization-mode answer to q.
func plainAnswer(t *testing.T, q string) string {
	t.Helper()
	alice := demo.Users[0]
	s, err := ocra.ParseSuite(alice.Suite)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := hex.DecodeString(alice.Key)
	a, err := s.Compute(key, ocra.Input{Question: q})
	if err != nil {
		t.Fatalf("computing the answer to %q: %v", q, err)
	}
	return a
}

// uriAnswer answers an enum: URI as `enum answer URI` does.
func uriAnswer(t *testing.T, uri string) string {
	t.Helper()
	u, err := payment.ParseURI(uri)
	if err != nil {
		t.Fatalf("the page's URI %q: %v", uri, err)
	}
	if u.Mode != payment.ModePayment {
		return plainAnswer(t, u.Challenge)
	}
	alice := demo.Users[0]
	s, err := ocra.ParseSuite(alice.Suite)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := hex.DecodeString(alice.Key)
	a, err := payment.Answer(s, key, ocra.Input{Question: u.Challenge}, u.Purse, u.Amount)
	if err != nil {
		t.Fatalf("computing the payment answer to %q: %v", uri, err)
	}
	return a
}

// phoneMessage is one message the demo phone received.
type phoneMessage struct {
	To, Text, Code, At string
}

// messages returns what the demo phone received for to, newest first.
func messages(t *testing.T, to string) []phoneMessage {
	t.Helper()
	resp, err := http.Get(env.app + "/phone/messages?to=" + url.QueryEscape(to))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var msgs []phoneMessage
	if err := json.NewDecoder(resp.Body).Decode(&msgs); err != nil {
		t.Fatalf("demo phone: %v", err)
	}
	return msgs
}

// waitMessage waits for the n-th message to to and returns its code.
func waitMessage(t *testing.T, to string, n int) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		msgs := messages(t, to)
		if len(msgs) >= n && msgs[0].Code != "" {
			return msgs[0].Code
		}
		if time.Now().After(deadline) {
			t.Fatalf("the demo phone got %d messages to %s, want %d: %+v", len(msgs), to, n, msgs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func basicAuth(id string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":demo"))
}
