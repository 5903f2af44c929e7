package caddymodule_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/enumgate/enumgate/challenge/journal"
	"github.com/enumgate/enumgate/internal/redistest"
)

// journalEvent is an event of the journal API, with the keys it has.
type journalEvent map[string]any

// journalPage reads the client's journal through the API.
func (c *client) journalPage(query string) (page struct {
	Events []journalEvent `json:"events"`
	Next   string         `json:"next"`
}, raw map[string]any) {
	c.t.Helper()
	r := c.do("GET", "/.enumgate/api/journal"+query, "", nil)
	if r.Status != http.StatusOK {
		c.t.Fatalf("GET journal%s = %d %s", query, r.Status, r.Body)
	}
	if err := json.Unmarshal(r.Body, &page); err != nil {
		c.t.Fatal(err)
	}
	return page, r.json(c.t)
}

// waitJournal waits until the client's journal holds the event kinds
// want, newest first (the journal is fed asynchronously), and returns
// its events.
func (c *client) waitJournal(want ...string) []journalEvent {
	c.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		p, _ := c.journalPage("?limit=100")
		var got []string
		for _, e := range p.Events {
			got = append(got, e["event"].(string))
		}
		if strings.Join(got, " ") == strings.Join(want, " ") {
			return p.Events
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("journal of %s = %v, want %v", c.user, got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// confirmWithAWrongAnswerFirst runs one transfer: a wrong answer, then
// the right one. Its journal is issued, method_begun, wrong_answer,
// confirmed, delivered.
func confirmWithAWrongAnswerFirst(t *testing.T, c *client) string {
	t.Helper()
	id := c.hold()
	q := c.beginEnum(id)
	if r := c.postJSON("/.enumgate/api/challenges/"+id+"/answer", map[string]string{"answer": "00000000"}); r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("wrong answer = %d %s", r.Status, r.Body)
	}
	if r := c.postJSON("/.enumgate/api/challenges/"+id+"/answer", map[string]string{"answer": enumApp(t, q)}); r.Status != http.StatusCreated {
		t.Fatalf("answer = %d %s", r.Status, r.Body)
	}
	return id
}

var journalFlow = []string{"delivered", "confirmed", "wrong_answer", "method_begun", "issued"}

func TestJournalAPIShowsEveryStepNewestFirst(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	alice := g.client(t, "alice")
	id := confirmWithAWrongAnswerFirst(t, alice)
	events := alice.waitJournal(journalFlow...)

	confirmed := events[1]
	want := journalEvent{"event": "confirmed", "operation": "transfer", "amount": "10.00", "payee": "Z123456789012",
		"method": "enum", "ip": "127.0.0.1", "user_agent": "Go-http-client/1.1", "challenge_id": id}
	for k, v := range want {
		if confirmed[k] != v {
			t.Errorf("confirmed[%s] = %v, want %v", k, confirmed[k], v)
		}
	}
	at, err := time.Parse(time.RFC3339Nano, fmt.Sprint(confirmed["at"]))
	if err != nil || time.Since(at) > time.Minute || time.Since(at) < 0 {
		t.Errorf("confirmed at %v (%v)", confirmed["at"], err)
	}
	// Absent fields are omitted; nothing but the API's keys, and never
	// a code or the question.
	if _, ok := events[4]["method"]; ok {
		t.Errorf("issued has a method: %v", events[4])
	}
	allowed := "at event operation amount payee method ip user_agent challenge_id"
	for _, e := range events {
		for k := range e {
			if !strings.Contains(" "+allowed+" ", " "+k+" ") {
				t.Errorf("event %v has key %q", e["event"], k)
			}
		}
	}

	// Each customer sees their own journal only.
	if p, raw := g.client(t, "bob").journalPage(""); len(p.Events) != 0 || raw["next"] != nil {
		t.Fatalf("bob's journal = %v", raw)
	}
}

func TestJournalAPIPagesWithCursors(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	c := g.client(t, "alice")
	confirmWithAWrongAnswerFirst(t, c)
	all := c.waitJournal(journalFlow...)

	var paged []journalEvent
	query := "?limit=2"
	for pages := 0; ; pages++ {
		if pages > 3 {
			t.Fatal("paging does not end")
		}
		p, _ := c.journalPage(query)
		paged = append(paged, p.Events...)
		if p.Next == "" {
			if len(p.Events) != 1 {
				t.Errorf("last page has %d events, want 1", len(p.Events))
			}
			break
		}
		if len(p.Events) != 2 {
			t.Fatalf("page %d has %d events, want 2", pages, len(p.Events))
		}
		query = "?limit=2&before=" + url.QueryEscape(p.Next)
	}
	if fmt.Sprint(paged) != fmt.Sprint(all) {
		t.Fatalf("pages = %v\nwant %v", paged, all)
	}

	// New steps never shift an older page.
	first, _ := c.journalPage("?limit=2")
	c.hold()
	c.waitJournal(append([]string{"issued"}, journalFlow...)...)
	again, _ := c.journalPage("?limit=2&before=" + url.QueryEscape(first.Next))
	if fmt.Sprint(again.Events) != fmt.Sprint(all[2:4]) {
		t.Fatalf("the second page after a new step = %v, want %v", again.Events, all[2:4])
	}
}

func TestJournalAPIRefusesBadQueriesAndStrangers(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	c := g.client(t, "alice")
	for _, q := range []string{"?limit=0", "?limit=101", "?limit=abc", "?limit=-1", "?limit=+5", "?limit=05", "?limit=1&limit=2",
		"?before=abc", "?before=01-0", "?before=1-", "?before=" + strings.Repeat("1", 50) + "-0", "?before=1-0&before=2-0"} {
		r := c.do("GET", "/.enumgate/api/journal"+q, "", nil)
		if m := r.json(t); r.Status != http.StatusBadRequest || m["error"] != "bad_request" || m["message"] == "" {
			t.Errorf("GET journal%s = %d %s, want 400 bad_request", q, r.Status, r.Body)
		}
	}
	r := c.do("GET", "/.enumgate/api/journal?limit=0", "", nil, "Accept-Language", "ru")
	if m := r.json(t); !strings.Contains(fmt.Sprint(m["message"]), "от 1 до 100") {
		t.Errorf("Russian message = %v", m["message"])
	}
	if r := c.do("GET", "/.enumgate/api/journal?limit=100&before=1-0", "", nil); r.Status != http.StatusOK {
		t.Errorf("the largest page before the first cursor = %d %s", r.Status, r.Body)
	}
	if r := c.do("POST", "/.enumgate/api/journal", "application/json", []byte("{}")); r.Status != http.StatusMethodNotAllowed || r.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST journal = %d %v", r.Status, r.Header)
	}
	anon := g.client(t, "")
	r = anon.do("GET", "/.enumgate/api/journal", "", nil)
	if r.Status != http.StatusUnauthorized || r.json(t)["error"] != "unauthenticated" {
		t.Errorf("journal without a user = %d %s", r.Status, r.Body)
	}
	anon.html = true
	if r := anon.do("GET", "/.enumgate/journal", "", nil); r.Status != http.StatusUnauthorized || !bytes.Contains(r.Body, []byte(`data-error="unauthenticated"`)) {
		t.Errorf("journal page without a user = %d %s", r.Status, r.Body)
	}
}

func TestJournalPageShowsTheStepsInTheCustomersLanguage(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	c := g.client(t, "alice")
	confirmWithAWrongAnswerFirst(t, c)
	c.waitJournal(journalFlow...)
	c.html = true

	r := c.do("GET", "/.enumgate/journal", "", nil)
	if r.Status != http.StatusOK || r.Header.Get("Content-Type") != "text/html; charset=utf-8" || r.Header.Get("Cache-Control") != "no-store" ||
		!strings.Contains(r.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") || r.Header.Get("X-Frame-Options") != "DENY" ||
		r.Header.Get("Content-Language") != "en" {
		t.Fatalf("journal page = %d %v", r.Status, r.Header)
	}
	body := string(r.Body)
	events := regexp.MustCompile(`data-event="([a-z_]+)"`).FindAllStringSubmatch(body, -1)
	var got []string
	for _, e := range events {
		got = append(got, e[1])
	}
	if strings.Join(got, " ") != strings.Join(journalFlow, " ") {
		t.Fatalf("the page shows %v, want %v", got, journalFlow)
	}
	for _, want := range []string{"<h1>Authorization journal</h1>", "Wrong answer", "Delivered to the bank", "Transfer", "Z123456789012",
		"E-num app", "127.0.0.1", "Go-http-client/1.1", `<link rel="stylesheet" href="/.enumgate/static/enumgate.css?v=`} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Contains(body, `rel="next"`) {
		t.Error("one page of events links to an older page")
	}

	r = c.do("GET", "/.enumgate/journal", "", nil, "Accept-Language", "ru-RU,ru;q=0.9")
	if body := string(r.Body); r.Header.Get("Content-Language") != "ru" || !strings.Contains(body, "Журнал авторизаций") || !strings.Contains(body, "Неверный ответ") {
		t.Fatalf("Russian journal page:\n%s", body)
	}

	// Paged: "older" follows the cursor, and the older page links back.
	r = c.do("GET", "/.enumgate/journal?limit=2", "", nil)
	older := regexp.MustCompile(`rel="next" href="([^"]+)"`).FindStringSubmatch(string(r.Body))
	if older == nil || !strings.Contains(string(r.Body), "Older entries") {
		t.Fatalf("the first of several pages has no older link:\n%s", r.Body)
	}
	link := strings.ReplaceAll(older[1], "&amp;", "&")
	r = c.do("GET", link, "", nil)
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `data-event="wrong_answer"`) || strings.Contains(string(r.Body), `data-event="delivered"`) ||
		!strings.Contains(string(r.Body), "Newest entries") {
		t.Fatalf("older page %s = %d\n%s", link, r.Status, r.Body)
	}
	if r := c.do("GET", "/.enumgate/journal?before=nope", "", nil); r.Status != http.StatusBadRequest || !bytes.Contains(r.Body, []byte(`data-error="bad_request"`)) {
		t.Fatalf("journal page with a bad cursor = %d\n%s", r.Status, r.Body)
	}
}

func TestJournalInRedisIsAStreamPerUserWithRetention(t *testing.T) {
	rs := redistest.Start(t, redistest.Options{})
	g := startGateway(t, gatewayOptions{store: "redis " + rs.URL, extraGlobal: "journal {\n\t\t\tmax_entries 3\n\t\t\tmax_age 3s\n\t\t}"})
	c := g.client(t, "alice")
	confirmWithAWrongAnswerFirst(t, c)
	c.waitJournal(journalFlow[:3]...)

	opt, err := redis.ParseURL(rs.URL)
	if err != nil {
		t.Fatal(err)
	}
	rc := redis.NewClient(opt)
	defer rc.Close()
	j, _ := journal.NewRedis(rc, journal.RedisOptions{})
	ctx := context.Background()
	key := j.Key("alice")
	if n, err := rc.XLen(ctx, key).Result(); err != nil || n != 3 {
		t.Fatalf("XLEN %s = %d, %v; want 3 (max_entries)", key, n, err)
	}
	if ttl, err := rc.PTTL(ctx, key).Result(); err != nil || ttl <= 0 || ttl > 3*time.Second {
		t.Fatalf("PTTL = %v, %v; want at most max_age", ttl, err)
	}
	// The same journal from another gateway's point of view: the stream.
	entries, _, err := j.Page(ctx, "alice", 10, "")
	if err != nil || len(entries) != 3 || entries[0].Event != "delivered" {
		t.Fatalf("the stream holds %+v, %v", entries, err)
	}

	// After max_age the entries are gone, and so is the stream.
	deadline := time.Now().Add(5 * time.Second)
	for {
		p, _ := c.journalPage("")
		n, _ := rc.Exists(ctx, key).Result()
		if len(p.Events) == 0 && n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after max_age: %d events, stream exists %d", len(p.Events), n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestJournalSurvivesAReload(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	c := g.client(t, "alice")
	c.hold()
	c.waitJournal("issued")
	g.reload(t, gatewayOptions{handler: defaultRules + "\n\t\tttl 10m"})
	// The old server closes its connections as it goes; don't reuse them,
	// and give one that was closed under us a second try on a new one.
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	for try := 0; ; try++ {
		req, _ := http.NewRequest("POST", g.base+"/transfer", strings.NewReader(string(transferBody)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json")
		req.Header.Set("X-User", c.user)
		req.Header.Set("X-Session", c.session)
		resp, err := (&http.Client{Transport: &http.Transport{}, Timeout: 10 * time.Second}).Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("protected POST after the reload = %d, want 401", resp.StatusCode)
			}
			break
		}
		if try == 2 {
			t.Fatalf("POST after the reload: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.waitJournal("issued", "issued")
}
