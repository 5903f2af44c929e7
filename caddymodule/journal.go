package caddymodule

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/enumgate/enumgate/challenge"
	"github.com/enumgate/enumgate/challenge/journal"
)

// JournalConfig is the retention of the authorization journal: every
// step in a user's name (issued, method chosen, code sent, wrong answer,
// confirmed, delivered, exhausted, locked, expired, cancelled, refused,
// account changes), which the customer reads at <prefix>journal and
// <prefix>api/journal and operators with `enumgate journal USER` or the
// admin endpoint GET /enumgate/journal/USER. With store redis a change
// applies at once; the in-process journal keeps the retention it was
// started with until the process restarts (it survives reloads).
type JournalConfig struct {
	// MaxEntries is how many entries each user's journal keeps; the
	// oldest go first. Default 1000.
	MaxEntries int `json:"max_entries,omitempty"`
	// MaxAge is how long an entry is kept. Default 90 days (2160h).
	MaxAge caddy.Duration `json:"max_age,omitempty"`
}

// Bounds of the journal's retention settings.
const (
	maxJournalEntries = 100000
	maxJournalAge     = 10 * 365 * 24 * time.Hour
)

// journalPool holds the process's in-process journal, so that the
// journal survives config reloads as the memory store does. Its
// retention is the one of the config that created it: a reload that
// changes it keeps the running journal.
var journalPool = caddy.NewUsagePool()

const journalPoolKey = "journal/memory"

type pooledJournal struct{ *journal.Memory }

func (p pooledJournal) Destruct() error { p.Close(); return nil }

// apps maps each provisioned engine to its app, so that the handlers
// (which hold the engine) reach the app's journal.
var apps sync.Map // *challenge.Engine → *App

// appOf returns the app whose engine is e, or nil.
func appOf(e *challenge.Engine) *App {
	if v, ok := apps.Load(e); ok {
		return v.(*App)
	}
	return nil
}

// validate checks the journal's retention settings.
func (c *JournalConfig) validate() error {
	if c == nil {
		return nil
	}
	if c.MaxEntries < 0 || c.MaxEntries > maxJournalEntries {
		return fmt.Errorf("enumgate: journal max_entries %d is not 1 to %d", c.MaxEntries, maxJournalEntries)
	}
	if c.MaxAge < 0 || time.Duration(c.MaxAge) > maxJournalAge {
		return fmt.Errorf("enumgate: journal max_age %s is not positive and at most %s", time.Duration(c.MaxAge), maxJournalAge)
	}
	return nil
}

// openJournal opens the journal next to the store (a Redis stream per
// user with store redis, else the process's in-process journal) and
// subscribes a Recorder to every step.
func (a *App) openJournal(ctx caddy.Context, st StoreModule) error {
	if err := a.Journal.validate(); err != nil {
		return err
	}
	var entries int
	var age time.Duration
	if a.Journal != nil {
		entries, age = a.Journal.MaxEntries, time.Duration(a.Journal.MaxAge)
	}
	if rs, ok := st.(RedisStoreModule); ok {
		client, prefix := rs.Client()
		j, err := journal.NewRedis(client, journal.RedisOptions{Prefix: prefix, MaxEntries: entries, MaxAge: age})
		if err != nil {
			return fmt.Errorf("enumgate: journal: %w", err)
		}
		a.side.journal = j
	} else {
		v, _, err := journalPool.LoadOrNew(journalPoolKey, func() (caddy.Destructor, error) {
			return pooledJournal{journal.NewMemory(journal.MemoryOptions{MaxEntries: entries, MaxAge: age})}, nil
		})
		if err != nil {
			return fmt.Errorf("enumgate: journal: %w", err)
		}
		a.side.journal = v.(pooledJournal).Memory
		a.side.journalPooled = true
	}
	logger := a.logger
	a.side.recorder = journal.NewRecorder(a.side.journal, journal.RecorderOptions{OnError: func(user string, err error) {
		// Logged at most about once a second: a Redis outage fails every
		// append, and the store watcher reports the outage already.
		if a.side.journalWarn.allow(time.Now()) {
			logger.Warn("journal append failed (the step is not journalled)", zap.String("user", user), zap.Error(err))
		}
	}})
	a.Subscribe(a.journalStep)
	context.AfterFunc(ctx, a.closeJournal) // also when the app is provisioned outside a config (commands)
	return nil
}

// journalStep queues the journal entry of a step: what FromEvent takes,
// and for account changes (kinds "account_…") the detail too.
func (a *App) journalStep(ev challenge.Event) {
	user, e, ok := journal.FromEvent(ev)
	if !ok {
		return
	}
	if strings.HasPrefix(string(ev.Kind), "account_") && ev.Detail != "" {
		e.Detail = clipUTF8(ev.Detail, journal.MaxDetailLen)
	}
	a.side.recorder.Add(user, e)
}

// closeJournal stops the Recorder (appending what it holds) and lets go
// of the journal. It is safe to call more than once.
func (a *App) closeJournal() {
	if a.side == nil {
		return
	}
	side := a.side
	side.journalOnce.Do(func() {
		done := make(chan struct{})
		go func() {
			defer close(done)
			if side.recorder != nil {
				side.recorder.Close()
			}
			switch {
			case side.journalPooled:
				_, _ = journalPool.Delete(journalPoolKey)
			case side.journal != nil:
				side.journal.Close()
			}
		}()
		// Appending what waits is quick unless Redis is down; then the
		// rest goes on in the background (each append is bounded) and
		// a reload does not wait for it.
		select {
		case <-done:
		case <-time.After(journalCloseWait):
			if a.logger != nil {
				a.logger.Warn("the journal is still appending queued steps after the config stopped; they go on in the background")
			}
		}
	})
}

// journalCloseWait is how long closing the journal waits for the
// queued steps to be appended.
const journalCloseWait = 2 * time.Second

// flushJournal waits until the journal has every step recorded so far
// (tests, and operators reading right after a step).
func (a *App) flushJournal(ctx context.Context) error {
	if a.side == nil || a.side.recorder == nil {
		return nil
	}
	return a.side.recorder.Flush(ctx)
}

// clipUTF8 returns s as valid UTF-8 of at most n bytes, cut at a rune.
func clipUTF8(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// JournalEvent is one event of the journal API (the customer's
// <prefix>api/journal and the admin endpoint's /enumgate/journal/USER).
// Absent fields are omitted.
type JournalEvent struct {
	// At is when the step happened (UTC).
	At time.Time `json:"at"`
	// Event names the step: issued, method_begun, code_sent,
	// wrong_answer, confirmed, delivered, ... or an account change.
	Event string `json:"event"`
	// Operation is the protected operation, e.g. transfer.
	Operation string `json:"operation,omitempty"`
	// Amount is the amount as a plain decimal.
	Amount string `json:"amount,omitempty"`
	// Payee is the payee as the customer was shown it (masked).
	Payee string `json:"payee,omitempty"`
	// Method is the confirmation method.
	Method string `json:"method,omitempty"`
	// IP is the client's address.
	IP string `json:"ip,omitempty"`
	// UserAgent is the client's User-Agent.
	UserAgent string `json:"user_agent,omitempty"`
	// ChallengeID is the challenge concerned.
	ChallengeID string `json:"challenge_id,omitempty"`
}

// JournalPage is one page of the journal API: events newest first, and
// next, the cursor of the older page (absent when there is none), for
// ?before=.
type JournalPage struct {
	Events []JournalEvent `json:"events"`
	Next   string         `json:"next,omitempty"`
}

func journalEvents(entries []journal.Entry) []JournalEvent {
	out := make([]JournalEvent, 0, len(entries))
	for _, e := range entries {
		out = append(out, JournalEvent{
			At: e.At.UTC(), Event: e.Event, Operation: e.Operation, Amount: e.Amount, Payee: e.Payee,
			Method: e.Method, IP: e.IP, UserAgent: e.UserAgent, ChallengeID: e.ChallengeID,
		})
	}
	return out
}

// errJournalQuery is a limit or cursor the journal API refuses; its
// message key says which.
type errJournalQuery struct{ key string }

func (e errJournalQuery) Error() string { return strings.TrimPrefix(e.key, "error.") }

// parseJournalQuery reads ?limit=N (1 to journal.MaxLimit; default
// journal.DefaultLimit) and ?before=CURSOR (a cursor the journal handed
// out) of a journal request, each at most once.
func parseJournalQuery(q url.Values) (limit int, before string, err error) {
	limit = journal.DefaultLimit
	if vs := q["limit"]; len(vs) > 0 {
		v := vs[0]
		n, perr := strconv.Atoi(v)
		if len(vs) > 1 || perr != nil || n < 1 || n > journal.MaxLimit || v != strconv.Itoa(n) {
			return 0, "", errJournalQuery{"error.journal_limit"}
		}
		limit = n
	}
	if vs := q["before"]; len(vs) > 0 {
		before = vs[0]
		if _, _, perr := journal.ParseCursor(before); len(vs) > 1 || perr != nil {
			return 0, "", errJournalQuery{"error.journal_cursor"}
		}
	}
	return limit, before, nil
}

// journalEntries reads one page of user's journal.
func (a *App) journalEntries(ctx context.Context, user string, limit int, before string) ([]journal.Entry, string, error) {
	if a.side.journal == nil {
		return nil, "", errors.New("the journal is not open")
	}
	return a.side.journal.Page(ctx, user, limit, before)
}

// journalPage reads one page of user's journal in the API's form.
func (a *App) journalPage(ctx context.Context, user string, limit int, before string) (JournalPage, error) {
	entries, next, err := a.journalEntries(ctx, user, limit, before)
	if err != nil {
		return JournalPage{}, err
	}
	return JournalPage{Events: journalEvents(entries), Next: next}, nil
}

// rateGate lets one call through per second: for warnings that an
// outage would repeat for every request.
type rateGate struct {
	mu   sync.Mutex
	last time.Time
}

func (g *rateGate) allow(now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if now.Sub(g.last) < time.Second {
		return false
	}
	g.last = now
	return true
}
