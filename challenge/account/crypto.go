package account

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Labels deriving the account's keys from Config.Secret. They are part of
// the stored format: changing one makes every sealed key and pending code
// unreadable.
const (
	deviceKeyLabel = "enumgate/v1/account-device"
	codeKeyLabel   = "enumgate/v1/account-code"
	nonceLen       = 12
)

// idLen is the length of every id: 16 random bytes in base64url.
const idLen = 22

// keys are the keys derived from the secret.
type keys struct {
	device cipher.AEAD
	code   []byte
}

func derive(secret []byte, label string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(label))
	return m.Sum(nil)
}

func newKeys(secret []byte) (*keys, error) {
	block, err := aes.NewCipher(derive(secret, deviceKeyLabel))
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &keys{device: aead, code: derive(secret, codeKeyLabel)}, nil
}

// lp appends length-prefixed parts, so no two different lists share an
// encoding.
func lp(dst []byte, parts ...string) []byte {
	for _, p := range parts {
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(p)))
		dst = append(dst, p...)
	}
	return dst
}

// deviceAD is the additional data of a sealed device key.
func deviceAD(user, device string) []byte {
	return lp(nil, deviceKeyLabel, user, device)
}

// seal returns nonce ‖ ciphertext of key for user's device.
func (k *keys) seal(r io.Reader, user, device string, key []byte) ([]byte, error) {
	out := make([]byte, nonceLen, nonceLen+len(key)+k.device.Overhead())
	if _, err := io.ReadFull(r, out); err != nil {
		return nil, unavailable("randomness", err)
	}
	return k.device.Seal(out, out, key, deviceAD(user, device)), nil
}

// errSealed reports a sealed key that fails authentication.
var errSealed = errors.New("sealed device key failed authentication (wrong secret or tampered state)")

// open reverses seal; errors carry no key material.
func (k *keys) open(user, device string, sealed []byte) ([]byte, error) {
	if len(sealed) < nonceLen+k.device.Overhead() {
		return nil, errSealed
	}
	key, err := k.device.Open(nil, sealed[:nonceLen], sealed[nonceLen:], deviceAD(user, device))
	if err != nil {
		return nil, errSealed
	}
	return key, nil
}

// mac returns the keyed MAC of a code or answer for user's pending id.
func (k *keys) mac(user, id, kind, code string) []byte {
	m := hmac.New(sha256.New, k.code)
	m.Write(lp(nil, user, id, kind, code))
	return m.Sum(nil)
}

// newID returns 16 random bytes in base64url (22 characters).
func newID(r io.Reader) (string, error) {
	var b [16]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", unavailable("randomness", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// validID reports whether s looks like an id of newID.
func validID(s string) bool {
	if len(s) != idLen {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil
}

// newCode returns n uniformly drawn decimal digits.
func newCode(r io.Reader, n int) (string, error) {
	out := make([]byte, 0, n)
	var buf [32]byte
	for tries := 0; len(out) < n; tries++ {
		if tries > 64 {
			return "", unavailable("randomness", fmt.Errorf("the random source keeps returning rejected bytes"))
		}
		if _, err := io.ReadFull(r, buf[:]); err != nil {
			return "", unavailable("randomness", err)
		}
		for _, b := range buf {
			if b < 250 && len(out) < n {
				out = append(out, '0'+b%10)
			}
		}
	}
	return string(out), nil
}
