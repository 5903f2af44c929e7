package challenge

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

// ConfirmedHeader is the request header the gateway adds to a replayed
// request after its confirmation. Inbound copies are always stripped.
const ConfirmedHeader = "Enumgate-Confirmed"

// Confirmed is the content of an Enumgate-Confirmed header.
//
// On the wire it is a list of key=value pairs separated by "; ", values
// query-escaped, ending with the signature:
//
//	v=1; id=CHALLENGE; op=transfer; m=enum; u=alice; t=1764244800; d=DIGEST; sig=SIGNATURE
//
// d is the base64url (unpadded) SHA-256 of the stashed request's
// canonical encoding; t is the confirmation time in Unix seconds; sig is
// the base64url (unpadded) HMAC-SHA256, under the key ConfirmKey derives
// from the gateway's secret, of every byte before "; sig=".
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
	// Digest is the SHA-256 of the stashed request's encoding.
	Digest []byte
}

// Errors from VerifyConfirmed.
var (
	// ErrConfirmedMalformed reports a header that does not parse.
	ErrConfirmedMalformed = errors.New("malformed Enumgate-Confirmed header")
	// ErrConfirmedSignature reports a header whose signature is wrong.
	ErrConfirmedSignature = errors.New("Enumgate-Confirmed signature does not verify")
	// ErrConfirmedStale reports a header older than the allowed age.
	ErrConfirmedStale = errors.New("Enumgate-Confirmed header is too old")
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

// Sign returns the header value for c, signed with key (see ConfirmKey).
func (c Confirmed) Sign(key []byte) string {
	var b strings.Builder
	b.WriteString("v=1; id=")
	b.WriteString(url.QueryEscape(c.ChallengeID))
	b.WriteString("; op=")
	b.WriteString(url.QueryEscape(c.Operation))
	b.WriteString("; m=")
	b.WriteString(url.QueryEscape(string(c.Method)))
	b.WriteString("; u=")
	b.WriteString(url.QueryEscape(c.User))
	b.WriteString("; t=")
	b.WriteString(strconv.FormatInt(c.Time.Unix(), 10))
	b.WriteString("; d=")
	b.WriteString(base64.RawURLEncoding.EncodeToString(c.Digest))
	signed := b.String()
	b.WriteString("; sig=")
	b.WriteString(base64.RawURLEncoding.EncodeToString(sign(key, signed)))
	return b.String()
}

func sign(key []byte, s string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(s))
	return m.Sum(nil)
}

// maxConfirmedLen bounds the header value VerifyConfirmed will look at.
const maxConfirmedLen = 2048

// VerifyConfirmed checks an Enumgate-Confirmed header value with key (see
// ConfirmKey) and returns its content. A header older than maxAge at now
// is refused (maxAge <= 0 disables the check). Upstreams should also
// remember challenge ids they have seen within maxAge to refuse replays.
func VerifyConfirmed(key []byte, value string, now time.Time, maxAge time.Duration) (Confirmed, error) {
	if len(value) > maxConfirmedLen {
		return Confirmed{}, ErrConfirmedMalformed
	}
	signed, sigText, ok := strings.Cut(value, "; sig=")
	if !ok {
		return Confirmed{}, ErrConfirmedMalformed
	}
	sig, err := base64.RawURLEncoding.DecodeString(sigText)
	if err != nil {
		return Confirmed{}, ErrConfirmedMalformed
	}
	if !hmac.Equal(sig, sign(key, signed)) {
		return Confirmed{}, ErrConfirmedSignature
	}
	fields := map[string]string{}
	for _, kv := range strings.Split(signed, "; ") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return Confirmed{}, ErrConfirmedMalformed
		}
		if v, err = url.QueryUnescape(v); err != nil {
			return Confirmed{}, ErrConfirmedMalformed
		}
		fields[k] = v
	}
	if fields["v"] != "1" {
		return Confirmed{}, fmt.Errorf("%w: unsupported version %q", ErrConfirmedMalformed, fields["v"])
	}
	t, err := strconv.ParseInt(fields["t"], 10, 64)
	if err != nil {
		return Confirmed{}, ErrConfirmedMalformed
	}
	d, err := base64.RawURLEncoding.DecodeString(fields["d"])
	if err != nil {
		return Confirmed{}, ErrConfirmedMalformed
	}
	c := Confirmed{
		ChallengeID: fields["id"], Operation: fields["op"], Method: Method(fields["m"]),
		User: fields["u"], Time: time.Unix(t, 0), Digest: d,
	}
	if maxAge > 0 && (now.Sub(c.Time) > maxAge || c.Time.Sub(now) > maxAge) {
		return Confirmed{}, ErrConfirmedStale
	}
	return c, nil
}
