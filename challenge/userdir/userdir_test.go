package userdir

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/enumgate/enumgate/challenge"
	"github.com/enumgate/enumgate/challenge/ocra"
	"github.com/enumgate/enumgate/internal/redistest"
)

// TestUsage is the example of the package: it needs a real Redis, so it is
// a test rather than an Example.
func TestUsage(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	ctx := context.Background()

	opt, err := redis.ParseURL(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	client := redis.NewClient(opt)
	defer client.Close()

	dir, err := New(ctx, client, Options{Secrets: [][]byte{[]byte("a secret of at least 16 bytes")}})
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()

	err = dir.Put(ctx, Record{ID: "alice", Phone: "+79000000001", Emails: []string{"alice@example.test"},
		Devices: []DeviceRecord{{Name: "phone", Key: []byte("12345678901234567890123456789012")}}})
	if err != nil {
		t.Fatal(err)
	}

	// The engine looks alice up; her E-num app answers a question.
	var d challenge.Directory = dir
	u, err := d.Lookup(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	dev := u.Devices[0]
	answer, err := dev.Suite.Compute(dev.Key, ocra.Input{Question: "12345678"})
	if err != nil {
		t.Fatal(err)
	}
	if dev.Suite.String() != challenge.DefaultSuite || len(answer) != 8 || u.Phone != "+79000000001" {
		t.Fatalf("suite %s, answer %q, phone %q", dev.Suite, answer, u.Phone)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never reached
	defer client.Close()
	for name, o := range map[string]Options{
		"no secrets":         {},
		"short secret":       {Secrets: [][]byte{[]byte("too short")}},
		"repeated secret":    {Secrets: [][]byte{secretA, secretA}},
		"brace in prefix":    {Prefix: "eg{1}:", Secrets: [][]byte{secretA}},
		"negative cache":     {CacheSize: -1, Secrets: [][]byte{secretA}},
		"negative cache ttl": {CacheTTL: -time.Second, Secrets: [][]byte{secretA}},
	} {
		t.Run(name, func(t *testing.T) {
			if d, err := New(context.Background(), client, o); err == nil {
				d.Close()
				t.Fatal("accepted")
			}
		})
	}
	if _, err := New(context.Background(), nil, Options{Secrets: [][]byte{secretA}}); err == nil {
		t.Fatal("nil client accepted")
	}
}

func TestNewFailsWithoutRedis(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(redistest.FreePort(t)), MaxRetries: -1})
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if d, err := New(ctx, client, Options{Secrets: [][]byte{secretA}}); err == nil {
		d.Close()
		t.Fatal("New succeeded with no Redis")
	}
}

func TestRoundTrip(t *testing.T) {
	_, c := startRedis(t, redistest.Options{})
	d := newDir(t, c, Options{})
	ctx := context.Background()

	pinSuite := "OCRA-1:HOTP-SHA1-6:QN08-PSHA1"
	pinHash := []byte("0123456789abcdefghij")
	a := aliceRecord()
	a.Notify = true
	a.Emails = append(a.Emails, "alice2@example.test")
	a.Devices = append(a.Devices, DeviceRecord{Name: "token", Suite: pinSuite, Key: []byte("k2"), PINHash: pinHash})
	mustPut(t, d, a, bobRecord())

	got, err := d.Get(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	want := a
	want.Devices = slices.Clone(a.Devices)
	for i := range want.Devices {
		want.Devices[i].KID = d.keys.primary.kid
	}
	if !recordsEqual(got, want) {
		t.Fatalf("Get = %+v\nwant %+v", got, want)
	}

	// The default suite is stored explicitly.
	b, err := d.Get(ctx, "bob")
	if err != nil || b.Devices[0].Suite != challenge.DefaultSuite {
		t.Fatalf("bob = %+v, %v", b, err)
	}

	u, err := d.Lookup(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if u.ID != "alice" || u.Phone != a.Phone || !slices.Equal(u.Emails, a.Emails) || len(u.Devices) != 2 ||
		!bytes.Equal(u.Devices[0].Key, aliceKey) || u.Devices[0].Suite.String() != a.Devices[0].Suite ||
		u.Devices[1].Suite.String() != pinSuite || !bytes.Equal(u.Devices[1].PINHash, pinHash) {
		t.Fatalf("Lookup = %+v", u)
	}

	// The JSON form, for `users show`, has no key material.
	j, _ := json.Marshal(got)
	for _, secret := range [][]byte{aliceKey, pinHash} {
		if bytes.Contains(j, secret) || bytes.Contains(j, []byte(hex.EncodeToString(secret))) ||
			bytes.Contains(j, []byte(base64.StdEncoding.EncodeToString(secret))) {
			t.Fatalf("JSON shows key material: %s", j)
		}
	}
	if !bytes.Contains(j, []byte(`"notify":true`)) || !bytes.Contains(j, []byte(`"kid":"`+d.keys.primary.kid)) {
		t.Fatalf("JSON = %s", j)
	}

	ids, err := d.List(ctx)
	if err != nil || !slices.Equal(ids, []string{"alice", "bob"}) {
		t.Fatalf("List = %v, %v", ids, err)
	}

	if err := d.Delete(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"Lookup deleted": lookupErr(d, "alice"),
		"Get deleted":    getErr(d, "alice"),
		"Delete deleted": d.Delete(ctx, "alice"),
		"Reset deleted":  d.ResetDevice(ctx, "alice"),
		"Lookup unknown": lookupErr(d, "carol"),
		"Lookup empty":   lookupErr(d, ""),
		"Lookup long":    lookupErr(d, strings.Repeat("x", 257)),
	} {
		if !errors.Is(err, challenge.ErrNoUser) {
			t.Errorf("%s: err = %v, want ErrNoUser", name, err)
		}
	}
	if _, err := d.Lookup(ctx, "bob"); err != nil {
		t.Fatalf("bob after deleting alice: %v", err)
	}
}

func TestResetDevice(t *testing.T) {
	_, c := startRedis(t, redistest.Options{})
	d := newDir(t, c, Options{})
	ctx := context.Background()
	a := aliceRecord()
	a.Notify = true
	mustPut(t, d, a)
	if err := d.ResetDevice(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	got, err := d.Get(ctx, "alice")
	if err != nil || len(got.Devices) != 0 || got.Phone != a.Phone || !got.Notify || !slices.Equal(got.Emails, a.Emails) {
		t.Fatalf("after reset: %+v, %v", got, err)
	}
	if err := d.ResetDevice(ctx, "alice"); err != nil {
		t.Fatalf("second reset: %v", err)
	}

	// A reset needs no secret: a record under a secret nobody has any
	// more can still be reset.
	other := newDir(t, c, Options{Secrets: [][]byte{secretC}})
	mustPut(t, other, bobRecord())
	if _, err := d.Get(ctx, "bob"); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("bob under secret C: %v", err)
	}
	if err := d.ResetDevice(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	if got, err := d.Get(ctx, "bob"); err != nil || len(got.Devices) != 0 {
		t.Fatalf("bob after reset: %+v, %v", got, err)
	}
}

func TestPutValidation(t *testing.T) {
	_, c := startRedis(t, redistest.Options{})
	d := newDir(t, c, Options{})
	ctx := context.Background()
	for name, mutate := range map[string]func(*Record){
		"empty id":          func(r *Record) { r.ID = "" },
		"long id":           func(r *Record) { r.ID = strings.Repeat("x", 257) },
		"bad phone":         func(r *Record) { r.Phone = "89000000001" },
		"bad email":         func(r *Record) { r.Emails = []string{"Alice <alice@example.test>"} },
		"bad suite":         func(r *Record) { r.Devices[0].Suite = "OCRA-1:HOTP-MD5-8:QN08" },
		"counter suite":     func(r *Record) { r.Devices[0].Suite = "OCRA-1:HOTP-SHA1-6:C-QN08" },
		"session suite":     func(r *Record) { r.Devices[0].Suite = "OCRA-1:HOTP-SHA1-6:QN08-S064" },
		"empty key":         func(r *Record) { r.Devices[0].Key = nil },
		"long key":          func(r *Record) { r.Devices[0].Key = make([]byte, 129) },
		"pin suite, no pin": func(r *Record) { r.Devices[0].Suite = "OCRA-1:HOTP-SHA1-6:QN08-PSHA1" },
		"pin, no pin suite": func(r *Record) { r.Devices[0].PINHash = []byte{1} },
	} {
		t.Run(name, func(t *testing.T) {
			r := aliceRecord()
			mutate(&r)
			err := d.Put(ctx, r)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
			if strings.Contains(err.Error(), hex.EncodeToString(aliceKey)) {
				t.Fatalf("error shows the key: %v", err)
			}
			t.Log(err)
		})
	}
	if ids, err := d.List(ctx); err != nil || len(ids) != 0 {
		t.Fatalf("invalid records were written: %v, %v", ids, err)
	}
}

// At rest, the value holds neither the key nor its usual encodings.
func TestKeysEncryptedAtRest(t *testing.T) {
	_, c := startRedis(t, redistest.Options{})
	d := newDir(t, c, Options{})
	r := aliceRecord()
	r.Devices[0].Suite = "OCRA-1:HOTP-SHA1-6:QN08-PSHA1"
	r.Devices[0].PINHash = []byte("pin-hash-0123456789")
	mustPut(t, d, r)
	raw, err := c.Get(context.Background(), "enumgate:{u:alice}:user").Bytes()
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range [][]byte{aliceKey, r.Devices[0].PINHash} {
		for _, enc := range []string{string(secret), hex.EncodeToString(secret), strings.ToUpper(hex.EncodeToString(secret)),
			base64.StdEncoding.EncodeToString(secret), base64.RawURLEncoding.EncodeToString(secret)} {
			if bytes.Contains(raw, []byte(enc)) {
				t.Fatalf("stored value contains %q: %s", enc, raw)
			}
		}
	}
	if !bytes.Contains(raw, []byte(`"key":"v1:`+d.keys.primary.kid+`:`)) {
		t.Fatalf("stored value lacks the sealed key: %s", raw)
	}
}

// A ciphertext moved to another user, device or suite does not decrypt,
// and the error is neither ErrNoUser nor shows the key.
func TestTamperedRecords(t *testing.T) {
	_, c := startRedis(t, redistest.Options{})
	d := newDir(t, c, Options{})
	ctx := context.Background()
	two := bobRecord()
	two.Devices = append(two.Devices, DeviceRecord{Name: "tablet", Key: []byte("another key")})
	mustPut(t, d, aliceRecord(), two)
	aliceRaw := rawRecord(t, c, "alice")

	for name, tc := range map[string]struct {
		tamper func(bob *storedRecord)
		want   error
	}{
		"alice's key in bob's record": {func(bob *storedRecord) { bob.Devices[0].Key = aliceRaw.Devices[0].Key }, ErrDecrypt},
		"devices swapped": {func(bob *storedRecord) {
			bob.Devices[0].Key, bob.Devices[1].Key = bob.Devices[1].Key, bob.Devices[0].Key
		}, ErrDecrypt},
		"suite weakened":      {func(bob *storedRecord) { bob.Devices[0].Suite = "OCRA-1:HOTP-SHA1-4:QN08" }, ErrDecrypt},
		"key as pin hash":     {func(bob *storedRecord) { bob.Devices[0].PINHash = bob.Devices[0].Key }, ErrDecrypt},
		"alice's whole value": {func(bob *storedRecord) { *bob = *aliceRaw }, ErrCorrupt},
		"unknown kid": {func(bob *storedRecord) {
			bob.Devices[0].Key = "v1:00000000" + bob.Devices[0].Key[11:]
		}, ErrUnknownKey},
		"garbled ciphertext": {func(bob *storedRecord) { bob.Devices[0].Key = "v1:zz" }, ErrCorrupt},
		"version 9":          {func(bob *storedRecord) { bob.V = 9 }, ErrCorrupt},
	} {
		t.Run(name, func(t *testing.T) {
			mustPut(t, d, two)
			bob := rawRecord(t, c, "bob")
			tc.tamper(bob)
			val, _ := json.Marshal(bob)
			if err := c.Set(ctx, d.key("bob"), val, 0).Err(); err != nil {
				t.Fatal(err)
			}
			d.invalidate("bob")
			for op, err := range map[string]error{"Get": getErr(d, "bob"), "Lookup": lookupErr(d, "bob")} {
				if !errors.Is(err, tc.want) || errors.Is(err, challenge.ErrNoUser) {
					t.Fatalf("%s: err = %v, want %v", op, err, tc.want)
				}
				for _, k := range [][]byte{aliceKey, bobKey} {
					if strings.Contains(err.Error(), hex.EncodeToString(k)) || strings.Contains(err.Error(), string(k)) {
						t.Fatalf("%s: error shows a key: %v", op, err)
					}
				}
			}
		})
	}
	t.Run("not JSON", func(t *testing.T) {
		c.Set(ctx, d.key("bob"), "not json", 0)
		d.invalidate("bob")
		if err := lookupErr(d, "bob"); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("invalid phone", func(t *testing.T) {
		bob := rawRecord(t, c, "alice")
		bob.ID, bob.Devices, bob.Phone = "bob", nil, "12"
		val, _ := json.Marshal(bob)
		c.Set(ctx, d.key("bob"), val, 0)
		d.invalidate("bob")
		if err := lookupErr(d, "bob"); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestRotation(t *testing.T) {
	_, c := startRedis(t, redistest.Options{})
	ctx := context.Background()
	dirA := newDir(t, c, Options{Secrets: [][]byte{secretA}})
	withPIN := bobRecord()
	withPIN.Devices[0].Suite = "OCRA-1:HOTP-SHA1-6:QN08-PSHA1"
	withPIN.Devices[0].PINHash = []byte("pin hash")
	noDevice := Record{ID: "dave", Phone: "+79000000004"}
	mustPut(t, dirA, aliceRecord(), withPIN, noDevice)
	kidA := dirA.keys.primary.kid

	dirBA := newDir(t, c, Options{Secrets: [][]byte{secretB, secretA}})
	kidB := dirBA.keys.primary.kid
	for _, id := range []string{"alice", "bob"} {
		r, err := dirBA.Get(ctx, id)
		if err != nil || r.Devices[0].KID != kidA {
			t.Fatalf("%s under [B, A]: %+v, %v", id, r, err)
		}
	}
	dirBA.Lookup(ctx, "alice") // cached under the old kid; Reencrypt invalidates it

	n, err := dirBA.Reencrypt(ctx)
	if err != nil || n != 2 {
		t.Fatalf("Reencrypt = %d, %v; want 2 (dave has no device)", n, err)
	}
	for _, id := range []string{"alice", "bob"} {
		raw := rawRecord(t, c, id)
		for _, dev := range raw.Devices {
			if sealedKID(dev.Key) != kidB || (dev.PINHash != "" && sealedKID(dev.PINHash) != kidB) {
				t.Fatalf("%s still has a ciphertext under another kid: %+v", id, dev)
			}
		}
	}
	if n, err := dirBA.Reencrypt(ctx); err != nil || n != 0 {
		t.Fatalf("second Reencrypt = %d, %v", n, err)
	}

	dirB := newDir(t, c, Options{Secrets: [][]byte{secretB}})
	for _, id := range []string{"alice", "bob", "dave"} {
		if _, err := dirB.Lookup(ctx, id); err != nil {
			t.Fatalf("%s under [B] only: %v", id, err)
		}
	}
	if r, _ := dirB.Get(ctx, "bob"); !bytes.Equal(r.Devices[0].PINHash, []byte("pin hash")) || !bytes.Equal(r.Devices[0].Key, bobKey) {
		t.Fatalf("bob after rotation: %+v", r)
	}
	if err := lookupErr(dirA, "alice"); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("old secret alone: %v", err)
	}
	if err := getErr(dirA, "alice"); !strings.Contains(err.Error(), kidB) {
		t.Fatalf("error does not name the key id: %v", err)
	}

	// A record under a secret Reencrypt does not know is reported, and the
	// others are still rewritten.
	mustPut(t, newDir(t, c, Options{Secrets: [][]byte{secretC}}), Record{ID: "carol",
		Devices: []DeviceRecord{{Key: []byte("carol's key")}}})
	mustPut(t, dirA, aliceRecord())
	n, err = dirBA.Reencrypt(ctx)
	if n != 1 || !errors.Is(err, ErrUnknownKey) || !strings.Contains(err.Error(), `"carol"`) {
		t.Fatalf("Reencrypt with carol under C = %d, %v", n, err)
	}
}

func TestCacheStats(t *testing.T) {
	_, c := startRedis(t, redistest.Options{})
	d := newDir(t, c, Options{})
	ctx := context.Background()
	mustPut(t, d, aliceRecord())
	settle(t, d)

	if _, err := d.Lookup(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	d.cache.Wait()
	if hits, misses := d.Stats(); hits != 0 || misses != 1 {
		t.Fatalf("after the first lookup: %d hits, %d misses", hits, misses)
	}
	u1, _ := d.Lookup(ctx, "alice")
	u2, _ := d.Lookup(ctx, "alice")
	if hits, misses := d.Stats(); hits != 2 || misses != 1 {
		t.Fatalf("after three lookups: %d hits, %d misses", hits, misses)
	}
	if u1 != u2 {
		t.Fatal("cache hits return different users")
	}

	// Unknown users are not cached.
	for range 2 {
		lookupErr(d, "nobody")
		d.cache.Wait()
	}
	if hits, misses := d.Stats(); hits != 2 || misses != 3 {
		t.Fatalf("after two unknown lookups: %d hits, %d misses", hits, misses)
	}

	// A local Put invalidates at once, without waiting for the message.
	a := aliceRecord()
	a.Phone = "+79000000099"
	mustPut(t, d, a)
	if got := phoneOf(d, "alice"); got != a.Phone {
		t.Fatalf("after Put: phone %q", got)
	}

	// The TTL bounds a cached entry.
	short := newDir(t, c, Options{CacheTTL: 50 * time.Millisecond})
	cached(t, short, "alice")
	time.Sleep(100 * time.Millisecond)
	if _, ok := short.cache.Get("alice"); ok {
		t.Fatal("entry outlived CacheTTL")
	}
}

// A change on one Dir reaches another Dir on the same Redis.
func TestInvalidation(t *testing.T) {
	_, c := startRedis(t, redistest.Options{})
	ctx := context.Background()
	for name, tc := range map[string]struct {
		change func(a *Dir) error
		seen   func(b *Dir) bool
	}{
		"put": {func(a *Dir) error {
			r := aliceRecord()
			r.Phone = "+79000000099"
			return a.Put(ctx, r)
		}, func(b *Dir) bool { return phoneOf(b, "alice") == "+79000000099" }},
		"delete": {func(a *Dir) error { return a.Delete(ctx, "alice") },
			func(b *Dir) bool { return errors.Is(lookupErr(b, "alice"), challenge.ErrNoUser) }},
		"reset device": {func(a *Dir) error { return a.ResetDevice(ctx, "alice") },
			func(b *Dir) bool { u, err := b.Lookup(ctx, "alice"); return err == nil && len(u.Devices) == 0 }},
		"import": {func(a *Dir) error {
			_, err := a.Import(ctx, []byte(`{"users": [{"id": "alice", "phone": "+79000000077"}]}`))
			return err
		}, func(b *Dir) bool { return phoneOf(b, "alice") == "+79000000077" }},
		"reencrypt": {func(*Dir) error {
			_, err := newDir(t, c, Options{Secrets: [][]byte{secretB, secretA}}).Reencrypt(ctx)
			return err
		}, func(b *Dir) bool { return errors.Is(lookupErr(b, "alice"), ErrUnknownKey) }},
	} {
		t.Run(name, func(t *testing.T) {
			a, b := newDir(t, c, Options{}), newDir(t, c, Options{})
			mustPut(t, a, aliceRecord())
			cached(t, b, "alice")
			hits, _ := b.Stats()
			if _, err := b.Lookup(ctx, "alice"); err != nil {
				t.Fatal(err)
			}
			if h, _ := b.Stats(); h != hits+1 {
				t.Fatal("b's lookup was not a cache hit")
			}
			start := time.Now()
			if err := tc.change(a); err != nil {
				t.Fatal(err)
			}
			if !eventually(2*time.Second, func() bool { return tc.seen(b) }) {
				t.Fatal("the change never reached the other Dir")
			}
			t.Logf("seen after %v", time.Since(start))
		})
	}
}

// hammer runs Lookup(id) on d in 4 goroutines until stop is closed,
// passing each result to check with whether the lookup began after
// settled was set. It returns the first error check or Lookup reported.
func hammer(d *Dir, id string, settled *atomic.Bool, check func(u *challenge.User, err error, settled bool) error) (stop func() error) {
	done := make(chan struct{})
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			for {
				select {
				case <-done:
					errs <- nil
					return
				default:
				}
				after := settled.Load()
				u, err := d.Lookup(context.Background(), id)
				if err := check(u, err, after); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	return func() error {
		close(done)
		var first error
		for range 4 {
			if err := <-errs; err != nil && first == nil {
				first = err
			}
		}
		return first
	}
}

// The staleness window: after a Delete on one Dir, another Dir may serve
// the user from its cache until the invalidation message reaches it —
// and never after. Lookups that read Redis while the message arrives do
// not cache what they read.
func TestNoStaleAfterDelete(t *testing.T) {
	_, c := startRedis(t, redistest.Options{})
	ctx := context.Background()
	for round := range 5 {
		a, b := newDir(t, c, Options{}), newDir(t, c, Options{})
		mustPut(t, a, aliceRecord())
		cached(t, b, "alice")

		var settled atomic.Bool
		stop := hammer(b, "alice", &settled, func(_ *challenge.User, err error, settled bool) error {
			switch {
			case errors.Is(err, challenge.ErrNoUser):
				return nil
			case err != nil:
				return err
			case settled:
				return errors.New("alice found after the deletion's message was processed")
			}
			return nil
		})
		time.Sleep(20 * time.Millisecond)
		start := time.Now()
		if err := a.Delete(ctx, "alice"); err != nil {
			t.Fatal(err)
		}
		if !eventually(2*time.Second, func() bool { return errors.Is(lookupErr(b, "alice"), challenge.ErrNoUser) }) {
			t.Fatal("the delete never reached the other Dir")
		}
		t.Logf("round %d: deletion seen after %v", round, time.Since(start))
		settle(t, b)
		settled.Store(true)
		time.Sleep(50 * time.Millisecond)
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		b.cache.Wait()
		if _, ok := b.cache.Get("alice"); ok {
			t.Fatal("a deleted user is in the cache")
		}
	}
}

// Under a stream of Puts on one Dir, the other Dir serves only the last
// version once it has processed the last invalidation message.
func TestNoStaleAfterPuts(t *testing.T) {
	_, c := startRedis(t, redistest.Options{})
	a, b := newDir(t, c, Options{}), newDir(t, c, Options{})
	mustPut(t, a, aliceRecord())
	const last = "+79000000200"

	var settled atomic.Bool
	stop := hammer(b, "alice", &settled, func(u *challenge.User, err error, settled bool) error {
		switch {
		case err != nil:
			return err
		case settled && u.Phone != last:
			return errors.New("an older version after the last message was processed: " + u.Phone)
		}
		return nil
	})
	for i := 100; i <= 200; i++ {
		r := aliceRecord()
		r.Phone = "+79000000" + strconv.Itoa(i)
		mustPut(t, a, r)
	}
	settle(t, b)
	settled.Store(true)
	time.Sleep(50 * time.Millisecond)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if got := phoneOf(b, "alice"); got != last {
		t.Fatalf("phone %q", got)
	}
}

func TestImport(t *testing.T) {
	_, c := startRedis(t, redistest.Options{})
	d := newDir(t, c, Options{})
	ctx := context.Background()

	const demo = "../../demo/users.json"
	data, err := os.ReadFile(demo)
	if err != nil {
		t.Fatal(err)
	}
	file, err := challenge.LoadFile(demo)
	if err != nil {
		t.Fatal(err)
	}
	n, err := d.Import(ctx, data)
	if err != nil || n != file.Len() {
		t.Fatalf("Import = %d, %v; want %d", n, err, file.Len())
	}
	ids, _ := d.List(ctx)
	if len(ids) != file.Len() {
		t.Fatalf("List = %v", ids)
	}
	for _, id := range ids {
		want, _ := file.Lookup(ctx, id)
		got, err := d.Lookup(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if got.Phone != want.Phone || !slices.Equal(got.Emails, want.Emails) || len(got.Devices) != len(want.Devices) {
			t.Fatalf("%s: got %+v, want %+v", id, got, want)
		}
		for i := range want.Devices { // dave has none yet
			if !bytes.Equal(got.Devices[i].Key, want.Devices[i].Key) || got.Devices[i].Suite.String() != want.Devices[i].Suite.String() {
				t.Fatalf("%s: device %d: got %+v, want %+v", id, i, got.Devices[i], want.Devices[i])
			}
		}
	}

	// Importing again keeps the Notify preference the file cannot express.
	r, _ := d.Get(ctx, "alice")
	r.Notify = true
	mustPut(t, d, r)
	if _, err := d.Import(ctx, data); err != nil {
		t.Fatal(err)
	}
	if r, _ := d.Get(ctx, "alice"); !r.Notify {
		t.Fatal("Import reset Notify")
	}

	// One invalid user: nothing is written.
	for name, bad := range map[string]string{
		"bad phone":     `{"users": [{"id": "erin"}, {"id": "frank", "phone": "123"}]}`,
		"duplicate id":  `{"users": [{"id": "erin"}, {"id": "erin"}]}`,
		"unknown field": `{"users": [{"id": "erin", "notify": true}]}`,
		"not JSON":      `{"users": [`,
		"bad key":       `{"users": [{"id": "erin", "devices": [{"key": "zz"}]}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			n, err := d.Import(ctx, []byte(bad))
			if n != 0 || !errors.Is(err, ErrInvalid) {
				t.Fatalf("Import = %d, %v", n, err)
			}
			if err := getErr(d, "erin"); !errors.Is(err, challenge.ErrNoUser) {
				t.Fatalf("erin written: %v", err)
			}
		})
	}
}

// When the subscription drops, messages sent meanwhile are lost: the Dir
// empties its cache when it resubscribes.
func TestResubscribeEmptiesCache(t *testing.T) {
	_, c := startRedis(t, redistest.Options{})
	ctx := context.Background()
	d := newDir(t, c, Options{})
	mustPut(t, d, aliceRecord())
	cached(t, d, "alice")

	// A write that announces nothing, then the subscription's connection
	// is killed: only the resubscription can empty the cache.
	r := aliceRecord()
	r.Phone = "+79000000055"
	u, err := validate(r)
	if err != nil {
		t.Fatal(err)
	}
	val, _ := json.Marshal(d.keys.sealUser(u, false))
	if err := c.Set(ctx, d.key("alice"), val, 0).Err(); err != nil {
		t.Fatal(err)
	}
	if phoneOf(d, "alice") != aliceRecord().Phone {
		t.Fatal("cache not used")
	}
	if err := c.Do(ctx, "CLIENT", "KILL", "TYPE", "pubsub").Err(); err != nil {
		t.Fatal(err)
	}
	if !eventually(3*time.Second, func() bool { return phoneOf(d, "alice") == r.Phone }) {
		t.Fatal("the cache was not emptied after the subscription came back")
	}
	if !eventually(3*time.Second, d.live.Load) {
		t.Fatal("the subscription never came back")
	}
	cached(t, d, "alice")
}

// With Redis down, Lookup fails closed (an error that is not ErrNoUser)
// instead of serving the cache it can no longer keep fresh; after a
// restart the Dir resubscribes and caches again.
func TestRedisDown(t *testing.T) {
	s, c := startRedis(t, redistest.Options{Persist: true})
	ctx := context.Background()
	d := newDir(t, c, Options{})
	mustPut(t, d, aliceRecord())
	cached(t, d, "alice")

	s.Stop()
	failed := eventually(3*time.Second, func() bool {
		err := lookupErr(d, "alice")
		return err != nil && !errors.Is(err, challenge.ErrNoUser)
	})
	if !failed {
		t.Fatal("Lookup kept answering from the cache with Redis down")
	}
	if err := d.Put(ctx, bobRecord()); err == nil {
		t.Fatal("Put succeeded with Redis down")
	}

	s.Restart()
	if !eventually(5*time.Second, func() bool { return phoneOf(d, "alice") != "" && d.live.Load() }) {
		t.Fatal("no recovery after the restart")
	}
	cached(t, d, "alice")
	mustPut(t, d, bobRecord())
}

// A subscription that goes silent (Redis answers nothing, not even a
// ping) stops the cache; it resumes once Redis answers again.
func TestSilentSubscription(t *testing.T) {
	_, c := startRedis(t, redistest.Options{})
	d := newDir(t, c, Options{health: 50 * time.Millisecond})
	mustPut(t, d, aliceRecord())
	time.Sleep(200 * time.Millisecond) // a few idle pings
	if !d.live.Load() {
		t.Fatal("an idle subscription was taken for a dead one")
	}
	cached(t, d, "alice")

	if err := c.Do(context.Background(), "CLIENT", "PAUSE", "600", "ALL").Err(); err != nil {
		t.Fatal(err)
	}
	noticed := eventually(500*time.Millisecond, func() bool {
		_, ok := d.cache.Get("alice")
		return !d.live.Load() && !ok
	})
	if !noticed {
		t.Fatal("a silent subscription was not noticed, or the cache not emptied")
	}
	if !eventually(3*time.Second, d.live.Load) {
		t.Fatal("the subscription never came back")
	}
	other := newDir(t, c, Options{})
	r := aliceRecord()
	r.Phone = "+79000000033"
	cached(t, d, "alice")
	mustPut(t, other, r)
	if !eventually(2*time.Second, func() bool { return phoneOf(d, "alice") == r.Phone }) {
		t.Fatal("invalidation lost after the resubscription")
	}
}

func TestClose(t *testing.T) {
	_, c := startRedis(t, redistest.Options{})
	d := newDir(t, c, Options{})
	mustPut(t, d, aliceRecord())
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-d.done:
	default:
		t.Fatal("subscriber still running")
	}
	if err := d.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	ctx := context.Background()
	if _, err := d.Lookup(ctx, "alice"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Lookup after Close: %v", err)
	}
	if err := d.Put(ctx, aliceRecord()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Put after Close: %v", err)
	}
	// The client is still the caller's.
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("client closed by Dir.Close: %v", err)
	}
}

// Two prefixes on one Redis are two directories.
func TestPrefix(t *testing.T) {
	_, c := startRedis(t, redistest.Options{})
	ctx := context.Background()
	one := newDir(t, c, Options{Prefix: "one*[x]:"})
	two := newDir(t, c, Options{Prefix: "two:"})
	mustPut(t, one, aliceRecord())
	mustPut(t, two, bobRecord())
	if ids, err := one.List(ctx); err != nil || !slices.Equal(ids, []string{"alice"}) {
		t.Fatalf("one: %v, %v", ids, err)
	}
	if err := lookupErr(two, "alice"); !errors.Is(err, challenge.ErrNoUser) {
		t.Fatalf("two sees alice: %v", err)
	}
	if n, _ := c.Exists(ctx, "one*[x]:{u:alice}:user").Result(); n != 1 {
		t.Fatal("key layout changed")
	}
}

func TestCluster(t *testing.T) {
	cl := redistest.StartCluster(t)
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Addrs})
	t.Cleanup(func() { c.Close() })
	ctx := context.Background()
	a := newDir(t, c, Options{})
	b := newDir(t, c, Options{})

	var ids []string
	for i := range 30 {
		r := aliceRecord()
		r.ID = "user" + strconv.Itoa(i)
		ids = append(ids, r.ID)
		mustPut(t, a, r)
	}
	slices.Sort(ids)
	for _, id := range ids {
		if u, err := b.Lookup(ctx, id); err != nil || !bytes.Equal(u.Devices[0].Key, aliceKey) {
			t.Fatalf("Lookup(%s) = %+v, %v", id, u, err)
		}
	}
	got, err := a.List(ctx)
	if err != nil || !slices.Equal(got, ids) {
		t.Fatalf("List = %v, %v", got, err)
	}
	// The users are spread over the masters.
	var masters atomic.Int32
	c.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
		if k, _ := n.Keys(ctx, "enumgate:*").Result(); len(k) > 0 {
			masters.Add(1)
		}
		return nil
	})
	if masters.Load() < 2 {
		t.Fatalf("users on %d master(s)", masters.Load())
	}

	// Invalidation crosses nodes.
	cached(t, b, "user7")
	r := aliceRecord()
	r.ID, r.Phone = "user7", "+79000000077"
	mustPut(t, a, r)
	if !eventually(2*time.Second, func() bool { return phoneOf(b, "user7") == r.Phone }) {
		t.Fatal("invalidation did not reach the other Dir")
	}

	rotated := newDir(t, c, Options{Secrets: [][]byte{secretB, secretA}})
	n, err := rotated.Reencrypt(ctx)
	if err != nil || n != len(ids) {
		t.Fatalf("Reencrypt = %d, %v", n, err)
	}
	onlyB := newDir(t, c, Options{Secrets: [][]byte{secretB}})
	for _, id := range ids {
		if _, err := onlyB.Lookup(ctx, id); err != nil {
			t.Fatalf("Lookup(%s) under [B]: %v", id, err)
		}
	}
	if !eventually(2*time.Second, func() bool { return errors.Is(lookupErr(b, "user7"), ErrUnknownKey) }) {
		t.Fatal("Reencrypt's invalidation did not reach the other Dir")
	}
	if err := a.Delete(ctx, "user3"); err != nil {
		t.Fatal(err)
	}
	if err := a.ResetDevice(ctx, "user4"); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkLookupCached(b *testing.B) {
	_, c := startRedis(b, redistest.Options{})
	d := newDir(b, c, Options{})
	mustPut(b, d, aliceRecord())
	cached(b, d, "alice")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Lookup(ctx, "alice"); err != nil {
			b.Fatal(err)
		}
	}
}

func lookupErr(d *Dir, id string) error {
	_, err := d.Lookup(context.Background(), id)
	return err
}

func getErr(d *Dir, id string) error {
	_, err := d.Get(context.Background(), id)
	return err
}

func rawRecord(t *testing.T, c redis.UniversalClient, id string) *storedRecord {
	t.Helper()
	raw, err := c.Get(context.Background(), "enumgate:{u:"+id+"}:user").Bytes()
	if err != nil {
		t.Fatal(err)
	}
	st, err := decodeStored(raw)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func recordsEqual(a, b Record) bool {
	return a.ID == b.ID && a.Phone == b.Phone && slices.Equal(a.Emails, b.Emails) && a.Notify == b.Notify &&
		slices.EqualFunc(a.Devices, b.Devices, func(x, y DeviceRecord) bool {
			return x.Name == y.Name && x.Suite == y.Suite && x.KID == y.KID &&
				bytes.Equal(x.Key, y.Key) && bytes.Equal(x.PINHash, y.PINHash)
		})
}
