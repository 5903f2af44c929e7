package challenge_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/enumgate/enumgate/challenge"
	"github.com/enumgate/enumgate/confirm"
)

func sampleConfirmed() challenge.Confirmed {
	return challenge.Confirmed{ChallengeID: "AAAAAAAAAAAAAAAAAAAAAA", Operation: "transfer", Method: challenge.MethodSMS,
		User: "alice; sig=x", Time: t0, RequestMethod: "POST", Host: "pay.example", Path: "/transfer", RawQuery: "x=1",
		BodySHA256: sha256.Sum256([]byte("to=Z123&amount=10.00"))}
}

func TestVerifyConfirmed(t *testing.T) {
	key := challenge.ConfirmKey([]byte("0123456789abcdef"))
	c := sampleConfirmed()
	h := c.Sign(key)
	v1 := "v=1; id=AAAAAAAAAAAAAAAAAAAAAA; op=transfer; m=sms; u=alice; t=1795780800; d=BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc"
	tests := []struct {
		name  string
		value string
		key   []byte
		now   time.Time
		err   error
	}{
		{"accepts a fresh, intact header", h, key, t0.Add(time.Second), nil},
		{"refuses a wrong key", h, challenge.ConfirmKey([]byte("another secret!!")), t0, challenge.ErrConfirmedSignature},
		{"refuses an old header", h, key, t0.Add(time.Hour), challenge.ErrConfirmedStale},
		{"refuses a header from the future", h, key, t0.Add(-time.Hour), challenge.ErrConfirmedStale},
		{"refuses a tampered operation", strings.Replace(h, "op=transfer", "op=withdrawal", 1), key, t0, challenge.ErrConfirmedSignature},
		{"refuses a tampered path", strings.Replace(h, "p=%2Ftransfer", "p=%2Fwithdraw", 1), key, t0, challenge.ErrConfirmedSignature},
		{"refuses a header without signature", strings.Split(h, "; sig=")[0], key, t0, challenge.ErrConfirmedMalformed},
		{"refuses a version 1 header", v1 + "; sig=" + hmacB64(key, v1), key, t0, challenge.ErrConfirmedMalformed},
		{"refuses garbage", "hello", key, t0, challenge.ErrConfirmedMalformed},
		{"refuses a value over the length bound", strings.Repeat("a", confirm.MaxLen+1), key, t0, challenge.ErrConfirmedMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := challenge.VerifyConfirmed(tt.key, tt.value, tt.now, time.Minute)
			if !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
				t.Fatalf("VerifyConfirmed = %v, want %v", err, tt.err)
			}
			want := c
			want.Time = got.Time // compared below with Equal
			if err == nil && (got != want || !got.Time.Equal(t0)) {
				t.Fatalf("VerifyConfirmed = %+v, want %+v", got, c)
			}
		})
	}
}

func TestConfirmedErrorsAreConfirmsErrors(t *testing.T) {
	for _, p := range [][2]error{
		{challenge.ErrConfirmedMalformed, confirm.ErrMalformed},
		{challenge.ErrConfirmedSignature, confirm.ErrSignature},
		{challenge.ErrConfirmedStale, confirm.ErrStale},
	} {
		if !errors.Is(p[0], p[1]) || !errors.Is(p[1], p[0]) {
			t.Errorf("%v and %v differ", p[0], p[1])
		}
	}
}

func hmacB64(key []byte, s string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(s))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func FuzzVerifyConfirmed(f *testing.F) {
	key := challenge.ConfirmKey([]byte("0123456789abcdef"))
	f.Add(sampleConfirmed().Sign(key))
	f.Add("v=2; sig=")
	f.Fuzz(func(t *testing.T, v string) {
		c, err := challenge.VerifyConfirmed(key, v, t0, 0)
		if err == nil && c.Sign(key) != v {
			// A value that verifies must be the canonical signing of its
			// content, or someone found a second encoding under one MAC.
			t.Fatalf("VerifyConfirmed(%q) = %+v, which signs as %q", v, c, c.Sign(key))
		}
	})
}

// replayed rebuilds, from the stash alone, the request the upstream
// receives (what the gateway forwards).
func replayed(t *testing.T, st *challenge.Stash, header string) *http.Request {
	t.Helper()
	r := httptest.NewRequest(st.Method, st.URI, bytes.NewReader(st.Body))
	r.Host = st.Host
	r.Header = st.Header.Clone()
	r.Header.Set(challenge.ConfirmedHeader, header)
	return r
}

// TestVerifyBindsTheHeaderToTheStashedRequest is the invariant "the
// upstream can check the binding itself": the header the engine signs
// names the stashed method, host, path, query and body digest, and a
// confirm.Verifier accepts the request rebuilt from the stash and nothing
// else.
func TestVerifyBindsTheHeaderToTheStashedRequest(t *testing.T) {
	f := newFixture(t)
	c := f.issue(t, alice)
	conf, err := f.eng.Verify(context.Background(), c.ID, alice, f.beginEnum(t, c.ID))
	if err != nil {
		t.Fatal(err)
	}
	st := stash()
	claims, err := confirm.Parse(f.eng.ConfirmKey(), conf.Header)
	if err != nil {
		t.Fatal(err)
	}
	want := confirm.Claims{ChallengeID: c.ID, Operation: "transfer", Method: "enum", User: "alice", Time: t0,
		RequestMethod: "POST", Host: "pay.example", Path: "/transfer", RawQuery: "x=1", BodySHA256: sha256.Sum256(st.Body)}
	if claims != want {
		t.Fatalf("signed claims = %+v\nwant %+v", claims, want)
	}

	newVerifier := func() *confirm.Verifier {
		return &confirm.Verifier{Key: f.eng.ConfirmKey(), Now: func() time.Time { return t0 }}
	}
	if _, err := newVerifier().Verify(replayed(t, conf.Stash, conf.Header)); err != nil {
		t.Fatalf("the request rebuilt from the stash: %v", err)
	}
	for _, tamper := range []struct {
		part   string
		change func(*challenge.Stash)
	}{
		{"body", func(s *challenge.Stash) { s.Body = []byte("to=Z666&amount=9999.00") }},
		{"path", func(s *challenge.Stash) { s.URI = "/withdraw?x=1" }},
		{"query", func(s *challenge.Stash) { s.URI = "/transfer?x=2" }},
		{"method", func(s *challenge.Stash) { s.Method = "PUT" }},
		{"host", func(s *challenge.Stash) { s.Host = "evil.example" }},
	} {
		other := *conf.Stash
		tamper.change(&other)
		_, err := newVerifier().Verify(replayed(t, &other, conf.Header))
		if me, ok := errors.AsType[*confirm.MismatchError](err); !ok || me.Part != tamper.part {
			t.Errorf("the header on another %s: Verify = %v", tamper.part, err)
		}
	}
}

func TestVerifyBindsAnAbsoluteFormTarget(t *testing.T) {
	f := newFixture(t)
	st := stash()
	st.URI = "http://pay.example/pay/a%2Fb?x=1"
	c, err := f.eng.Issue(context.Background(), challenge.Request{
		Subject: alice, Operation: "transfer", Amount: "10.00", Payee: "Z123", Stash: st,
	})
	if err != nil {
		t.Fatal(err)
	}
	conf, err := f.eng.Verify(context.Background(), c.ID, alice, f.beginEnum(t, c.ID))
	if err != nil {
		t.Fatal(err)
	}
	got, err := challenge.VerifyConfirmed(f.eng.ConfirmKey(), conf.Header, t0, time.Minute)
	if err != nil || got.Path != "/pay/a%2Fb" || got.RawQuery != "x=1" {
		t.Fatalf("header = %+v, %v; want path /pay/a%%2Fb and query x=1", got, err)
	}
	// A proxy forwards it in origin form.
	u, _ := url.ParseRequestURI(st.URI)
	r := httptest.NewRequest("POST", u.RequestURI(), bytes.NewReader(st.Body))
	r.Host = st.Host
	r.Header.Set(challenge.ConfirmedHeader, conf.Header)
	v := &confirm.Verifier{Key: f.eng.ConfirmKey(), Now: func() time.Time { return t0 }}
	if _, err := v.Verify(r); err != nil {
		t.Fatalf("the forwarded request: %v", err)
	}
	if b, _ := io.ReadAll(r.Body); !bytes.Equal(b, st.Body) {
		t.Errorf("body after Verify = %q", b)
	}
}

// An upstream app checks the Enumgate-Confirmed header alone with the key
// the operator gave it. VerifyConfirmed checks no more than the header:
// to check that it belongs to the request and is not replayed, use a
// confirm.Verifier.
func ExampleVerifyConfirmed() {
	key := challenge.ConfirmKey([]byte("a secret of at least 16 bytes"))
	now := time.Unix(1764244800, 0)
	h := challenge.Confirmed{ChallengeID: "n3Vd9cJ0bS1kq2W8xYz4Ab", Operation: "transfer",
		Method: challenge.MethodEnum, User: "alice", Time: now,
		RequestMethod: "POST", Host: "pay.example", Path: "/transfer",
		BodySHA256: sha256.Sum256([]byte("to=Z123&amount=10.00"))}.Sign(key)

	c, err := challenge.VerifyConfirmed(key, h, now.Add(time.Second), time.Minute)
	fmt.Println(err, c.Operation, c.Method, c.User, c.RequestMethod, c.Host, c.Path)
	// Output: <nil> transfer enum alice POST pay.example /transfer
}
