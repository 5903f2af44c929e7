// Package confirm reads and checks the Enumgate-Confirmed header that the
// enumgate gateway adds to a request it forwards after the customer
// confirmed it. It imports only the standard library, so an upstream app
// can use it without the rest of enumgate.
//
// The header binds the confirmation to one request: its method, host,
// path, query and the SHA-256 of its body, besides the challenge, the
// operation, the confirmation method, the user and the time. A Verifier
// checks all of them against the request the upstream received and
// refuses a challenge id it has seen before:
//
//	v := &confirm.Verifier{Key: key, User: loggedInUser} // key: `enumgate confirm-key`
//	...
//	c, err := v.Verify(r)
//	if err != nil {
//		http.Error(w, "not confirmed", http.StatusForbidden)
//		return
//	}
//	// c.Method says how; r.Body still holds the confirmed bytes.
//
// See docs/confirmed-header.md in the enumgate repository for a Python
// version and what upstreams must keep in mind.
//
// # Wire format (version 2)
//
// The value is a list of key=value pairs separated by "; ", in this order,
// each key exactly once, values escaped with url.QueryEscape, ending with
// the signature:
//
//	v=2; id=ID; op=OP; m=M; u=USER; t=UNIX; rm=METHOD; h=HOST; p=PATH; q=QUERY; bh=BODYHASH; sig=SIG
//
//	v    the format version, "2"
//	id   the challenge id (unique per confirmation)
//	op   the operation name from the gateway's protect rule, e.g. "transfer"
//	m    the confirmation method: "enum", "sms" or "email"
//	u    the user who confirmed
//	t    when the confirmation happened, Unix seconds, decimal
//	rm   the request method, e.g. "POST"
//	h    the request's Host, as the gateway received it (may be empty)
//	p    the request path, still percent-encoded as received, e.g. "/transfer"
//	q    the raw query, without "?" (may be empty)
//	bh   base64url (unpadded) SHA-256 of the exact request body forwarded
//	sig  base64url (unpadded) HMAC-SHA256, under the confirm key, of every
//	     byte of the value before "; sig="
//
// The confirm key is HMAC-SHA256(gateway secret, "enumgate/v1/confirmed-header");
// `enumgate confirm-key` prints it in hex. Give upstreams that key, never
// the secret.
package confirm

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Header is the name of the request header the gateway signs.
const Header = "Enumgate-Confirmed"

// Version is the format version Sign writes and Parse accepts.
const Version = "2"

// MaxLen bounds the header value Parse looks at, in bytes. A longer value
// is ErrMalformed. Path and query are escaped, so a request target of
// more than about a third of this does not fit.
const MaxLen = 32 << 10

// Errors. Verify and Parse wrap them with details; test with errors.Is.
var (
	// ErrMissing reports a request without an Enumgate-Confirmed header.
	ErrMissing = errors.New("no Enumgate-Confirmed header")
	// ErrMalformed reports a value that does not parse (or several headers).
	ErrMalformed = errors.New("malformed Enumgate-Confirmed header")
	// ErrSignature reports a value whose signature does not verify.
	ErrSignature = errors.New("Enumgate-Confirmed signature does not verify")
	// ErrStale reports a header further from now than the allowed age.
	ErrStale = errors.New("Enumgate-Confirmed header is too old or from the future")
	// ErrMismatch reports a header signed for another request; the error
	// is a *MismatchError naming the part that differs.
	ErrMismatch = errors.New("Enumgate-Confirmed header is for another request")
	// ErrTooLarge reports a body longer than the verifier reads.
	ErrTooLarge = errors.New("request body too large to verify")
	// ErrReplayed reports a challenge id already accepted.
	ErrReplayed = errors.New("Enumgate-Confirmed header already used")
	// ErrMemoryFull reports that the replay memory holds as many live ids
	// as it may, so a new one cannot be remembered and is refused.
	ErrMemoryFull = errors.New("replay memory full")
)

// MismatchError reports which part of the request differs from what the
// header binds: "method", "host", "path", "query", "user" (see
// Verifier.User) or "body".
type MismatchError struct {
	// Part is the part of the request that differs.
	Part string
}

func (e *MismatchError) Error() string { return ErrMismatch.Error() + ": " + e.Part + " differs" }

// Is makes errors.Is(err, ErrMismatch) hold.
func (e *MismatchError) Is(target error) bool { return target == ErrMismatch }

// Claims is the content of an Enumgate-Confirmed header.
type Claims struct {
	// ChallengeID identifies the confirmation; it is unique.
	ChallengeID string
	// Operation is the name of the protect rule, e.g. "transfer".
	Operation string
	// Method is the confirmation method: "enum", "sms" or "email".
	Method string
	// User is the user who confirmed.
	User string
	// Time is when the confirmation happened (whole seconds).
	Time time.Time

	// RequestMethod is the HTTP method of the confirmed request.
	RequestMethod string
	// Host is the Host of the confirmed request, as the gateway received it.
	Host string
	// Path is the path of the confirmed request, percent-encoded as the
	// gateway received it (the request target before "?").
	Path string
	// RawQuery is the query of the confirmed request, without "?".
	RawQuery string
	// BodySHA256 is the SHA-256 of the confirmed request's body.
	BodySHA256 [32]byte
}

// keys are the wire keys, in order, before "sig".
var keys = [...]string{"v", "id", "op", "m", "u", "t", "rm", "h", "p", "q", "bh"}

// fields returns c's wire values, unescaped, in the order of keys.
func (c *Claims) fields() [len(keys)]string {
	return [...]string{
		Version, c.ChallengeID, c.Operation, c.Method, c.User,
		strconv.FormatInt(c.Time.Unix(), 10),
		c.RequestMethod, c.Host, c.Path, c.RawQuery,
		base64.RawURLEncoding.EncodeToString(c.BodySHA256[:]),
	}
}

// Sign returns the header value for c, signed with key.
func (c Claims) Sign(key []byte) string {
	var b strings.Builder
	for i, v := range c.fields() {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(keys[i])
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(v))
	}
	signed := b.String()
	b.WriteString("; sig=")
	b.WriteString(base64.RawURLEncoding.EncodeToString(mac(key, signed)))
	return b.String()
}

func mac(key []byte, s string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(s))
	return m.Sum(nil)
}

var strict = base64.RawURLEncoding.Strict()

// Parse checks value's signature with key, in constant time, and only
// then reads its fields. It is strict: every key exactly once, in order,
// no other key, values in the exact encoding Sign writes, at most MaxLen
// bytes. Errors wrap ErrMalformed or ErrSignature. Parse checks neither
// freshness nor the request; Verifier.Verify does.
func Parse(key []byte, value string) (Claims, error) {
	if len(key) == 0 {
		return Claims{}, fmt.Errorf("%w: no key", ErrSignature)
	}
	if len(value) > MaxLen {
		return Claims{}, fmt.Errorf("%w: longer than %d bytes", ErrMalformed, MaxLen)
	}
	signed, sigText, ok := strings.Cut(value, "; sig=")
	if !ok {
		return Claims{}, fmt.Errorf("%w: no signature", ErrMalformed)
	}
	sig, err := strict.DecodeString(sigText)
	if err != nil || len(sig) != sha256.Size {
		return Claims{}, fmt.Errorf("%w: signature is not a base64url SHA-256 HMAC", ErrMalformed)
	}
	if !hmac.Equal(sig, mac(key, signed)) {
		return Claims{}, ErrSignature
	}

	var vals [len(keys)]string
	rest := signed
	for i, k := range keys {
		var kv string
		if i < len(keys)-1 {
			kv, rest, ok = strings.Cut(rest, "; ")
			if !ok {
				return Claims{}, fmt.Errorf("%w: missing %q", ErrMalformed, keys[i+1])
			}
		} else if kv = rest; strings.Contains(kv, "; ") {
			return Claims{}, fmt.Errorf("%w: unknown key after %q", ErrMalformed, k)
		}
		name, raw, ok := strings.Cut(kv, "=")
		if !ok || name != k {
			return Claims{}, fmt.Errorf("%w: expected %q at position %d", ErrMalformed, k, i+1)
		}
		v, err := url.QueryUnescape(raw)
		if err != nil || url.QueryEscape(v) != raw {
			return Claims{}, fmt.Errorf("%w: %s is not query-escaped", ErrMalformed, k)
		}
		if i == 0 && v != Version {
			return Claims{}, fmt.Errorf("%w: unsupported version %q", ErrMalformed, v)
		}
		vals[i] = v
	}
	c := Claims{
		ChallengeID: vals[1], Operation: vals[2], Method: vals[3], User: vals[4],
		RequestMethod: vals[6], Host: vals[7], Path: vals[8], RawQuery: vals[9],
	}
	for _, f := range []struct{ name, v string }{
		{"id", c.ChallengeID}, {"op", c.Operation}, {"m", c.Method}, {"u", c.User},
		{"rm", c.RequestMethod}, {"p", c.Path},
	} {
		if f.v == "" {
			return Claims{}, fmt.Errorf("%w: %s is empty", ErrMalformed, f.name)
		}
	}
	t, err := strconv.ParseInt(vals[5], 10, 64)
	if err != nil || t < 0 || strconv.FormatInt(t, 10) != vals[5] {
		return Claims{}, fmt.Errorf("%w: t is not Unix seconds", ErrMalformed)
	}
	c.Time = time.Unix(t, 0).UTC()
	bh, err := strict.DecodeString(vals[10])
	if err != nil || len(bh) != sha256.Size {
		return Claims{}, fmt.Errorf("%w: bh is not a base64url SHA-256", ErrMalformed)
	}
	copy(c.BodySHA256[:], bh)
	return c, nil
}
