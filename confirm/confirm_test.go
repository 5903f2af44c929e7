package confirm_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/enumgate/enumgate/confirm"
)

var (
	testKey = []byte("0123456789abcdef0123456789abcdef")
	t0      = time.Unix(1764244800, 0).UTC()
)

func sampleClaims() confirm.Claims {
	return confirm.Claims{
		ChallengeID: "n3Vd9cJ0bS1kq2W8xYz4Ab", Operation: "transfer", Method: "enum", User: "alice; sig=x",
		Time: t0, RequestMethod: "POST", Host: "bank.example", Path: "/transfer", RawQuery: "a=1&b=%2F",
		BodySHA256: sha256.Sum256([]byte("to=Z1&amount=1.00")),
	}
}

// signRaw signs an arbitrary pre-signature text, to test what Parse does
// with well-signed but badly formed values.
func signRaw(key []byte, s string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(s))
	return s + "; sig=" + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// body returns the text before "; sig=" of c signed.
func body(c confirm.Claims) string {
	s, _, _ := strings.Cut(c.Sign(testKey), "; sig=")
	return s
}

func TestSignWritesTheDocumentedFormat(t *testing.T) {
	c := sampleClaims()
	c.Path = "/pay/a b"
	got := body(c)
	want := "v=2; id=n3Vd9cJ0bS1kq2W8xYz4Ab; op=transfer; m=enum; u=alice%3B+sig%3Dx; t=1764244800; " +
		"rm=POST; h=bank.example; p=%2Fpay%2Fa+b; q=a%3D1%26b%3D%252F; bh=" +
		base64.RawURLEncoding.EncodeToString(c.BodySHA256[:])
	if got != want {
		t.Fatalf("signed text\n got %s\nwant %s", got, want)
	}
}

func TestParseReturnsWhatWasSigned(t *testing.T) {
	c := sampleClaims()
	got, err := confirm.Parse(testKey, c.Sign(testKey))
	if err != nil {
		t.Fatal(err)
	}
	if got != c {
		t.Fatalf("Parse = %+v\nwant %+v", got, c)
	}
}

func TestParseRefuses(t *testing.T) {
	good := body(sampleClaims())
	replace := func(old, new string) string {
		if !strings.Contains(good, old) {
			panic("test value lacks " + old)
		}
		return signRaw(testKey, strings.Replace(good, old, new, 1))
	}
	sum := sampleClaims().BodySHA256
	bh := "bh=" + base64.RawURLEncoding.EncodeToString(sum[:])
	tests := []struct {
		name  string
		key   []byte
		value string
		want  error
	}{
		{"a wrong key", []byte("another key"), sampleClaims().Sign(testKey), confirm.ErrSignature},
		{"no key", nil, sampleClaims().Sign(nil), confirm.ErrSignature},
		{"a tampered field", testKey, strings.Replace(sampleClaims().Sign(testKey), "op=transfer", "op=withdrawal", 1), confirm.ErrSignature},
		{"a truncated value", testKey, sampleClaims().Sign(testKey)[:60], confirm.ErrMalformed},
		{"no signature", testKey, good, confirm.ErrMalformed},
		{"an empty signature", testKey, good + "; sig=", confirm.ErrMalformed},
		{"a padded signature", testKey, signRaw(testKey, good) + "=", confirm.ErrMalformed},
		{"a value over MaxLen", testKey, signRaw(testKey, good+strings.Repeat("x", confirm.MaxLen)), confirm.ErrMalformed},
		{"garbage", testKey, "hello", confirm.ErrMalformed},
		{"version 1", testKey, replace("v=2", "v=1"), confirm.ErrMalformed},
		{"an unknown version", testKey, replace("v=2", "v=3"), confirm.ErrMalformed},
		{"a missing key", testKey, replace("; q=a%3D1%26b%3D%252F", ""), confirm.ErrMalformed},
		{"a truncated key list", testKey, signRaw(testKey, strings.Split(good, "; p=")[0]), confirm.ErrMalformed},
		{"an extra key at the end", testKey, signRaw(testKey, good+"; x=1"), confirm.ErrMalformed},
		{"an extra key in the middle", testKey, replace("; rm=", "; x=1; rm="), confirm.ErrMalformed},
		{"a key twice", testKey, replace("; rm=POST", "; rm=POST; rm=GET"), confirm.ErrMalformed},
		{"keys out of order", testKey, replace("op=transfer; m=enum", "m=enum; op=transfer"), confirm.ErrMalformed},
		{"a renamed key", testKey, replace("; rm=", "; method="), confirm.ErrMalformed},
		{"a pair without =", testKey, replace("; rm=POST", "; rm"), confirm.ErrMalformed},
		{"a non-canonical escape", testKey, replace("p=%2Ftransfer", "p=%2ftransfer"), confirm.ErrMalformed},
		{"a needless escape", testKey, replace("op=transfer", "op=tr%61nsfer"), confirm.ErrMalformed},
		{"a bad escape", testKey, replace("op=transfer", "op=%zz"), confirm.ErrMalformed},
		{"an empty id", testKey, replace("id=n3Vd9cJ0bS1kq2W8xYz4Ab", "id="), confirm.ErrMalformed},
		{"an empty user", testKey, replace("u=alice%3B+sig%3Dx", "u="), confirm.ErrMalformed},
		{"an empty request method", testKey, replace("rm=POST", "rm="), confirm.ErrMalformed},
		{"an empty path", testKey, replace("p=%2Ftransfer", "p="), confirm.ErrMalformed},
		{"a time with a leading zero", testKey, replace("t=1764244800", "t=01764244800"), confirm.ErrMalformed},
		{"a negative time", testKey, replace("t=1764244800", "t=-1"), confirm.ErrMalformed},
		{"a time that is not a number", testKey, replace("t=1764244800", "t=soon"), confirm.ErrMalformed},
		{"a short body hash", testKey, replace(bh, "bh=AAAA"), confirm.ErrMalformed},
		{"a padded body hash", testKey, replace(bh, bh+"%3D"), confirm.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := confirm.Parse(tt.key, tt.value)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Parse = %+v, %v; want %v", c, err, tt.want)
			}
			if c != (confirm.Claims{}) {
				t.Errorf("Parse returned claims with an error: %+v", c)
			}
		})
	}
}

func TestSignParseKeepsEveryByte(t *testing.T) {
	c := sampleClaims()
	c.User = "Zoë ; =%+&\x00"
	c.Host = ""
	c.Path = "/a%2Fb/%zz/ü"
	c.RawQuery = "q=; sig=x"
	got, err := confirm.Parse(testKey, c.Sign(testKey))
	if err != nil || got != c {
		t.Fatalf("Parse = %+v, %v", got, err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(sampleClaims().Sign(testKey))
	f.Add(body(sampleClaims()))
	f.Add(signRaw(testKey, strings.Replace(body(sampleClaims()), "v=2", "v=1", 1)))
	f.Add(signRaw(testKey, "v=2"))
	f.Add("v=2; sig=")
	f.Fuzz(func(t *testing.T, v string) {
		c, err := confirm.Parse(testKey, v)
		if err != nil {
			if c != (confirm.Claims{}) {
				t.Fatalf("claims with an error: %+v", c)
			}
			return
		}
		// A value that parses must be the one encoding of its claims, or
		// someone found a second encoding under one signature.
		if again := c.Sign(testKey); again != v {
			t.Fatalf("Parse(%q) = %+v, which signs as %q", v, c, again)
		}
	})
}

func FuzzSignParse(f *testing.F) {
	f.Add("id", "transfer", "enum", "alice", int64(1764244800), "POST", "bank.example", "/transfer", "a=1", []byte("body"))
	f.Fuzz(func(t *testing.T, id, op, m, u string, sec int64, rm, h, p, q string, b []byte) {
		c := confirm.Claims{ChallengeID: id, Operation: op, Method: m, User: u, Time: time.Unix(sec, 0).UTC(),
			RequestMethod: rm, Host: h, Path: p, RawQuery: q, BodySHA256: sha256.Sum256(b)}
		got, err := confirm.Parse(testKey, c.Sign(testKey))
		valid := id != "" && op != "" && m != "" && u != "" && rm != "" && p != "" && sec >= 0
		long := len(c.Sign(testKey)) > confirm.MaxLen
		switch {
		case valid && !long && (err != nil || got != c):
			t.Fatalf("Parse(Sign(%+v)) = %+v, %v", c, got, err)
		case (!valid || long) && err == nil:
			t.Fatalf("Parse accepted %+v", c)
		}
	})
}
