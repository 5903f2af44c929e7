package challenge_test

import (
	"bytes"
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/enumgate/enumgate/challenge"
)

func TestStashEncodingRoundTrips(t *testing.T) {
	tests := []struct {
		name string
		s    *challenge.Stash
	}{
		{"empty", &challenge.Stash{}},
		{"full", stash()},
		{"binary body and repeated headers", &challenge.Stash{Method: "PUT", URI: "/x", Header: http.Header{"X": {"1", "2", ""}}, Body: []byte{0, 1, 2, 255}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc := tt.s.Encode()
			got, err := challenge.DecodeStash(enc)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Encode(), enc) {
				t.Fatalf("round trip changed the stash: %+v", got)
			}
		})
	}
}

func TestStashEncodingIsCanonical(t *testing.T) {
	a := &challenge.Stash{Header: http.Header{"A": {"1"}, "B": {"2"}, "C": {"3"}}}
	for range 20 { // map order varies between runs of the loop
		b := &challenge.Stash{Header: http.Header{"C": {"3"}, "B": {"2"}, "A": {"1"}}}
		if !bytes.Equal(a.Encode(), b.Encode()) {
			t.Fatal("equal stashes encode differently")
		}
	}
}

func TestDecodeStashRejectsDamage(t *testing.T) {
	enc := stash().Encode()
	tests := map[string][]byte{
		"empty":          nil,
		"wrong magic":    append([]byte("XXX\x01"), enc[4:]...),
		"truncated":      enc[:len(enc)-1],
		"trailing bytes": append(append([]byte(nil), enc...), 0),
		"huge count":     append([]byte("EGS\x01"), 0xff, 0xff, 0xff, 0xff, 0x0f),
	}
	for name, b := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := challenge.DecodeStash(b); err == nil {
				t.Fatal("damaged stash decoded")
			}
		})
	}
}

func FuzzDecodeStash(f *testing.F) {
	f.Add(stash().Encode())
	f.Add((&challenge.Stash{}).Encode())
	f.Add([]byte("EGS\x01\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := challenge.DecodeStash(b)
		if err != nil {
			return
		}
		if !bytes.Equal(s.Encode(), b) {
			// Header keys may repeat in a forged encoding; a canonical
			// re-encoding must at least decode to the same stash.
			again, err := challenge.DecodeStash(s.Encode())
			if err != nil || !bytes.Equal(again.Encode(), s.Encode()) {
				t.Fatalf("re-encoding is not stable: %v", err)
			}
		}
	})
}

func TestNormalizeAnswer(t *testing.T) {
	tests := []struct {
		in, want string
		err      bool
	}{
		{"12345678", "12345678", false},
		{"1234 5678", "12345678", false},
		{" 1234-5678\t", "12345678", false},
		{"abcDEF09", "abcDEF09", false},
		{"", "", true},
		{" - ", "", true},
		{"1234.5678", "", true},
		{"١٢٣", "", true},
		{strings.Repeat("9", 64), strings.Repeat("9", 64), false},
		{strings.Repeat("9", 65), "", true},
		{strings.Repeat(" ", 129), "", true},
	}
	for _, tt := range tests {
		got, err := challenge.NormalizeAnswer(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("NormalizeAnswer(%q) = %q, %v; want %q, err=%v", tt.in, got, err, tt.want, tt.err)
		}
		if err != nil && !errors.Is(err, challenge.ErrMalformed) {
			t.Errorf("NormalizeAnswer(%q) error %v is not ErrMalformed", tt.in, err)
		}
	}
}

func FuzzNormalizeAnswer(f *testing.F) {
	for _, s := range []string{"1234 5678", "", "-", "abc", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := challenge.NormalizeAnswer(s)
		if err != nil {
			return
		}
		if len(got) == 0 || len(got) > 64 || strings.ContainsAny(got, " -\t") {
			t.Fatalf("NormalizeAnswer(%q) = %q", s, got)
		}
		if again, err := challenge.NormalizeAnswer(got); err != nil || again != got {
			t.Fatalf("not idempotent: %q -> %q, %v", got, again, err)
		}
	})
}

func TestParseDirectoryErrors(t *testing.T) {
	const key = `"key": "3132333435363738393031323334353637383930"`
	tests := []struct {
		name, json, want string
	}{
		{"not JSON", `{`, "invalid JSON"},
		{"unknown field", `{"users": [{"id": "a", "pin": "1"}]}`, "unknown field"},
		{"trailing data", `{"users": []} {}`, "trailing data"},
		{"empty id", `{"users": [{"id": ""}]}`, "user 0 (\"\"): id must be"},
		{"duplicate id", `{"users": [{"id": "a"}, {"id": "a"}]}`, "user 1 (\"a\"): duplicate id"},
		{"bad phone", `{"users": [{"id": "a", "phone": "8900"}]}`, "phone \"8900\" is not an E.164"},
		{"bad email", `{"users": [{"id": "a", "emails": ["Alice <a@x.org>"]}]}`, "email \"Alice <a@x.org>\""},
		{"bad suite", `{"users": [{"id": "a", "devices": [{"suite": "OCRA-2:HOTP-SHA1-6:QN08", ` + key + `}]}]}`, "device 0"},
		{"counter suite", `{"users": [{"id": "a", "devices": [{"suite": "OCRA-1:HOTP-SHA512-8:C-QN08", ` + key + `}]}]}`, "counter-based suites"},
		{"session suite", `{"users": [{"id": "a", "devices": [{"suite": "OCRA-1:HOTP-SHA1-6:QN08-S064", ` + key + `}]}]}`, "session-information suites"},
		{"empty key", `{"users": [{"id": "a", "devices": [{"key": ""}]}]}`, "key must be"},
		{"key not hex", `{"users": [{"id": "a", "devices": [{"key": "zz"}]}]}`, "key must be"},
		{"PIN suite without pin_hash", `{"users": [{"id": "a", "devices": [{"suite": "OCRA-1:HOTP-SHA256-8:QN08-PSHA1", ` + key + `}]}]}`, "needs pin_hash"},
		{"pin_hash without PIN suite", `{"users": [{"id": "a", "devices": [{"pin_hash": "00", ` + key + `}]}]}`, "has no PIN input"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := challenge.ParseDirectory([]byte(tt.json))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ParseDirectory = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func FuzzParseDirectory(f *testing.F) {
	f.Add([]byte(usersJSON))
	f.Add([]byte(`{"users":[{"id":"a"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := challenge.ParseDirectory(b)
		if err == nil && d.Len() < 0 {
			t.Fatal("negative length")
		}
	})
}

func TestMasking(t *testing.T) {
	phones := map[string]string{
		"+79000000012": "+7•••••12",
		"+4412345":     "+4•••••45",
		"+12":          "•••••",
	}
	for in, want := range phones {
		if got := challenge.MaskPhone(in); got != want {
			t.Errorf("MaskPhone(%q) = %q, want %q", in, got, want)
		}
	}
	emails := map[string]string{
		"alice@x.org": "a•••@x.org",
		"ёлка@x.ru":   "ё•••@x.ru",
		"@x":          "•••",
		"nobody":      "•••",
	}
	for in, want := range emails {
		if got := challenge.MaskEmail(in); got != want {
			t.Errorf("MaskEmail(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestUsersFileIsReadNeverWritten(t *testing.T) {
	p := t.TempDir() + "/users.json"
	if err := os.WriteFile(p, []byte(usersJSON), 0o400); err != nil {
		t.Fatal(err)
	}
	before, _ := os.Stat(p)
	d, err := challenge.LoadFile(p)
	if err != nil || d.Len() != 4 {
		t.Fatalf("LoadFile of a read-only file = %v, %v", d, err)
	}
	after, _ := os.Stat(p)
	got, _ := os.ReadFile(p)
	if !after.ModTime().Equal(before.ModTime()) || after.Mode() != before.Mode() || string(got) != usersJSON {
		t.Fatal("LoadFile changed the users file")
	}
}
