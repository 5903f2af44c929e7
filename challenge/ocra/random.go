package ocra

import (
	"io"
	"strconv"
)

const (
	alphaNumeric = "0123456789"
	alphaHex     = "0123456789ABCDEF"
	alphaAlnum   = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)

// RandomQuestion returns a question of n characters in the suite's format,
// each character drawn uniformly and independently from r by rejection
// sampling (no modulo bias): decimal digits for N, upper-case hexadecimal
// digits for H, and ASCII letters (both cases) and digits for A. n == 0
// means QuestionMaxLen; otherwise 1 <= n <= QuestionMaxLen. Use
// crypto/rand.Reader as r in production.
//
// Errors: an [*InputError] with ErrLength for n out of range, or with
// ErrRandom if reading r fails or r keeps returning rejected bytes.
func (s *Suite) RandomQuestion(r io.Reader, n int) (string, error) {
	if n == 0 {
		n = s.qMax
	}
	if n < 0 || n > s.qMax {
		return "", inputErr("length", ErrLength, "question length "+strconv.Itoa(n)+" out of range 1.."+strconv.Itoa(s.qMax))
	}
	alphabet := alphaNumeric
	switch s.qFormat {
	case 'A':
		alphabet = alphaAlnum
	case 'H':
		alphabet = alphaHex
	}
	// Bytes at or above limit are rejected so that every character is
	// equally likely: limit is the largest multiple of len(alphabet) <= 256.
	limit := 256 - 256%len(alphabet)
	out := make([]byte, 0, n)
	var buf [64]byte
	// With at most 6 of 256 byte values rejected (for 62 characters), a
	// genuine random source needs little more than n bytes; 1 KiB more than
	// that only runs out for a broken one.
	for budget := n + 1024; len(out) < n; {
		if budget <= 0 {
			return "", inputErr("question", ErrRandom, "the random source keeps returning rejected bytes")
		}
		k := min(len(buf), n-len(out)+4)
		if _, err := io.ReadFull(r, buf[:k]); err != nil {
			return "", inputErr("question", ErrRandom, err.Error())
		}
		budget -= k
		for _, b := range buf[:k] {
			if int(b) < limit {
				out = append(out, alphabet[int(b)%len(alphabet)])
				if len(out) == n {
					break
				}
			}
		}
	}
	return string(out), nil
}
