package confirm_test

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/enumgate/enumgate/confirm"
)

const transferBody = "to=Z123456789012&amount=1.00"

// claimsFor returns the claims the gateway signs for a request with
// this method, host, target (path and query as received) and body.
func claimsFor(id, method, host, target, body string) confirm.Claims {
	path, query, _ := strings.Cut(target, "?")
	return confirm.Claims{
		ChallengeID: id, Operation: "transfer", Method: "enum", User: "alice", Time: t0,
		RequestMethod: method, Host: host, Path: path, RawQuery: query,
		BodySHA256: sha256.Sum256([]byte(body)),
	}
}

// request returns a server-side request as the upstream receives it.
func request(method, host, target, body string, headers ...string) *http.Request {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	r.Host = host
	for _, h := range headers {
		r.Header.Add(confirm.Header, h)
	}
	return r
}

func verifier(now time.Time) *confirm.Verifier {
	return &confirm.Verifier{Key: testKey, Now: func() time.Time { return now }}
}

func TestVerify(t *testing.T) {
	signed := func(method, host, target, body string) string {
		return claimsFor("c1", method, host, target, body).Sign(testKey)
	}
	good := signed("POST", "bank.example", "/transfer?from=main", transferBody)
	at := func(d time.Duration) func(*confirm.Verifier) {
		return func(v *confirm.Verifier) { v.Now = func() time.Time { return t0.Add(d) } }
	}
	tests := []struct {
		name string
		v    func(*confirm.Verifier)
		r    *http.Request
		want error  // nil: accepted
		part string // for ErrMismatch
	}{
		{"accepts the request it was signed for", nil,
			request("POST", "bank.example", "/transfer?from=main", transferBody, good), nil, ""},
		{"accepts a header MaxAge old", at(confirm.DefaultMaxAge),
			request("POST", "bank.example", "/transfer?from=main", transferBody, good), nil, ""},
		{"accepts a header from MaxAge ahead", at(-confirm.DefaultMaxAge),
			request("POST", "bank.example", "/transfer?from=main", transferBody, good), nil, ""},
		{"accepts the host in another case", nil,
			request("POST", "BANK.example", "/transfer?from=main", transferBody, good), nil, ""},
		{"accepts an empty body", nil,
			request("POST", "bank.example", "/withdraw", "", signed("POST", "bank.example", "/withdraw", "")), nil, ""},
		{"accepts an escaped path received as sent", nil,
			request("POST", "bank.example", "/pay/a%2Fb%20c", "", signed("POST", "bank.example", "/pay/a%2Fb%20c", "")), nil, ""},
		{"accepts a path a Go proxy escaped again", nil,
			request("POST", "bank.example", "/caf%C3%A9", "", signed("POST", "bank.example", "/café", "")), nil, ""},
		{"accepts another host with IgnoreHost", func(v *confirm.Verifier) { v.IgnoreHost = true },
			request("POST", "10.0.0.7:9080", "/transfer?from=main", transferBody, good), nil, ""},

		{"accepts the user the app logged in", func(v *confirm.Verifier) { v.User = func(*http.Request) string { return "alice" } },
			request("POST", "bank.example", "/transfer?from=main", transferBody, good), nil, ""},

		{"refuses another user", func(v *confirm.Verifier) { v.User = func(*http.Request) string { return "bob" } },
			request("POST", "bank.example", "/transfer?from=main", transferBody, good), confirm.ErrMismatch, "user"},
		{"refuses a request without the header", nil,
			request("POST", "bank.example", "/transfer?from=main", transferBody), confirm.ErrMissing, ""},
		{"refuses two headers", nil,
			request("POST", "bank.example", "/transfer?from=main", transferBody, good, good), confirm.ErrMalformed, ""},
		{"refuses two headers joined by a comma", nil,
			request("POST", "bank.example", "/transfer?from=main", transferBody, good+", "+good), confirm.ErrMalformed, ""},
		{"refuses a wrong key", func(v *confirm.Verifier) { v.Key = []byte("another gateway's key") },
			request("POST", "bank.example", "/transfer?from=main", transferBody, good), confirm.ErrSignature, ""},
		{"refuses every header without a key", func(v *confirm.Verifier) { v.Key = nil },
			request("POST", "bank.example", "/transfer?from=main", transferBody, claimsFor("c1", "POST", "bank.example", "/transfer?from=main", transferBody).Sign(nil)),
			confirm.ErrSignature, ""},
		{"refuses a stale header", at(confirm.DefaultMaxAge + time.Second),
			request("POST", "bank.example", "/transfer?from=main", transferBody, good), confirm.ErrStale, ""},
		{"refuses a header from the future", at(-confirm.DefaultMaxAge - time.Second),
			request("POST", "bank.example", "/transfer?from=main", transferBody, good), confirm.ErrStale, ""},
		{"refuses a stale header under a shorter MaxAge", func(v *confirm.Verifier) {
			v.MaxAge = 10 * time.Second
			v.Now = func() time.Time { return t0.Add(11 * time.Second) }
		}, request("POST", "bank.example", "/transfer?from=main", transferBody, good), confirm.ErrStale, ""},
		{"refuses a tampered body", nil,
			request("POST", "bank.example", "/transfer?from=main", "to=Z999999999999&amount=9999.00", good), confirm.ErrMismatch, "body"},
		{"refuses a body with one byte more", nil,
			request("POST", "bank.example", "/transfer?from=main", transferBody+"&", good), confirm.ErrMismatch, "body"},
		{"refuses another path", nil,
			request("POST", "bank.example", "/withdraw?from=main", transferBody, good), confirm.ErrMismatch, "path"},
		{"refuses the decoded form of an escaped path", nil,
			request("POST", "bank.example", "/pay/a/b", "", signed("POST", "bank.example", "/pay/a%2Fb", "")), confirm.ErrMismatch, "path"},
		{"refuses another query", nil,
			request("POST", "bank.example", "/transfer?from=savings", transferBody, good), confirm.ErrMismatch, "query"},
		{"refuses a dropped query", nil,
			request("POST", "bank.example", "/transfer", transferBody, good), confirm.ErrMismatch, "query"},
		{"refuses another method", nil,
			request("PUT", "bank.example", "/transfer?from=main", transferBody, good), confirm.ErrMismatch, "method"},
		{"refuses a host that matches only by Unicode case folding", nil,
			request("POST", "ban\u212a.example", "/transfer?from=main", transferBody, signed("POST", "bank.example", "/transfer?from=main", transferBody)),
			confirm.ErrMismatch, "host"},
		{"refuses another host", nil,
			request("POST", "evil.example", "/transfer?from=main", transferBody, good), confirm.ErrMismatch, "host"},
		{"refuses a body over MaxBody", func(v *confirm.Verifier) { v.MaxBody = 8 },
			request("POST", "bank.example", "/transfer?from=main", transferBody, good), confirm.ErrTooLarge, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := verifier(t0)
			if tt.v != nil {
				tt.v(v)
			}
			want, _ := io.ReadAll(tt.r.Body)
			tt.r.Body = io.NopCloser(bytes.NewReader(want))
			c, err := v.Verify(tt.r)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("Verify = %+v, %v; want %v", c, err, tt.want)
			}
			if tt.part != "" {
				var me *confirm.MismatchError
				if !errors.As(err, &me) || me.Part != tt.part {
					t.Errorf("Verify error %v, want a mismatch of the %s", err, tt.part)
				}
			}
			if err != nil && c != (confirm.Claims{}) {
				t.Errorf("claims returned with an error: %+v", c)
			}
			if err == nil && (c.ChallengeID != "c1" || c.User != "alice" || c.Method != "enum") {
				t.Errorf("claims = %+v", c)
			}
			// Whatever the outcome, the handler still reads the whole body.
			if got, err := io.ReadAll(tt.r.Body); err != nil || !bytes.Equal(got, want) {
				t.Errorf("body after Verify = %q, %v; want %q", got, err, want)
			}
		})
	}
}

func TestVerifyRestoresBodyAndLength(t *testing.T) {
	r := request("POST", "bank.example", "/transfer", transferBody,
		claimsFor("c1", "POST", "bank.example", "/transfer", transferBody).Sign(testKey))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.ContentLength = -1 // as for a chunked body
	if _, err := verifier(t0).Verify(r); err != nil {
		t.Fatal(err)
	}
	if r.ContentLength != int64(len(transferBody)) {
		t.Errorf("ContentLength = %d, want %d", r.ContentLength, len(transferBody))
	}
	if err := r.ParseForm(); err != nil || r.PostForm.Get("to") != "Z123456789012" {
		t.Errorf("form after Verify = %v, %v", r.PostForm, err)
	}
	rc, err := r.GetBody()
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := io.ReadAll(rc); string(got) != transferBody {
		t.Errorf("GetBody = %q", got)
	}
}

func TestVerifyRefusesAReplayedID(t *testing.T) {
	now := t0
	v := &confirm.Verifier{Key: testKey, Now: func() time.Time { return now }}
	h := claimsFor("once", "POST", "bank.example", "/transfer", transferBody).Sign(testKey)
	send := func() error {
		_, err := v.Verify(request("POST", "bank.example", "/transfer", transferBody, h))
		return err
	}
	if err := send(); err != nil {
		t.Fatalf("first use: %v", err)
	}
	if err := send(); !errors.Is(err, confirm.ErrReplayed) {
		t.Fatalf("second use = %v, want ErrReplayed", err)
	}
	now = t0.Add(confirm.DefaultMaxAge)
	if err := send(); !errors.Is(err, confirm.ErrReplayed) {
		t.Fatalf("use at the end of MaxAge = %v, want ErrReplayed", err)
	}
	// Once the header is stale the id may go; the next accepted header
	// makes room.
	now = t0.Add(confirm.DefaultMaxAge + time.Second)
	if err := send(); !errors.Is(err, confirm.ErrStale) {
		t.Fatalf("use after MaxAge = %v, want ErrStale", err)
	}
}

func TestVerifyRemembersTheIDOnlyAfterEveryCheck(t *testing.T) {
	v := verifier(t0)
	v.User = func(r *http.Request) string { return r.Header.Get("X-User") }
	h := claimsFor("c1", "POST", "bank.example", "/transfer", transferBody).Sign(testKey)
	asBob := request("POST", "bank.example", "/transfer", transferBody, h)
	asBob.Header.Set("X-User", "bob")
	for _, r := range []*http.Request{
		request("POST", "bank.example", "/transfer", "to=Z999&amount=9999.00", h),
		request("POST", "bank.example", "/withdraw", transferBody, h),
		request("POST", "evil.example", "/transfer", transferBody, h),
		asBob,
	} {
		r.Header.Set("X-User", cmp.Or(r.Header.Get("X-User"), "alice"))
		if _, err := v.Verify(r); !errors.Is(err, confirm.ErrMismatch) {
			t.Fatalf("tampered request = %v, want ErrMismatch", err)
		}
	}
	genuine := request("POST", "bank.example", "/transfer", transferBody, h)
	genuine.Header.Set("X-User", "alice")
	if _, err := v.Verify(genuine); err != nil {
		t.Fatalf("the genuine request after refused ones = %v; a refused header must not use up its id", err)
	}
}

func TestVerifyConcurrentUsesConfirmOnce(t *testing.T) {
	v := verifier(t0)
	h := claimsFor("race", "POST", "bank.example", "/transfer", transferBody).Sign(testKey)
	const n = 32
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, replayed := 0, 0
	for range n {
		wg.Go(func() {
			_, err := v.Verify(request("POST", "bank.example", "/transfer", transferBody, h))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, confirm.ErrReplayed):
				replayed++
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if ok != 1 || replayed != n-1 {
		t.Errorf("%d accepted, %d replayed; want 1 and %d", ok, replayed, n-1)
	}
}

func TestVerifiersShareAMemory(t *testing.T) {
	mem := confirm.NewInMemory(0)
	a := &confirm.Verifier{Key: testKey, Memory: mem, Now: func() time.Time { return t0 }}
	b := &confirm.Verifier{Key: testKey, Memory: mem, Now: func() time.Time { return t0 }}
	h := claimsFor("shared", "POST", "bank.example", "/transfer", transferBody).Sign(testKey)
	if _, err := a.Verify(request("POST", "bank.example", "/transfer", transferBody, h)); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Verify(request("POST", "bank.example", "/transfer", transferBody, h)); !errors.Is(err, confirm.ErrReplayed) {
		t.Fatalf("replay through another verifier = %v, want ErrReplayed", err)
	}
}

func TestInMemoryIsBoundedAndForgetsExpiredIDs(t *testing.T) {
	m := confirm.NewInMemory(2)
	for _, id := range []string{"a", "b"} {
		if err := m.Remember(id, t0.Add(time.Minute), t0); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Remember("c", t0.Add(time.Minute), t0); !errors.Is(err, confirm.ErrMemoryFull) {
		t.Fatalf("third live id = %v, want ErrMemoryFull", err)
	}
	if err := m.Remember("a", t0.Add(time.Minute), t0.Add(time.Minute)); !errors.Is(err, confirm.ErrReplayed) {
		t.Fatalf("id at its last live instant = %v, want ErrReplayed", err)
	}
	if err := m.Remember("c", t0.Add(3*time.Minute), t0.Add(time.Minute+time.Second)); err != nil {
		t.Fatalf("after the others expired = %v", err)
	}
	if m.Len() != 1 {
		t.Errorf("Len = %d, want 1 (expired ids forgotten)", m.Len())
	}
	if err := m.Remember("a", t0.Add(3*time.Minute), t0.Add(time.Minute+time.Second)); err != nil {
		t.Errorf("an expired id remembered again = %v", err)
	}
}

func TestInMemoryZeroValueWorks(t *testing.T) {
	var m confirm.InMemory
	if err := m.Remember("x", t0.Add(time.Minute), t0); err != nil {
		t.Fatal(err)
	}
	if err := m.Remember("x", t0.Add(time.Minute), t0); !errors.Is(err, confirm.ErrReplayed) {
		t.Fatalf("replay = %v", err)
	}
}

// failingMemory refuses everything, as a down database would.
type failingMemory struct{}

func (failingMemory) Remember(string, time.Time, time.Time) error { return errors.New("database down") }

func TestVerifyFailsClosedWhenTheMemoryFails(t *testing.T) {
	v := &confirm.Verifier{Key: testKey, Memory: failingMemory{}, Now: func() time.Time { return t0 }}
	h := claimsFor("c1", "POST", "bank.example", "/transfer", transferBody).Sign(testKey)
	if c, err := v.Verify(request("POST", "bank.example", "/transfer", transferBody, h)); err == nil {
		t.Fatalf("Verify = %+v with a failing memory", c)
	}
}

func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }
