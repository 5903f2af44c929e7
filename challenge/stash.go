package challenge

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"net/http"
	"slices"
)

// Stash is the original request held while the user confirms it. What is
// forwarded after confirmation is exactly the stash that was issued: its
// SHA-256 digest is bound into the challenge and checked again before
// replay.
type Stash struct {
	// Method is the HTTP method.
	Method string
	// Host is the request's Host.
	Host string
	// URI is the request target (path and query) as received.
	URI string
	// Proto is the protocol version, e.g. "HTTP/1.1".
	Proto string
	// RemoteAddr is the client's address as seen by the gateway.
	RemoteAddr string
	// Header holds the request headers.
	Header http.Header
	// Body is the complete request body.
	Body []byte
}

// stashMagic starts every encoded stash; the last byte is the version.
var stashMagic = []byte("EGS\x01")

// errBadStash reports an encoded stash that cannot be decoded.
var errBadStash = errors.New("malformed stash encoding")

// Encode returns the stash's canonical binary encoding: header names in
// sorted order, every field length-prefixed. Equal stashes encode to equal
// bytes, so the encoding's digest identifies the request.
func (s *Stash) Encode() []byte {
	size := len(stashMagic) + len(s.Method) + len(s.Host) + len(s.URI) + len(s.Proto) + len(s.RemoteAddr) + len(s.Body) + 8*binary.MaxVarintLen64
	keys := make([]string, 0, len(s.Header))
	for k, vs := range s.Header {
		keys = append(keys, k)
		size += len(k) + 2*binary.MaxVarintLen64
		for _, v := range vs {
			size += len(v) + binary.MaxVarintLen64
		}
	}
	slices.Sort(keys)
	b := make([]byte, 0, size)
	b = append(b, stashMagic...)
	for _, f := range []string{s.Method, s.Host, s.URI, s.Proto, s.RemoteAddr} {
		b = appendString(b, f)
	}
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		b = appendString(b, k)
		vs := s.Header[k]
		b = binary.AppendUvarint(b, uint64(len(vs)))
		for _, v := range vs {
			b = appendString(b, v)
		}
	}
	b = binary.AppendUvarint(b, uint64(len(s.Body)))
	return append(b, s.Body...)
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// DecodeStash parses an encoding made by Encode. It never panics on
// malformed input and rejects trailing bytes.
func DecodeStash(b []byte) (*Stash, error) {
	if len(b) < len(stashMagic) || string(b[:len(stashMagic)]) != string(stashMagic) {
		return nil, errBadStash
	}
	d := decoder{b: b[len(stashMagic):]}
	s := &Stash{}
	for _, f := range []*string{&s.Method, &s.Host, &s.URI, &s.Proto, &s.RemoteAddr} {
		*f = string(d.bytes())
	}
	n := d.count()
	if n > 0 {
		s.Header = make(http.Header, n)
	}
	for range n {
		k := string(d.bytes())
		m := d.count()
		vs := make([]string, 0, m)
		for range m {
			vs = append(vs, string(d.bytes()))
		}
		s.Header[k] = vs
	}
	s.Body = d.bytes()
	if d.err || len(d.b) != 0 {
		return nil, errBadStash
	}
	return s, nil
}

type decoder struct {
	b   []byte
	err bool
}

func (d *decoder) uvarint() uint64 {
	if d.err {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = true
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads an element count, bounded by the bytes left so a forged
// count cannot make us allocate more than the input's size.
func (d *decoder) count() int {
	v := d.uvarint()
	if v > uint64(len(d.b)) {
		d.err = true
		return 0
	}
	return int(v)
}

func (d *decoder) bytes() []byte {
	n := d.count()
	if d.err {
		return nil
	}
	out := append([]byte(nil), d.b[:n]...)
	d.b = d.b[n:]
	return out
}

// digest returns the SHA-256 of an encoded stash.
func digest(enc []byte) []byte {
	h := sha256.Sum256(enc)
	return h[:]
}
