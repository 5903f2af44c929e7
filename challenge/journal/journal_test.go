package journal_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/enumgate/enumgate/challenge"
	"github.com/enumgate/enumgate/challenge/journal"
)

func TestFromEvent(t *testing.T) {
	at := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	full := challenge.Event{
		Kind: challenge.EventConfirmed, Time: at, ChallengeID: "c1", User: "alice", Operation: "transfer",
		Method: challenge.MethodSMS, Amount: "10.00", Currency: "RUB", Payee: "Z•••123", Reason: "rule transfer",
		Delivery: 1, AttemptsLeft: 2, ClientIP: "192.0.2.7", UserAgent: "Mozilla/5.0",
		Err: errors.New("sender said: code 12345678 rejected"),
	}
	for _, tc := range []struct {
		name     string
		ev       challenge.Event
		wantUser string
		want     journal.Entry
		ok       bool
	}{
		{"every field the journal keeps is copied, the error is not", full, "alice", journal.Entry{
			At: at, Event: "confirmed", Operation: "transfer", Amount: "10.00", Currency: "RUB", Payee: "Z•••123",
			Method: "sms", IP: "192.0.2.7", UserAgent: "Mozilla/5.0", ChallengeID: "c1", Reason: "rule transfer",
		}, true},
		{"a wrong answer names its challenge", challenge.Event{Kind: challenge.EventWrongAnswer, Time: at, User: "bob", ChallengeID: "c2", AttemptsLeft: 1},
			"bob", journal.Entry{At: at, Event: "wrong_answer", ChallengeID: "c2"}, true},
		{"a lockout", challenge.Event{Kind: challenge.EventLocked, Time: at, User: "bob", ChallengeID: "c2"},
			"bob", journal.Entry{At: at, Event: "user_locked", ChallengeID: "c2"}, true},
		{"a kind the journal does not know yet passes through", challenge.Event{Kind: "expired", Time: at, User: "bob"},
			"bob", journal.Entry{At: at, Event: "expired"}, true},
		{"an event without a user is not journalled", challenge.Event{Kind: challenge.EventIssued, Time: at}, "", journal.Entry{}, false},
		{"nor one with an over-long user id", challenge.Event{Kind: challenge.EventIssued, User: strings.Repeat("u", journal.MaxUserLen+1)}, "", journal.Entry{}, false},
		{"over-long and invalid fields are clipped to pass", challenge.Event{
			Kind: "Odd Kind", Time: at, User: "alice", Payee: strings.Repeat("é", journal.MaxFieldLen), UserAgent: "a\xffb",
		}, "alice", journal.Entry{At: at, Event: "_dd__ind", Payee: strings.Repeat("é", journal.MaxFieldLen/2), UserAgent: "a\uFFFDb"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			user, e, ok := journal.FromEvent(tc.ev)
			if user != tc.wantUser || ok != tc.ok || e != tc.want {
				t.Fatalf("FromEvent = %q, %+v, %v\nwant       %q, %+v, %v", user, e, ok, tc.wantUser, tc.want, tc.ok)
			}
			if ok {
				if err := e.Validate(); err != nil {
					t.Fatalf("FromEvent's entry does not validate: %v", err)
				}
			}
		})
	}
}

func TestEntryJSONOmitsAbsentFields(t *testing.T) {
	e := journal.Entry{At: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC), Event: "issued", Operation: "transfer", ChallengeID: "c1"}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"at":"2026-12-01T12:00:00Z","event":"issued","operation":"transfer","challenge_id":"c1"}`; string(b) != want {
		t.Fatalf("JSON = %s, want %s", b, want)
	}
}

func TestParseCursor(t *testing.T) {
	for _, tc := range []struct {
		in      string
		ms, seq uint64
		ok      bool
	}{
		{"1764590400000-0", 1764590400000, 0, true},
		{"0-0", 0, 0, true},
		{"18446744073709551615-18446744073709551615", 1<<64 - 1, 1<<64 - 1, true},
		{"", 0, 0, false},
		{"1764590400000", 0, 0, false},
		{"01-0", 0, 0, false},
		{"1-00", 0, 0, false},
		{"18446744073709551616-0", 0, 0, false},
		{"1--1", 0, 0, false},
		{"1-1-1", 0, 0, false},
		{"a-1", 0, 0, false},
	} {
		ms, seq, err := journal.ParseCursor(tc.in)
		if tc.ok != (err == nil) || ms != tc.ms || seq != tc.seq {
			t.Errorf("ParseCursor(%q) = %d, %d, %v", tc.in, ms, seq, err)
		}
		if !tc.ok && !errors.Is(err, journal.ErrBadCursor) {
			t.Errorf("ParseCursor(%q) error %v is not ErrBadCursor", tc.in, err)
		}
	}
}

// FuzzParseCursor: only canonical cursors parse, and they format back to
// themselves.
func FuzzParseCursor(f *testing.F) {
	for _, s := range []string{"1764590400000-0", "0-0", "1-18446744073709551615", "01-1", "-", "1-", "x", "1-1-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ms, seq, err := journal.ParseCursor(s)
		if err != nil {
			if !errors.Is(err, journal.ErrBadCursor) {
				t.Fatalf("ParseCursor(%q) = %v, not ErrBadCursor", s, err)
			}
			return
		}
		if len(s) > journal.MaxCursorLen {
			t.Fatalf("ParseCursor accepted %d bytes", len(s))
		}
		if back := formatCursor(ms, seq); back != s {
			t.Fatalf("ParseCursor(%q) = %d, %d, which formats as %q", s, ms, seq, back)
		}
	})
}

func formatCursor(ms, seq uint64) string {
	b, _ := json.Marshal(ms)
	c, _ := json.Marshal(seq)
	return string(b) + "-" + string(c)
}
