package confirm

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// Defaults of a Verifier.
const (
	// DefaultMaxAge is how far from now a header's time may be.
	DefaultMaxAge = 2 * time.Minute
	// DefaultMaxBody is how many body bytes a Verifier reads.
	DefaultMaxBody = 10 << 20
	// DefaultMaxIDs is how many challenge ids an InMemory holds.
	DefaultMaxIDs = 100_000
)

// A Verifier checks the Enumgate-Confirmed header of requests against the
// requests themselves and refuses replays. Set its fields before its
// first use and do not copy it after; it is safe for concurrent use.
type Verifier struct {
	// Key is the confirm key (`enumgate confirm-key`). Required: with
	// none, every header is refused (ErrSignature).
	Key []byte
	// MaxAge is how far from now a header's time may be, in the past or
	// in the future. Zero or less: DefaultMaxAge. Ids are remembered for
	// as long as their header is fresh.
	MaxAge time.Duration
	// IgnoreHost skips the Host check: set it only if something between
	// the gateway and this app rewrites Host on purpose.
	IgnoreHost bool
	// MaxBody is how many body bytes Verify reads to check the digest;
	// a longer body is ErrTooLarge. Zero or less: DefaultMaxBody.
	MaxBody int64
	// User, if set, names the user r acts for (e.g. the logged-in user);
	// the header's User must be the same, else a mismatch of the "user".
	// Nil: Verify does not check the user; then the caller must.
	User func(r *http.Request) string
	// Memory remembers accepted challenge ids. Nil: an InMemory of
	// DefaultMaxIDs ids, private to this Verifier. Share one Memory
	// between Verifiers that guard the same app, and use a shared store
	// (a ReplayMemory of your own) when the app runs as several processes.
	Memory ReplayMemory
	// Now is the clock. Nil: time.Now.
	Now func() time.Time

	once sync.Once
	own  *InMemory
}

// Verify checks r's Enumgate-Confirmed header and returns its claims.
// It checks, in this order, and stops at the first failure:
//
//  1. exactly one header value (none: ErrMissing; several: ErrMalformed);
//  2. Parse: the signature, then the strict format;
//  3. |now - Time| <= MaxAge, else ErrStale;
//  4. RequestMethod == r.Method;
//  5. Host equals r.Host, ignoring ASCII case (unless IgnoreHost);
//  6. the path: r.URL.EscapedPath() equals the escaped form Go gives the
//     signed Path (the path parsed and escaped again the way net/http
//     does, which is the signed path itself whenever it is already in
//     that form), so an upstream that receives the bytes the gateway
//     forwarded matches, and /a%2Fb never matches /a/b;
//  7. RawQuery == r.URL.RawQuery, byte for byte;
//  8. User == v.User(r), if v.User is set;
//  9. the body: Verify reads r.Body (at most MaxBody bytes, else
//     ErrTooLarge), compares its SHA-256 with BodySHA256 in constant
//     time, and puts the bytes back in r.Body (setting ContentLength and
//     GetBody) so the handler reads the same bytes;
//  10. finally Memory.Remember(ChallengeID): ErrReplayed if it was seen.
//
// Steps 4 to 9 fail with a *MismatchError (errors.Is(err, ErrMismatch))
// naming the part. The id is remembered only when every other check
// passed. Whatever the outcome, r.Body still yields the whole body.
// Verify does not check Operation, nor User unless v.User is set: compare
// them with what the app knows (the route, the logged-in user).
func (v *Verifier) Verify(r *http.Request) (Claims, error) {
	vs := r.Header.Values(Header)
	switch len(vs) {
	case 0:
		return Claims{}, ErrMissing
	case 1:
	default:
		return Claims{}, fmt.Errorf("%w: %d %s headers", ErrMalformed, len(vs), Header)
	}
	c, err := Parse(v.Key, vs[0])
	if err != nil {
		return Claims{}, err
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	at := now()
	maxAge := v.MaxAge
	if maxAge <= 0 {
		maxAge = DefaultMaxAge
	}
	if at.Sub(c.Time) > maxAge || c.Time.Sub(at) > maxAge {
		return Claims{}, fmt.Errorf("%w: signed at %s", ErrStale, c.Time.Format(time.RFC3339))
	}
	switch {
	case c.RequestMethod != r.Method:
		return Claims{}, &MismatchError{Part: "method"}
	case !v.IgnoreHost && !equalASCIIFold(c.Host, r.Host):
		return Claims{}, &MismatchError{Part: "host"}
	case !samePath(r.URL, c.Path):
		return Claims{}, &MismatchError{Part: "path"}
	case r.URL.RawQuery != c.RawQuery:
		return Claims{}, &MismatchError{Part: "query"}
	case v.User != nil && v.User(r) != c.User:
		return Claims{}, &MismatchError{Part: "user"}
	}
	if err := v.checkBody(r, c.BodySHA256); err != nil {
		return Claims{}, err
	}
	until := at
	if c.Time.After(at) {
		until = c.Time
	}
	if err := v.memory().Remember(c.ChallengeID, until.Add(maxAge), at); err != nil {
		return Claims{}, err
	}
	return c, nil
}

func (v *Verifier) memory() ReplayMemory {
	if v.Memory != nil {
		return v.Memory
	}
	v.once.Do(func() { v.own = NewInMemory(DefaultMaxIDs) })
	return v.own
}

// samePath reports whether u's path is signed, the path as the gateway
// received it (see Verify, step 6).
func samePath(u *url.URL, signed string) bool {
	if u == nil {
		return false
	}
	dec, err := url.PathUnescape(signed)
	if err != nil {
		return false // net/http refuses such a target; nothing can match it
	}
	want := url.URL{Path: dec, RawPath: signed}
	return u.EscapedPath() == want.EscapedPath()
}

// equalASCIIFold reports whether a and b are equal ignoring the case of
// ASCII letters only (hosts are ASCII; unlike strings.EqualFold, "K" does
// not match the Kelvin sign).
func equalASCIIFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range len(a) {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

type readCloser struct {
	io.Reader
	io.Closer
}

// checkBody reads r.Body, puts it back, and compares its digest to want.
func (v *Verifier) checkBody(r *http.Request, want [32]byte) error {
	maxBody := v.MaxBody
	if maxBody <= 0 {
		maxBody = DefaultMaxBody
	}
	var body []byte
	if r.Body != nil && r.Body != http.NoBody {
		orig := r.Body
		b, err := io.ReadAll(io.LimitReader(orig, maxBody+1))
		if err != nil || int64(len(b)) > maxBody {
			// Give the handler back everything, read or not.
			r.Body = readCloser{io.MultiReader(bytes.NewReader(b), orig), orig}
			if err != nil {
				return fmt.Errorf("confirm: reading the request body: %w", err)
			}
			return fmt.Errorf("%w: more than %d bytes", ErrTooLarge, maxBody)
		}
		body = b
		r.Body = readCloser{bytes.NewReader(b), orig}
		r.ContentLength = int64(len(b))
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	}
	got := sha256.Sum256(body)
	if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
		return &MismatchError{Part: "body"}
	}
	return nil
}
