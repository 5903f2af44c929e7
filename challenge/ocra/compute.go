package ocra

import (
	"crypto/fips140"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"time"
)

// stackDataInput is the largest DataInput computed without allocating;
// larger DataInputs (long session information) are allocated.
const stackDataInput = 320

// Compute returns the OCRA response for key and in: the HMAC of the
// DataInput (see [Suite.DataInput]) truncated as in HOTP (RFC 4226 §5.3) to
// Digits() decimal digits, zero-padded; or, when Digits() is 0, the whole
// HMAC in lower-case hexadecimal. The key may have any non-zero length.
func (s *Suite) Compute(key []byte, in Input) (string, error) {
	var buf [128]byte
	r, err := s.appendResponse(buf[:0], key, &in)
	if err != nil {
		return "", err
	}
	return string(r), nil
}

// Verify reports whether response is the OCRA response for key and in. The
// comparison is in constant time (for a response of the right length);
// for suites without truncation, hexadecimal case is ignored. The error is
// non-nil only for invalid inputs (as for Compute), never for a wrong
// response.
func (s *Suite) Verify(key []byte, in Input, response string) (bool, error) {
	var buf [128]byte
	want, err := s.appendResponse(buf[:0], key, &in)
	if err != nil {
		return false, err
	}
	if len(response) != len(want) {
		return false, nil
	}
	var got [128]byte
	for i := 0; i < len(response); i++ {
		c := response[i]
		if s.digits == 0 && 'A' <= c && c <= 'F' {
			c += 'a' - 'A'
		}
		got[i] = c
	}
	return subtle.ConstantTimeCompare(want, got[:len(response)]) == 1, nil
}

func (s *Suite) appendResponse(dst, key []byte, in *Input) ([]byte, error) {
	if len(key) == 0 {
		return nil, inputErr("key", ErrMissing, "the key must not be empty")
	}
	if err := s.check(in); err != nil {
		return nil, err
	}
	var sum [sha512.Size]byte
	var mac []byte
	if fips140.Enabled() {
		// Keep the HMAC inside the FIPS 140-3 module.
		mac = stdHMAC(s.hash, nil, key, s.appendDataInput(nil, in))
	} else {
		mac = s.fastMAC(sum[:0], key, in)
	}
	if s.digits == 0 {
		return hex.AppendEncode(dst, mac), nil
	}
	// Dynamic truncation, RFC 4226 §5.3.
	off := mac[len(mac)-1] & 0x0f
	v := uint64(binary.BigEndian.Uint32(mac[off:off+4])&0x7fffffff) % pow10[s.digits]
	var digits [10]byte
	for i := s.digits - 1; i >= 0; i-- {
		digits[i] = byte('0' + v%10)
		v /= 10
	}
	return append(dst, digits[:s.digits]...), nil
}

// fastMAC appends the HMAC of the DataInput of in to dst without allocating
// (for DataInputs up to stackDataInput bytes).
func (s *Suite) fastMAC(dst, key []byte, in *Input) []byte {
	var buf [maxBlock + stackDataInput]byte
	bs := s.hash.blockSize()
	msg := s.appendDataInput(buf[:bs], in) // buf[:bs] is room for the padded key
	return fastHMAC(s.hash, dst, key, msg)
}

// blockSize is the block size in bytes of the hash function.
func (h hashAlg) blockSize() int {
	if h == hashSHA512 {
		return sha512.BlockSize
	}
	return sha256.BlockSize // = sha1.BlockSize
}

// sum appends the hash of data to dst.
func (h hashAlg) sum(dst, data []byte) []byte {
	switch h {
	case hashSHA1:
		d := sha1.Sum(data)
		return append(dst, d[:]...)
	case hashSHA256:
		d := sha256.Sum256(data)
		return append(dst, d[:]...)
	}
	d := sha512.Sum512(data)
	return append(dst, d[:]...)
}

func (h hashAlg) new() func() hash.Hash {
	switch h {
	case hashSHA1:
		return sha1.New
	case hashSHA256:
		return sha256.New
	}
	return sha512.New
}

// stdHMAC appends HMAC-h(key, msg) to dst using crypto/hmac.
func stdHMAC(h hashAlg, dst, key, msg []byte) []byte {
	m := hmac.New(h.new(), key)
	m.Write(msg)
	return m.Sum(dst)
}

// maxBlock is the largest block size, SHA-512's.
const maxBlock = sha512.BlockSize

// fastHMAC appends HMAC-h(key, msg) (RFC 2104) to dst. It computes exactly
// what crypto/hmac computes (checked by the tests) but on stack buffers and
// the concrete sha*.Sum* functions, so that a response costs no allocation.
//
// buf must hold h.blockSize() free bytes followed by msg: buf[:blockSize] is
// overwritten with the inner padded key so that the inner hash runs over one
// contiguous slice.
func fastHMAC(h hashAlg, dst, key, buf []byte) []byte {
	bs := h.blockSize()
	var k0 [maxBlock]byte
	if len(key) > bs {
		h.sum(k0[:0], key)
	} else {
		copy(k0[:], key)
	}
	for i := range bs {
		buf[i] = k0[i] ^ 0x36
	}
	var outer [maxBlock + sha512.Size]byte
	for i := range bs {
		outer[i] = k0[i] ^ 0x5c
	}
	inner := h.sum(outer[bs:bs], buf)
	return h.sum(dst, outer[:bs+len(inner)])
}

// TimeSteps returns the number of time-steps of size step from the Unix epoch
// to t, t.Unix()/step rounded down: the T input of an OCRA suite with that
// time-step (see [Suite.TimeStep]). It returns 0 for times before the epoch
// and for steps shorter than one second (no OCRA suite has such a step).
func TimeSteps(t time.Time, step time.Duration) uint64 {
	sec := t.Unix()
	stepSec := int64(step / time.Second)
	if sec < 0 || stepSec <= 0 {
		return 0
	}
	return uint64(sec / stepSec)
}
