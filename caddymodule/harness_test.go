package caddymodule_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	"github.com/enumgate/enumgate/caddymodule"
	_ "github.com/enumgate/enumgate/caddymodule/senders"
	"github.com/enumgate/enumgate/challenge/store"
)

func TestMain(m *testing.M) {
	// Caddy writes to $HOME even with admin off.
	home, err := os.MkdirTemp("", "enumgate-caddy-home")
	if err != nil {
		panic(err)
	}
	os.Setenv("HOME", home)
	os.Setenv("XDG_CONFIG_HOME", home+"/config")
	os.Setenv("XDG_DATA_HOME", home+"/data")
	code := m.Run()
	os.RemoveAll(home)
	os.Exit(code)
}

const testSecret = "test-secret-0123456789abcdef"

// usersFile writes the test users and returns the file's path.
func usersFile(t *testing.T) string {
	t.Helper()
	p := t.TempDir() + "/users.json"
	err := os.WriteFile(p, []byte(`{"users": [
	 {"id": "alice", "phone": "+79000000001", "emails": ["alice@example.test"],
	  "devices": [{"name": "phone", "suite": "OCRA-1:HOTP-SHA256-8:QN08", "key": "3132333435363738393031323334353637383930313233343536373839303132"}]},
	 {"id": "bob", "phone": "+79000000002", "emails": ["bob@example.test"],
	  "devices": [{"name": "phone", "key": "3132333435363738393031323334353637383930"}]}
	]}`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// freePort returns a TCP port free on 127.0.0.1 at the time of the call.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// loadCaddyfile adapts and runs a Caddyfile in this process, replacing
// any running config (a reload), and stops Caddy when the test ends.
func loadCaddyfile(t *testing.T, caddyfile string) {
	t.Helper()
	cfg, warnings, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(caddyfile), nil)
	if err != nil {
		t.Fatalf("adapting Caddyfile: %v\n%s", err, caddyfile)
	}
	for _, w := range warnings {
		if !strings.Contains(w.Message, "not formatted") {
			t.Logf("adapt warning: %s", w.String())
		}
	}
	if err := caddy.Load(cfg, true); err != nil {
		t.Fatalf("loading config: %v\n%s", err, cfg)
	}
	t.Cleanup(func() { caddy.Stop() })
}

// upstream is the payment app behind the gateway: it records every
// request and answers 201 with a JSON echo (or what respond says).
type upstream struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []recorded
}

type recorded struct {
	Method, URI, Host string
	Header            http.Header
	Body              []byte
	Trailer           http.Header // after the body was read
	TransferEncoding  []string
	ContentLength     int64
}

func newUpstream(t *testing.T) *upstream {
	u := &upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(u.serve))
	t.Cleanup(u.Close)
	return u
}

// restart starts the upstream again on its old address after Close, as
// a payment app coming back after an outage.
func (u *upstream) restart(t *testing.T, addr string) {
	t.Helper()
	var l net.Listener
	var err error
	for range 50 {
		if l, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("restarting the upstream on %s: %v", addr, err)
	}
	s := httptest.NewUnstartedServer(http.HandlerFunc(u.serve))
	s.Listener.Close()
	s.Listener = l
	s.Start()
	t.Cleanup(s.Close)
}

func (u *upstream) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	u.mu.Lock()
	u.reqs = append(u.reqs, recorded{r.Method, r.RequestURI, r.Host, r.Header.Clone(), body, r.Trailer.Clone(), r.TransferEncoding, r.ContentLength})
	u.mu.Unlock()
	switch r.URL.Path {
	case "/stream":
		for i := range 3 {
			fmt.Fprintf(w, "chunk %d\n", i)
			w.(http.Flusher).Flush()
			time.Sleep(50 * time.Millisecond)
		}
		return
	case "/ws":
		wsEcho(w, r)
		return
	}
	if strings.Contains(r.Header.Get("Accept"), "text/html") {
		http.Redirect(w, r, "/receipt/1", http.StatusSeeOther)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(map[string]string{"status": "completed", "path": r.URL.Path})
}

// wsEcho upgrades the connection (any Upgrade protocol, as a WebSocket
// server would) and echoes bytes back.
func wsEcho(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Upgrade") == "" {
		http.Error(w, "upgrade required", http.StatusUpgradeRequired)
		return
	}
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	buf.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
	buf.Flush()
	io.Copy(conn, buf)
}

func (u *upstream) requests() []recorded {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]recorded(nil), u.reqs...)
}

func (u *upstream) addr() string { return strings.TrimPrefix(u.URL, "http://") }

// phone is an SMS/e-mail provider: it receives what the webhook sender
// posts.
type phone struct {
	*httptest.Server
	mu   sync.Mutex
	msgs []map[string]string
	fail bool
}

func newPhone(t *testing.T) *phone {
	p := &phone{}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.fail {
			http.Error(w, "provider down", http.StatusBadGateway)
			return
		}
		var m map[string]string
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		p.msgs = append(p.msgs, m)
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *phone) last(t *testing.T, to string) map[string]string {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := len(p.msgs) - 1; i >= 0; i-- {
		if p.msgs[i]["to"] == to {
			return p.msgs[i]
		}
	}
	t.Fatalf("no message to %s", to)
	return nil
}

// gateway is a running Caddy with enumgate in front of an upstream.
type gateway struct {
	port     int
	base     string
	upstream *upstream
	phone    *phone
}

type gatewayOptions struct {
	extraGlobal string // more lines for the enumgate global block
	handler     string // the enumgate directive's block contents
	store       string
	users       string // default: file <the test users>
}

const defaultRules = `
		user {http.request.header.X-User}
		session {http.request.header.X-Session}
		protect transfer POST /transfer /api/transfers* {
			amount amount
			payee to
		}
		protect withdrawal POST /withdraw* {
			when amount > 1000
			amount amount
			payee card
		}
		protect new_correspondent POST /correspondents
		max_body 1KiB
`

func startGateway(t *testing.T, o gatewayOptions) *gateway {
	t.Helper()
	g := &gateway{upstream: newUpstream(t), phone: newPhone(t), port: freePort(t)}
	g.base = fmt.Sprintf("http://127.0.0.1:%d", g.port)
	g.reload(t, o)
	return g
}

// reload (first) loads the gateway's config with options o: the same
// port, upstream and phone.
func (g *gateway) reload(t *testing.T, o gatewayOptions) {
	t.Helper()
	if o.handler == "" {
		o.handler = defaultRules
	}
	if o.store == "" {
		o.store = "memory"
	}
	if o.users == "" {
		o.users = "file " + usersFile(t)
	}
	loadCaddyfile(t, fmt.Sprintf(`{
	admin off
	persist_config off
	log {
		level ERROR
	}
	enumgate {
		secret %s
		store %s
		users %s
		sms webhook %s/sms
		email webhook %s/email
		%s
	}
}
http://127.0.0.1:%d {
	enumgate {
		%s
	}
	reverse_proxy %s {
		flush_interval -1
	}
}
`, testSecret, o.store, o.users, g.phone.URL, g.phone.URL, o.extraGlobal, g.port, o.handler, g.upstream.addr()))
}

// client is an API client acting as one user and session.
type client struct {
	t       *testing.T
	g       *gateway
	user    string
	session string
	html    bool
}

func (g *gateway) client(t *testing.T, user string) *client {
	return &client{t: t, g: g, user: user, session: "session-of-" + user}
}

type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("response %d is not JSON: %v: %s", r.Status, err, r.Body)
	}
	return m
}

func (c *client) do(method, path, contentType string, body []byte, header ...string) response {
	c.t.Helper()
	req, err := http.NewRequest(method, c.g.base+path, bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.user != "" {
		req.Header.Set("X-User", c.user)
	}
	req.Header.Set("X-Session", c.session)
	if c.html {
		req.Header.Set("Accept", "text/html,application/xhtml+xml")
	} else {
		req.Header.Set("Accept", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }, Timeout: 10 * time.Second}
	resp, err := hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header, b}
}

func (c *client) postJSON(path string, v any) response {
	c.t.Helper()
	b, _ := json.Marshal(v)
	return c.do("POST", path, "application/json", b)
}

// failingStore is a store whose backend is down.
type failingStore struct{}

func (failingStore) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "enumgate.stores.failing", New: func() caddy.Module { return failingStore{} }}
}
func (failingStore) ChallengeStore() store.Store { return downStore{} }
func (failingStore) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next()
	return nil
}

type downStore struct{}

var errDown = errors.New("dial tcp 127.0.0.1:6379: connection refused")

func (downStore) Create(context.Context, *store.Record, time.Time) error { return errDown }
func (downStore) Get(context.Context, string, store.Owner, time.Time) (*store.Record, error) {
	return nil, errDown
}
func (downStore) Begin(context.Context, string, store.Owner, store.Begin, time.Time) (*store.Record, error) {
	return nil, errDown
}
func (downStore) Attempt(context.Context, string, store.Owner, []byte, store.Lockout, time.Time) (store.Result, error) {
	return store.Result{}, errDown
}
func (downStore) Delete(context.Context, string, store.Owner) error { return errDown }
func (downStore) LockedUntil(context.Context, string, time.Time) (time.Time, error) {
	return time.Time{}, errDown
}
func (downStore) Unlock(context.Context, string) error { return errDown }
func (downStore) Failures(context.Context, string, time.Time) (int, time.Time, error) {
	return 0, time.Time{}, errDown
}
func (downStore) SpendSMS(context.Context, string, string, store.SMSLimits, time.Time) error {
	return errDown
}
func (downStore) SpendEmail(context.Context, string, string, store.MessageLimits, time.Time) error {
	return errDown
}
func (downStore) Refund(context.Context, string, string, string, time.Time) error { return errDown }
func (downStore) Deliver(context.Context, string, store.Owner, int, time.Time) (*store.Record, error) {
	return nil, errDown
}
func (downStore) Settle(context.Context, string, store.Owner, bool, time.Time) error { return errDown }

func init() { caddy.RegisterModule(failingStore{}) }

var _ caddymodule.StoreModule = failingStore{}
