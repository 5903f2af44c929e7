package browsertest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// journalRow is one entry of the journal page as the test reads it.
type journalRow struct {
	Event, Label, Tone, Op, Amount, Payee, Method, IP, UA, At string
}

// journalRows reads the entries of the journal page, top to bottom.
func (b *tab) journalRows() []journalRow {
	b.t.Helper()
	var rows []journalRow
	b.eval(`[...document.querySelectorAll(".eg-journal-entry")].map(e => {
		const t = (s) => { const x = e.querySelector(s); return x ? x.textContent.trim() : ""; };
		const dd = (label) => { const d = [...e.querySelectorAll("dt")].find(x => x.textContent.trim() === label); return d ? d.nextElementSibling.textContent.trim() : ""; };
		const h = e.querySelector(".eg-journal-event").classList;
		return {Event: e.dataset.event, Label: t(".eg-journal-event"), Tone: h.contains("eg-journal-ok") ? "ok" : h.contains("eg-journal-bad") ? "bad" : "", Op: t(".eg-op"), Amount: t(".eg-amount"), Payee: t(".eg-payee"),
			Method: dd(document.documentElement.lang === "ru" ? "Способ" : "Method"), IP: dd(document.documentElement.lang === "ru" ? "IP-адрес" : "IP address"),
			UA: t(".eg-journal-ua"), At: e.querySelector("time").getAttribute("datetime")};
	})`, &rows)
	return rows
}

// apiEvents reads the user's journal from the JSON API, newest first.
func (b *tab) apiEvents() []map[string]string {
	b.t.Helper()
	var page struct {
		Events []map[string]string
		Next   string
	}
	b.getJSON("/.enumgate/api/journal?limit=100", &page)
	return page.Events
}

// rowIndex is the position of the first row with event ev of operation op
// (any operation if op is "").
func rowIndex(rows []journalRow, ev, op string) int {
	return slices.IndexFunc(rows, func(r journalRow) bool { return r.Event == ev && (op == "" || r.Op == op) })
}

// TestJournalPage: /.enumgate/journal shows the steps just taken in the
// customer's name, a transfer (issued, a wrong answer, confirmed) and an
// account change, newest first, in English and Russian, a page at a time.
func TestJournalPage(t *testing.T) {
	t.Parallel()
	b := newTab(t, tabOptions{})
	b.open("/.enumgate/journal")
	if got := b.text(".eg-info"); got != "Nothing has been recorded yet." {
		t.Fatalf("an empty journal says %q", got)
	}

	b.start(transfer)
	b.choose("enum")
	q := b.question()
	if s := b.answer("00000000"); s != 422 {
		t.Fatalf("wrong answer = %d", s)
	}
	b.confirmed(b.answer(enumAnswer(t, q)), "E-num")
	b.account()
	b.do(chromedp.Click(chromedp.ID("n-additional")))
	b.held(b.click(`[data-section="notifications"] button[type=submit]`), "Change notification settings")
	if s := b.confirmWithEnum(); s != 200 || b.notice() == "" {
		t.Fatalf("the account change = %d, error %q", s, b.text("#eg-error"))
	}

	// The journal is written asynchronously: wait for the last steps.
	var api []map[string]string
	deadline := time.Now().Add(5 * time.Second)
	for {
		api = b.apiEvents()
		has := func(ev, op string) bool {
			return slices.ContainsFunc(api, func(e map[string]string) bool { return e["event"] == ev && e["operation"] == op })
		}
		if has("account_notifications_changed", "") && has("delivered", "account_notifications") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the journal's newest events: %v", api)
		}
		time.Sleep(50 * time.Millisecond)
	}

	if s := b.open("/.enumgate/journal"); s != 200 || b.text("h1") != "Authorization journal" {
		t.Fatalf("journal page = %d %q", s, b.text("h1"))
	}
	rows := b.journalRows()
	var pageEvents, apiEvents []string
	for _, r := range rows {
		pageEvents = append(pageEvents, r.Event)
	}
	for _, e := range api {
		apiEvents = append(apiEvents, e["event"])
	}
	if !slices.Equal(pageEvents, apiEvents) {
		t.Fatalf("the page shows %v, the API %v", pageEvents, apiEvents)
	}
	for i := 1; i < len(rows); i++ {
		if rows[i].At > rows[i-1].At {
			t.Fatalf("entry %d (%s) is newer than entry %d (%s): not newest first", i, rows[i].At, i-1, rows[i-1].At)
		}
	}
	changed, delivered := rowIndex(rows, "account_notifications_changed", ""), rowIndex(rows, "delivered", "Transfer")
	confirmed, wrong, issued := rowIndex(rows, "confirmed", "Transfer"), rowIndex(rows, "wrong_answer", ""), rowIndex(rows, "issued", "Transfer")
	if changed < 0 || !(changed < delivered && delivered < confirmed && confirmed < wrong && wrong < issued) {
		t.Fatalf("positions: account change %d, transfer delivered %d, confirmed %d, wrong answer %d, issued %d; rows %+v", changed, delivered, confirmed, wrong, issued, rows)
	}
	if r := rows[rowIndex(rows, "confirmed", "")]; r.Op != "Change notification settings" {
		t.Errorf("the account change's confirmation shown as %+v", r)
	}
	if r := rows[changed]; r.Label != "Notification settings changed" {
		t.Errorf("account change shown as %+v", r)
	}
	if r := rows[confirmed]; r.Label != "Confirmed" || r.Tone != "ok" || r.Amount != "RUB 10.00" || r.Payee != "Z123456789012" ||
		r.Method != "E-num app" || r.IP != "127.0.0.1" || !strings.Contains(r.UA, "Chrome") {
		t.Errorf("the transfer's confirmation shown as %+v", r)
	}
	if r := rows[wrong]; r.Label != "Wrong answer" || r.Tone != "bad" {
		t.Errorf("the wrong answer shown as %+v", r)
	}
	if r := rows[issued]; r.Label != "Confirmation requested" || r.Amount != "RUB 10.00" {
		t.Errorf("the transfer's request shown as %+v", r)
	}
	b.screenshot("journal")

	// Russian: the same entries, named in Russian, amounts the Russian way.
	b.setLanguage("ru")
	b.load(chromedp.Reload())
	ru := b.journalRows()
	if b.text("h1") != "Журнал авторизаций" || len(ru) != len(rows) {
		t.Fatalf("Russian journal: h1 %q, %d rows, want %d", b.text("h1"), len(ru), len(rows))
	}
	for i, want := range map[int]string{changed: "Изменены настройки уведомлений", confirmed: "Подтверждено", wrong: "Неверный ответ", issued: "Запрошено подтверждение"} {
		if ru[i].Label != want {
			t.Errorf("Russian row %d = %q, want %q", i, ru[i].Label, want)
		}
	}
	if got := strings.ReplaceAll(ru[confirmed].Amount, "\u00a0", " "); got != "10,00 ₽" || ru[confirmed].Op != "Перевод" {
		t.Errorf("Russian transfer row: %+v", ru[confirmed])
	}
	b.screenshot("journal-russian")
	b.setLanguage("en")

	// A page at a time: following "Older entries" walks the whole journal
	// once, in order; "Newest entries" comes back.
	const limit = 4
	b.open(fmt.Sprintf("/.enumgate/journal?limit=%d", limit))
	var walked []string
	for pages := 1; ; pages++ {
		got := b.journalRows()
		if len(got) == 0 || len(got) > limit {
			t.Fatalf("page %d has %d entries, want 1 to %d", pages, len(got), limit)
		}
		for _, r := range got {
			walked = append(walked, r.Event)
		}
		if pages > 1 && b.text(`.eg-buttons a[href="/.enumgate/journal"]`) != "Newest entries" {
			t.Fatalf("page %d has no way back to the newest entries", pages)
		}
		if !b.exists("a[rel=next]") {
			break
		}
		if b.text("a[rel=next]") != "Older entries" || pages > len(rows) {
			t.Fatalf("older link %q on page %d", b.text("a[rel=next]"), pages)
		}
		if s := b.click("a[rel=next]"); s != 200 {
			t.Fatalf("older entries = %d", s)
		}
	}
	if !slices.Equal(walked, pageEvents) {
		t.Fatalf("walking the pages gives %v, want %v", walked, pageEvents)
	}
	if s := b.click(`.eg-buttons a[href="/.enumgate/journal"]`); s != 200 || b.journalRows()[0].Event != rows[0].Event || b.exists("a[rel=next]") != (len(rows) > 20) {
		t.Fatalf("newest entries = %d, %+v", s, b.journalRows())
	}
}
