package challenge

import (
	"crypto/hmac"
	"crypto/sha256"
	"net/url"
	"strings"
	"time"

	"github.com/enumgate/enumgate/confirm"
)

// ConfirmedHeader is the request header the gateway adds to a replayed
// request after its confirmation. Inbound copies are always stripped.
const ConfirmedHeader = confirm.Header

// Confirmed is the content of an Enumgate-Confirmed header (version 2):
// who confirmed what, how, and the request it is bound to. The wire
// format is package confirm's (see confirm.Claims and
// docs/confirmed-header.md):
//
//	v=2; id=ID; op=OP; m=M; u=USER; t=UNIX; rm=METHOD; h=HOST; p=PATH; q=QUERY; bh=BODYHASH; sig=SIG
//
// signed with HMAC-SHA256 under the key ConfirmKey derives from the
// gateway's secret.
type Confirmed struct {
	// ChallengeID is the confirmed challenge.
	ChallengeID string
	// Operation is the confirmed operation's name.
	Operation string
	// Method is the confirmation method used.
	Method Method
	// User is the user who confirmed.
	User string
	// Time is when the confirmation happened.
	Time time.Time

	// RequestMethod is the HTTP method of the confirmed request.
	RequestMethod string
	// Host is the confirmed request's Host, as received.
	Host string
	// Path is the confirmed request's path, percent-encoded as received.
	Path string
	// RawQuery is the confirmed request's query, without "?".
	RawQuery string
	// BodySHA256 is the SHA-256 of the confirmed request's body.
	BodySHA256 [32]byte
}

// Errors from VerifyConfirmed: the same values as package confirm's, so
// errors.Is works with either name.
var (
	// ErrConfirmedMalformed reports a header that does not parse.
	ErrConfirmedMalformed = confirm.ErrMalformed
	// ErrConfirmedSignature reports a header whose signature is wrong.
	ErrConfirmedSignature = confirm.ErrSignature
	// ErrConfirmedStale reports a header older than the allowed age.
	ErrConfirmedStale = confirm.ErrStale
)

const confirmedKeyLabel = "enumgate/v1/confirmed-header"

// ConfirmKey derives, from the gateway's secret, the key that signs
// Enumgate-Confirmed headers. Give upstreams this key, never the secret.
func ConfirmKey(secret []byte) []byte { return deriveKey(secret, confirmedKeyLabel) }

func deriveKey(secret []byte, label string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(label))
	return m.Sum(nil)
}

func (c Confirmed) claims() confirm.Claims {
	return confirm.Claims{
		ChallengeID: c.ChallengeID, Operation: c.Operation, Method: string(c.Method), User: c.User, Time: c.Time,
		RequestMethod: c.RequestMethod, Host: c.Host, Path: c.Path, RawQuery: c.RawQuery, BodySHA256: c.BodySHA256,
	}
}

// Sign returns the header value for c, signed with key (see ConfirmKey).
func (c Confirmed) Sign(key []byte) string { return c.claims().Sign(key) }

// VerifyConfirmed checks an Enumgate-Confirmed header value alone: its
// signature with key (see ConfirmKey), its format, and that it is no
// further than maxAge from now (maxAge <= 0 disables that check). It does
// not check that the header belongs to the request it came with, nor
// that it was not used before: an upstream should use confirm.Verifier,
// which checks the method, host, path, query and body and refuses
// replays.
func VerifyConfirmed(key []byte, value string, now time.Time, maxAge time.Duration) (Confirmed, error) {
	c, err := confirm.Parse(key, value)
	if err != nil {
		return Confirmed{}, err
	}
	if maxAge > 0 && (now.Sub(c.Time) > maxAge || c.Time.Sub(now) > maxAge) {
		return Confirmed{}, ErrConfirmedStale
	}
	return Confirmed{
		ChallengeID: c.ChallengeID, Operation: c.Operation, Method: Method(c.Method), User: c.User, Time: c.Time,
		RequestMethod: c.RequestMethod, Host: c.Host, Path: c.Path, RawQuery: c.RawQuery, BodySHA256: c.BodySHA256,
	}, nil
}

// SignForwarded returns the Enumgate-Confirmed header for a request the
// gateway forwards without a challenge by a decision of its own (method
// names it, e.g. "trusted" or "policy"): bound to the request st exactly
// as a confirmation is, with id (a fresh random id, also its
// Idempotency-Key) in place of a challenge id.
func (e *Engine) SignForwarded(id, operation string, method Method, user string, at time.Time, st *Stash) string {
	return confirmedFor(id, operation, method, user, at, st).Sign(e.confirmKey)
}

// NewForwardID returns a fresh id for SignForwarded, of the form of a
// challenge id.
func (e *Engine) NewForwardID() (string, error) { return e.newID() }

// confirmedFor returns the header content for the confirmation of
// challenge id: bound to the stashed request, which is what the gateway
// forwards.
func confirmedFor(id, operation string, m Method, user string, at time.Time, st *Stash) Confirmed {
	path, query := splitTarget(st.URI)
	return Confirmed{
		ChallengeID: id, Operation: operation, Method: m, User: user, Time: at,
		RequestMethod: st.Method, Host: st.Host, Path: path, RawQuery: query,
		BodySHA256: sha256.Sum256(st.Body),
	}
}

// splitTarget splits a request target as received into its path, still
// percent-encoded, and its raw query. An origin-form target ("/p?q", the
// usual kind) is split at its first "?", as net/http does; an
// absolute-form one ("http://host/p?q") gives its URL's escaped path
// ("/" if empty: what a client sends for it) and query.
func splitTarget(uri string) (path, query string) {
	if !strings.HasPrefix(uri, "/") {
		if u, err := url.ParseRequestURI(uri); err == nil && u.Scheme != "" {
			path = u.EscapedPath()
			if path == "" {
				path = "/"
			}
			return path, u.RawQuery
		}
	}
	path, query, _ = strings.Cut(uri, "?")
	return path, query
}
