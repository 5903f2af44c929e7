package userdir

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Encryption constants. They are part of the stored format: changing one
// makes every stored device key unreadable.
const (
	keyLabel     = "enumgate/v1/device-key" // HMAC message deriving an AES key from a secret
	adLabel      = "enumgate/v1/device"     // first element of the additional data
	sealedPrefix = "v1"                     // version of the sealed-string format
	kidLen       = 8                        // hex characters of a key id
	nonceLen     = 12
	tagLen       = 16

	// MinSecretLen is the minimum length in bytes of each of Options.Secrets.
	MinSecretLen = 16
)

// Field names bound into the additional data, so a ciphertext of one
// field cannot stand in for another.
const (
	fieldKey     = "key"
	fieldPINHash = "pin_hash"
)

// aeadKey is one derived AES-256-GCM key and its key id.
type aeadKey struct {
	kid  string
	aead cipher.AEAD
}

// keyring holds the keys derived from Options.Secrets: primary (from
// Secrets[0]) seals, every key opens.
type keyring struct {
	primary *aeadKey
	byKID   map[string]*aeadKey
}

// newKeyring derives one key per secret. Secrets must be at least
// MinSecretLen bytes and must not repeat (two secrets with the same key id
// are refused: decryption picks a key by id).
func newKeyring(secrets [][]byte) (*keyring, error) {
	if len(secrets) == 0 {
		return nil, errors.New("userdir: Secrets is required (Secrets[0] encrypts device keys)")
	}
	k := &keyring{byKID: make(map[string]*aeadKey, len(secrets))}
	for i, s := range secrets {
		if len(s) < MinSecretLen {
			return nil, fmt.Errorf("userdir: Secrets[%d] is %d bytes; each secret needs at least %d", i, len(s), MinSecretLen)
		}
		ak, err := deriveKey(s)
		if err != nil {
			return nil, err
		}
		if _, dup := k.byKID[ak.kid]; dup {
			return nil, fmt.Errorf("userdir: Secrets[%d] repeats an earlier secret (key id %s)", i, ak.kid)
		}
		k.byKID[ak.kid] = ak
		if i == 0 {
			k.primary = ak
		}
	}
	return k, nil
}

// deriveKey derives the AES-256 key HMAC-SHA256(secret, keyLabel) and its
// key id, the first kidLen hex characters of SHA-256 of the derived key.
func deriveKey(secret []byte) (*aeadKey, error) {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(keyLabel))
	key := mac.Sum(nil)
	sum := sha256.Sum256(key)
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("userdir: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("userdir: %w", err)
	}
	return &aeadKey{kid: hex.EncodeToString(sum[:])[:kidLen], aead: aead}, nil
}

// additionalData binds a ciphertext to the user, the device's position and
// suite, and the field it protects. Every element is length-prefixed, so no
// two different bindings share an encoding.
func additionalData(id string, index int, suite, field string) []byte {
	parts := []string{adLabel, id, strconv.Itoa(index), suite, field}
	n := 0
	for _, p := range parts {
		n += 4 + len(p)
	}
	ad := make([]byte, 0, n)
	for _, p := range parts {
		ad = binary.BigEndian.AppendUint32(ad, uint32(len(p)))
		ad = append(ad, p...)
	}
	return ad
}

// seal encrypts plaintext under the primary key and returns the sealed
// string "v1:<kid>:<base64url(nonce ‖ ciphertext ‖ tag)>".
func (k *keyring) seal(plaintext, ad []byte) string {
	buf := make([]byte, nonceLen, nonceLen+len(plaintext)+tagLen)
	rand.Read(buf) // never fails (crypto/rand, Go 1.24+)
	buf = k.primary.aead.Seal(buf, buf[:nonceLen], plaintext, ad)
	return sealedPrefix + ":" + k.primary.kid + ":" + base64.RawURLEncoding.EncodeToString(buf)
}

// parseSealed splits a sealed string into key id and nonce ‖ ciphertext.
func parseSealed(s string) (kid string, box []byte, err error) {
	ver, rest, ok1 := strings.Cut(s, ":")
	kid, b64, ok2 := strings.Cut(rest, ":")
	if !ok1 || !ok2 || ver != sealedPrefix {
		return "", nil, fmt.Errorf("%w: ciphertext is not in the %s:<kid>:<data> format", ErrCorrupt, sealedPrefix)
	}
	if len(kid) != kidLen || strings.ToLower(kid) != kid {
		return "", nil, fmt.Errorf("%w: malformed key id", ErrCorrupt)
	}
	if _, err := hex.DecodeString(kid); err != nil {
		return "", nil, fmt.Errorf("%w: malformed key id", ErrCorrupt)
	}
	box, err = base64.RawURLEncoding.DecodeString(b64)
	if err != nil || len(box) < nonceLen+tagLen {
		return "", nil, fmt.Errorf("%w: malformed ciphertext", ErrCorrupt)
	}
	return kid, box, nil
}

// open decrypts a sealed string and returns the plaintext and the key id
// it was sealed under. Errors name the key id, never key material.
func (k *keyring) open(s string, ad []byte) ([]byte, string, error) {
	kid, box, err := parseSealed(s)
	if err != nil {
		return nil, "", err
	}
	ak, ok := k.byKID[kid]
	if !ok {
		return nil, kid, fmt.Errorf("%w (key id %s)", ErrUnknownKey, kid)
	}
	pt, err := ak.aead.Open(nil, box[:nonceLen], box[nonceLen:], ad)
	if err != nil {
		return nil, kid, fmt.Errorf("%w (key id %s)", ErrDecrypt, kid)
	}
	return pt, kid, nil
}

// sealedKID returns the key id of a sealed string, or "" if malformed.
func sealedKID(s string) string {
	kid, _, err := parseSealed(s)
	if err != nil {
		return ""
	}
	return kid
}
