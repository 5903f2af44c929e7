package caddymodule

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/enumgate/enumgate/challenge"
	"github.com/enumgate/enumgate/challenge/journal"
	"github.com/enumgate/enumgate/policy"
)

// journalTimeout bounds one read of the journal for a customer.
const journalTimeout = 5 * time.Second

// journalView is what journal.html sees: the page's common data, one
// page of the customer's journal and the links to the other pages.
type journalView struct {
	*pageData
	// Rows are the entries, newest first.
	Rows []journalRow
	// Older is the URL of the next, older page ("" when there is none).
	Older string
	// Newest is the URL of the newest page, when this is an older one.
	Newest string
}

// journalRow is one entry as journal.html shows it, every text in the
// page's language.
type journalRow struct {
	// Event is the step's code (e.g. "confirmed"), for data-event.
	Event string
	// Label names the step.
	Label string
	// Tone is "ok" (confirmed, delivered), "bad" (a rejected or failed
	// step) or "".
	Tone string
	// Time is when, formatted; DateTime the same for <time datetime>.
	Time, DateTime string
	// Operation, Amount and Payee are what the step concerned.
	Operation, Amount, Payee string
	// Method names the confirmation method.
	Method string
	// IP and UserAgent are the client's.
	IP, UserAgent string
	// Detail describes an account change.
	Detail string
}

// journalUser is the signed-in user of a journal request, or "" after
// answering 401.
func (h *Handler) journalUser(w http.ResponseWriter, r *http.Request) (string, *App, error) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return "", nil, h.methodNotAllowed(w, r, "GET, HEAD")
	}
	user := h.subject(r).User
	if user == "" {
		return "", nil, h.fail(w, r, "unauthenticated")
	}
	app := appOf(h.engine)
	if app == nil {
		return "", nil, h.fail(w, r, "unavailable")
	}
	return user, app, nil
}

// readJournal reads the page of the customer's journal that r asks for,
// answering bad queries (400) and a journal that is down (503).
func (h *Handler) readJournal(w http.ResponseWriter, r *http.Request, app *App, user string) ([]journal.Entry, string, bool, error) {
	limit, before, err := parseJournalQuery(r.URL.Query())
	if err != nil {
		var qe errJournalQuery
		errors.As(err, &qe)
		return nil, "", false, h.refuse(w, r, refusal{code: "bad_request", key: qe.key})
	}
	ctx, cancel := context.WithTimeout(r.Context(), journalTimeout)
	defer cancel()
	entries, next, err := app.journalEntries(ctx, user, limit, before)
	if err != nil {
		h.logger.Debug("journal unavailable", zap.String("user", user), zap.Error(err))
		return nil, "", false, h.fail(w, r, "unavailable")
	}
	return entries, next, true, nil
}

// serveJournalAPI serves GET <prefix>api/journal?limit=N&before=CURSOR:
// the signed-in customer's journal, newest first.
func (h *Handler) serveJournalAPI(w http.ResponseWriter, r *http.Request) error {
	user, app, err := h.journalUser(w, r)
	if user == "" {
		return err
	}
	entries, next, ok, err := h.readJournal(w, r, app, user)
	if !ok {
		return err
	}
	return writeJSON(w, http.StatusOK, JournalPage{Events: journalEvents(entries), Next: next})
}

// serveJournalPage serves GET <prefix>journal?before=CURSOR: the
// signed-in customer's journal as a page, newest first, with a link to
// the older entries.
func (h *Handler) serveJournalPage(w http.ResponseWriter, r *http.Request) error {
	user, app, err := h.journalUser(w, r)
	if user == "" {
		return err
	}
	entries, next, ok, err := h.readJournal(w, r, app, user)
	if !ok {
		return err
	}
	cat := h.pages.langs.negotiate(r.Header.Get("Accept-Language"))
	v := &journalView{pageData: h.pages.data(cat, h.Prefix)}
	v.setEntries(entries)
	q := r.URL.Query()
	if next != "" {
		older := url.Values{"before": {next}}
		if l := q.Get("limit"); l != "" {
			older.Set("limit", l)
		}
		v.Older = h.Prefix + "journal?" + older.Encode()
	}
	if q.Get("before") != "" {
		v.Newest = h.Prefix + "journal"
	}
	return h.pages.renderView(w, http.StatusOK, "journal.html", v, cat.lang)
}

// setEntries fills in the rows of events in the page's language.
func (v *journalView) setEntries(events []journal.Entry) {
	v.Rows = v.Rows[:0]
	for _, e := range events {
		row := journalRow{
			Event: e.Event, Label: v.eventLabel(e.Event), Tone: eventTone(e.Event),
			Time: e.At.UTC().Format("2006-01-02 15:04:05") + " UTC", DateTime: e.At.UTC().Format(time.RFC3339),
			Payee: e.Payee, IP: e.IP, UserAgent: e.UserAgent, Detail: e.Detail,
		}
		if e.Operation != "" {
			row.Operation = opName(v.cat, e.Operation)
		}
		if e.Amount != "" {
			row.Amount = policy.FormatAmount(e.Amount, e.Currency, v.Lang)
		}
		if t, ok := v.cat.msgs["method."+e.Method]; ok && e.Method != "" {
			row.Method = t
		} else {
			row.Method = readable(e.Method)
		}
		v.Rows = append(v.Rows, row)
	}
}

// eventLabel names a step: journal.event.<kind>, account changes
// without one of their own journal.event.account, else the kind made
// readable.
func (v *journalView) eventLabel(kind string) string {
	if t, ok := v.cat.msgs["journal.event."+kind]; ok {
		return t
	}
	if strings.HasPrefix(kind, "account_") {
		return v.T("journal.event.account")
	}
	return readable(kind)
}

// eventTone is how a step is shown: "ok" (done), "bad" (rejected or
// failed) or "" (a step on the way).
func eventTone(kind string) string {
	switch challenge.EventKind(kind) {
	case challenge.EventConfirmed, challenge.EventDelivered:
		return "ok"
	case challenge.EventWrongAnswer, challenge.EventExhausted, challenge.EventLocked, challenge.EventExpired,
		challenge.EventRefused, challenge.EventSendFailed, challenge.EventNotDelivered:
		return "bad"
	}
	return ""
}

// renderView writes a page whose data is not a bare pageData (the
// journal) with the pages' security headers, as render does.
func (p *pages) renderView(w http.ResponseWriter, status int, name string, data any, lang string) error {
	var buf bytes.Buffer
	if err := p.tmpl.ExecuteTemplate(&buf, name, data); err != nil {
		return caddyhttp.Error(http.StatusInternalServerError, fmt.Errorf("rendering %s: %w", name, err))
	}
	securityHeaders(w)
	h := w.Header()
	h.Set("Content-Security-Policy", p.csp)
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Language", lang)
	h.Add("Vary", "Accept-Language")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, err := w.Write(buf.Bytes())
	return err
}

// journalSample is the journal page checked at Provision (every
// template in every language): one of each kind of row and both links.
func journalSample(d *pageData) *journalView {
	v := &journalView{pageData: d, Older: "/.enumgate/journal?before=1-0", Newest: "/.enumgate/journal"}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var events []journal.Entry
	for _, k := range journalEventKinds {
		events = append(events, journal.Entry{At: at, Event: string(k), Operation: "transfer", Amount: "10.00", Currency: "RUB",
			Payee: "Z•••9012", Method: "enum", IP: "192.0.2.1", UserAgent: "Mozilla/5.0", ChallengeID: "AAAAAAAAAAAAAAAAAAAAAA"})
	}
	events = append(events, journal.Entry{At: at, Event: "account_contact_added", Detail: "email a•••@example.test"},
		journal.Entry{At: at, Event: "account_something_new", Detail: "x"})
	v.setEntries(events)
	return v
}

// journalEventKinds are the steps with a label of their own.
var journalEventKinds = []challenge.EventKind{
	challenge.EventIssued, challenge.EventBegun, challenge.EventSendFailed, challenge.EventSent,
	challenge.EventWrongAnswer, challenge.EventExhausted, challenge.EventConfirmed, challenge.EventCancelled,
	challenge.EventLocked, challenge.EventSMSLimited, challenge.EventEmailLimited, challenge.EventNotDelivered,
	challenge.EventExpired, challenge.EventRefused, challenge.EventDelivered,
}
