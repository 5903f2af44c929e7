package caddymodule

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"

	"github.com/enumgate/enumgate/challenge/journal"
)

func TestJournalRetentionInTheCaddyfile(t *testing.T) {
	tests := []struct {
		name, block string
		want        string // the app's "journal" JSON, or the error
	}{
		{"both", "journal {\nmax_entries 50\nmax_age 30d\n}", `{"max_entries":50,"max_age":2592000000000000}`},
		{"only entries", "journal {\nmax_entries 1\n}", `{"max_entries":1}`},
		{"empty block: the defaults", "journal {\n}", `{}`},
		{"no entries", "journal {\nmax_entries 0\n}", "error: not a whole number from 1 to 100000"},
		{"too many entries", "journal {\nmax_entries 100001\n}", "error: not a whole number from 1 to 100000"},
		{"negative age", "journal {\nmax_age -1s\n}", "error: invalid duration"},
		{"age over ten years", "journal {\nmax_age 3651d\n}", "error: longer than"},
		{"unknown option", "journal {\nmax_users 5\n}", `error: unknown journal option "max_users"`},
		{"an argument", "journal memory", "error: wrong argument count"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := parseApp(caddyfile.NewTestDispenser("enumgate {\n"+tt.block+"\n}"), nil)
			if want, isErr := strings.CutPrefix(tt.want, "error: "); isErr {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("error = %v, want one containing %q", err, want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var app struct {
				Journal json.RawMessage `json:"journal"`
			}
			if err := json.Unmarshal(v.(httpcaddyfile.App).Value, &app); err != nil {
				t.Fatal(err)
			}
			if string(app.Journal) != tt.want {
				t.Fatalf("journal = %s, want %s", app.Journal, tt.want)
			}
		})
	}
}

func TestJournalRetentionInJSONIsValidated(t *testing.T) {
	for _, c := range []*JournalConfig{{MaxEntries: -1}, {MaxEntries: maxJournalEntries + 1}, {MaxAge: -1}} {
		if err := c.validate(); err == nil {
			t.Errorf("%+v is accepted", *c)
		}
	}
	if err := (*JournalConfig)(nil).validate(); err != nil {
		t.Errorf("no journal block: %v", err)
	}
}

// FuzzJournalQuery checks that the journal's query parser accepts only
// a limit within bounds and a cursor the journal parses, and never
// panics.
func FuzzJournalQuery(f *testing.F) {
	for _, s := range []string{"", "limit=5", "limit=100&before=1700000000000-0", "limit=0", "limit=05", "before=1-", "limit=1&limit=2", "before=%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		limit, before, err := parseJournalQuery(q)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "journal_") {
				t.Fatalf("error %q", err)
			}
			return
		}
		if limit < 1 || limit > journal.MaxLimit {
			t.Fatalf("limit %d accepted from %q", limit, raw)
		}
		if _, _, err := journal.ParseCursor(before); before != "" && err != nil {
			t.Fatalf("cursor %q accepted from %q", before, raw)
		}
	})
}

func TestJournalPageNamesAccountChanges(t *testing.T) {
	p, err := loadUI(nil, "/.enumgate/", nil)
	if err != nil {
		t.Fatal(err)
	}
	for lang, want := range map[string][]string{
		"en": {"Contact added", "email a•••@example.test", "Account changed", "Confirmation requested", "RUB 10.00"},
		"ru": {"Добавлен контакт", "Изменены данные аккаунта", "Запрошено подтверждение", "10,00\u00a0₽"},
	} {
		var b strings.Builder
		if err := p.tmpl.ExecuteTemplate(&b, "journal.html", journalSample(p.data(p.langs.byTag[lang], "/.enumgate/"))); err != nil {
			t.Fatal(err)
		}
		for _, w := range want {
			if !strings.Contains(b.String(), w) {
				t.Errorf("%s: the journal page lacks %q", lang, w)
			}
		}
	}
}
