package enroll_test

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/enumgate/enumgate/challenge/ocra"
	"github.com/enumgate/enumgate/challenge/ocra/enroll"
)

// key16 is "1234567890123456"; in base32 GEZDGNBVGY3TQOJQGEZDGNBVGY.
var key16 = []byte("1234567890123456")

const secret16 = "GEZDGNBVGY3TQOJQGEZDGNBVGY"

func TestURIRoundTrips(t *testing.T) {
	for _, e := range []enroll.Enrollment{
		{Issuer: "Example Bank", Account: "alice", Suite: ocra.DefaultSuite, Key: key16},
		{Issuer: "Bank", Account: "bob@example.org", Suite: "OCRA-1:HOTP-SHA512-8:QA10-T1M", Key: bytes.Repeat([]byte{0xff}, 64)},
		{Issuer: "Ünïcödé & Co+", Account: "a:b c/d?e=f&g#h%", Suite: "OCRA-1:HOTP-SHA1-6:C-QN08-PSHA1", Key: make([]byte, enroll.MaxKeyLen)},
		{Issuer: "B", Account: "x", Suite: "", Key: key16}, // Suite defaults
	} {
		uri := e.URI()
		got, err := enroll.Parse(uri)
		if err != nil {
			t.Fatalf("Parse(%q): %v", uri, err)
		}
		if e.Suite == "" {
			e.Suite = ocra.DefaultSuite
		}
		if !reflect.DeepEqual(got, e) {
			t.Errorf("Parse(URI()) = %+v, want %+v", got, e)
		}
	}
}

func TestURIFormat(t *testing.T) {
	e := enroll.Enrollment{Issuer: "Example Bank", Account: "alice", Key: key16}
	want := "enumgate://enroll?secret=" + secret16 + "&suite=OCRA-1%3AHOTP-SHA256-8%3AQN08&issuer=Example+Bank&account=alice"
	if got := e.URI(); got != want {
		t.Errorf("URI() =\n%s\nwant\n%s", got, want)
	}
}

func TestParseAccepts(t *testing.T) {
	for _, tt := range []struct {
		name string
		uri  string
		want enroll.Enrollment
	}{
		{"suite omitted", "enumgate://enroll?secret=" + secret16 + "&issuer=B&account=a",
			enroll.Enrollment{Issuer: "B", Account: "a", Suite: ocra.DefaultSuite, Key: key16}},
		{"lower-case secret", "enumgate://enroll?secret=" + strings.ToLower(secret16) + "&issuer=B&account=a",
			enroll.Enrollment{Issuer: "B", Account: "a", Suite: ocra.DefaultSuite, Key: key16}},
		{"upper-case scheme and host, trailing slash, any order", "ENUMGATE://ENROLL/?account=a&issuer=B&suite=OCRA-1:HOTP-SHA1-6:QN08&secret=" + secret16,
			enroll.Enrollment{Issuer: "B", Account: "a", Suite: "OCRA-1:HOTP-SHA1-6:QN08", Key: key16}},
		{"percent-encoded space", "enumgate://enroll?secret=" + secret16 + "&issuer=Example%20Bank&account=a",
			enroll.Enrollment{Issuer: "Example Bank", Account: "a", Suite: ocra.DefaultSuite, Key: key16}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := enroll.Parse(tt.uri)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	ok := "secret=" + secret16 + "&issuer=B&account=a"
	for _, tt := range []struct {
		name, uri, msg string
	}{
		{"empty", "", `scheme ""`},
		{"otpauth scheme", "otpauth://totp/x?" + ok, `scheme "otpauth"`},
		{"no scheme", "enroll?" + ok, `scheme ""`},
		{"opaque URI", "enumgate:enroll?" + ok, `missing "//"`},
		{"other host", "enumgate://login?" + ok, `host "login"`},
		{"user info", "enumgate://u@enroll?" + ok, "user information"},
		{"port", "enumgate://enroll:80?" + ok, "port"},
		{"path", "enumgate://enroll/x?" + ok, `path "/x"`},
		{"fragment", "enumgate://enroll?" + ok + "#frag", "fragment"},
		{"bad percent escape", "enumgate://enroll?" + ok + "&x=%zz", "bad query"},
		{"control character in URI", "enumgate://enroll?\x7f" + ok, "not a URI"},
		{"unknown parameter", "enumgate://enroll?" + ok + "&digits=6", `unknown parameter "digits"`},
		{"duplicate parameter", "enumgate://enroll?" + ok + "&issuer=C", "issuer given 2 times"},
		{"missing secret", "enumgate://enroll?issuer=B&account=a", "missing secret"},
		{"empty secret", "enumgate://enroll?secret=&issuer=B&account=a", "missing secret"},
		{"padded secret", "enumgate://enroll?secret=" + secret16 + "======&issuer=B&account=a", "without '=' padding"},
		{"secret with 1", "enumgate://enroll?secret=1EZDGNBVGY3TQOJQGEZDGNBVGY&issuer=B&account=a", "not valid base32"},
		{"secret of impossible length", "enumgate://enroll?secret=" + secret16 + "A&issuer=B&account=a", "not valid base32"},
		{"non-canonical secret", "enumgate://enroll?secret=GEZDGNBVGY3TQOJQGEZDGNBVGZ&issuer=B&account=a", "not canonical"},
		{"short key", "enumgate://enroll?secret=GEZDGNBVGY3TQOJQGEZDGNBV&issuer=B&account=a", "15 bytes, want 16 to 256"},
		{"empty suite", "enumgate://enroll?" + ok + "&suite=", "empty suite"},
		{"bad suite", "enumgate://enroll?" + ok + "&suite=OCRA-1:HOTP-SHA1-6:QN65", `invalid suite "OCRA-1:HOTP-SHA1-6:QN65": "QN65"`},
		{"missing issuer", "enumgate://enroll?secret=" + secret16 + "&account=a", "missing issuer"},
		{"missing account", "enumgate://enroll?secret=" + secret16 + "&issuer=B", "missing account"},
		{"empty issuer", "enumgate://enroll?secret=" + secret16 + "&issuer=&account=a", "issuer must not be empty"},
		{"empty account", "enumgate://enroll?secret=" + secret16 + "&issuer=B&account=", "account must not be empty"},
		{"colon in issuer", "enumgate://enroll?secret=" + secret16 + "&issuer=B:C&account=a", "must not contain ':'"},
		{"control character in account", "enumgate://enroll?secret=" + secret16 + "&issuer=B&account=a%0Ab", "control characters"},
		{"invalid UTF-8 in issuer", "enumgate://enroll?secret=" + secret16 + "&issuer=%ff&account=a", "not valid UTF-8"},
		{"leading space in account", "enumgate://enroll?secret=" + secret16 + "&issuer=B&account=+a", "spaces"},
		{"overlong account", "enumgate://enroll?secret=" + secret16 + "&issuer=B&account=" + strings.Repeat("a", 257), "account too long"},
		{"overlong URI", "enumgate://enroll?" + ok + strings.Repeat("&", 5000), "URI too long"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e, err := enroll.Parse(tt.uri)
			if err == nil {
				t.Fatalf("Parse(%q) = %+v, want error", tt.uri, e)
			}
			if !errors.Is(err, enroll.ErrInvalid) {
				t.Errorf("error %v does not match ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not contain %q", err, tt.msg)
			}
			if strings.Contains(err.Error(), secret16[:16]) {
				t.Errorf("error %q reveals the secret", err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q has several lines", err)
			}
			if e.Key != nil || e.Issuer != "" {
				t.Errorf("partial enrolment %+v returned with the error", e)
			}
		})
	}
}

func TestValidateRejectsBadKeys(t *testing.T) {
	for _, n := range []int{0, 15, enroll.MaxKeyLen + 1} {
		e := enroll.Enrollment{Issuer: "B", Account: "a", Key: make([]byte, n)}
		if err := e.Validate(); !errors.Is(err, enroll.ErrInvalid) {
			t.Errorf("key of %d bytes: %v", n, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add("enumgate://enroll?secret=" + secret16 + "&issuer=B&account=a")
	f.Add(enroll.Enrollment{Issuer: "Ünï & Co", Account: "a:b", Suite: "OCRA-1:HOTP-SHA512-8:QA10-T1M", Key: key16}.URI())
	f.Add("ENUMGATE://ENROLL/?account=a&issuer=B&secret=" + strings.ToLower(secret16))
	f.Add("enumgate://enroll?secret=%47EZDGNBVGY3TQOJQGEZDGNBVGY&issuer=B&account=a;b")
	f.Add("enumgate:enroll")
	f.Fuzz(func(t *testing.T, uri string) {
		e, err := enroll.Parse(uri)
		if err != nil {
			if !errors.Is(err, enroll.ErrInvalid) {
				t.Fatalf("error %v does not match ErrInvalid", err)
			}
			return
		}
		if err := e.Validate(); err != nil {
			t.Fatalf("Parse accepted %q but Validate says %v", uri, err)
		}
		again, err := enroll.Parse(e.URI())
		if err != nil || !reflect.DeepEqual(again, e) {
			t.Fatalf("Parse(URI()) = %+v, %v; want %+v", again, err, e)
		}
	})
}
