package challenge

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"fmt"
)

// The stashed request carries the customer's credentials (cookies, the
// Authorization header) and the payment itself, and a shared store such as
// Redis keeps it for the challenge's lifetime. It is therefore stored
// sealed: AES-256-GCM under a key derived from the secret, with a random
// nonce, bound to the challenge id as additional data so a stash cannot be
// moved to another challenge.

// newStashAEAD builds the AES-256-GCM AEAD that seals stashes; it is
// stateless after construction and safe for concurrent use.
func newStashAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// sealStash returns nonce || ciphertext of an encoded stash.
func (e *Engine) sealStash(id string, enc []byte) ([]byte, error) {
	aead := e.stashAEAD
	out := make([]byte, aead.NonceSize(), aead.NonceSize()+len(enc)+aead.Overhead())
	if _, err := rand.Read(out); err != nil {
		return nil, fmt.Errorf("%w: randomness: %w", ErrUnavailable, err)
	}
	return aead.Seal(out, out, enc, []byte(id)), nil
}

// openStash reverses sealStash; a stash that fails authentication is an
// error, never replayed.
func (e *Engine) openStash(id string, sealed []byte) ([]byte, error) {
	aead := e.stashAEAD
	if len(sealed) < aead.NonceSize()+aead.Overhead() {
		return nil, fmt.Errorf("%w: stash too short", ErrUnavailable)
	}
	n := aead.NonceSize()
	enc, err := aead.Open(nil, sealed[:n], sealed[n:], []byte(id))
	if err != nil {
		return nil, fmt.Errorf("%w: stash failed authentication", ErrUnavailable)
	}
	return enc, nil
}
