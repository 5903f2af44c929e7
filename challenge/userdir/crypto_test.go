package userdir

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"regexp"
	"strings"
	"testing"
)

var (
	secretA = []byte("secret A: 0123456789abcdef")
	secretB = []byte("secret B: 0123456789abcdef")
	secretC = []byte("secret C: 0123456789abcdef")
)

func mustKeyring(t testing.TB, secrets ...[]byte) *keyring {
	t.Helper()
	k, err := newKeyring(secrets)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestKeyringRejectsBadSecrets(t *testing.T) {
	for name, secrets := range map[string][][]byte{
		"none":      nil,
		"short":     {[]byte("15 bytes secret")},
		"short old": {secretA, []byte("short")},
		"repeated":  {secretA, secretB, append([]byte(nil), secretA...)},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := newKeyring(secrets); err == nil {
				t.Fatal("accepted")
			} else if bytes.Contains([]byte(err.Error()), secretA) {
				t.Fatalf("error shows the secret: %v", err)
			}
		})
	}
}

func TestKeyID(t *testing.T) {
	a, b := mustKeyring(t, secretA), mustKeyring(t, secretA, secretB)
	if !regexp.MustCompile(`^[0-9a-f]{8}$`).MatchString(a.primary.kid) {
		t.Fatalf("kid %q is not 8 lower-case hex characters", a.primary.kid)
	}
	if a.primary.kid != b.primary.kid {
		t.Fatal("the same secret gives different key ids")
	}
	if c := mustKeyring(t, secretB); c.primary.kid == a.primary.kid {
		t.Fatal("different secrets give the same key id")
	}
}

func TestSealOpen(t *testing.T) {
	k := mustKeyring(t, secretA, secretB)
	plain := []byte("12345678901234567890123456789012")
	ad := additionalData("alice", 0, "OCRA-1:HOTP-SHA256-8:QN08", fieldKey)
	s := k.seal(plain, ad)
	if !strings.HasPrefix(s, "v1:"+k.primary.kid+":") {
		t.Fatalf("sealed string %q lacks v1:<kid>:", s)
	}
	if s2 := k.seal(plain, ad); s2 == s {
		t.Fatal("two seals are equal: the nonce is not random")
	}
	got, kid, err := k.open(s, ad)
	if err != nil || !bytes.Equal(got, plain) || kid != k.primary.kid {
		t.Fatalf("open = %q, %q, %v", got, kid, err)
	}

	// Secret B reads what secret A sealed once A is among the secrets.
	if _, _, err := mustKeyring(t, secretB, secretA).open(s, ad); err != nil {
		t.Fatalf("rotated keyring: %v", err)
	}

	for name, tc := range map[string]struct {
		k    *keyring
		s    string
		ad   []byte
		want error
	}{
		"other user":    {k, s, additionalData("bob", 0, "OCRA-1:HOTP-SHA256-8:QN08", fieldKey), ErrDecrypt},
		"other device":  {k, s, additionalData("alice", 1, "OCRA-1:HOTP-SHA256-8:QN08", fieldKey), ErrDecrypt},
		"other suite":   {k, s, additionalData("alice", 0, "OCRA-1:HOTP-SHA1-6:QN08", fieldKey), ErrDecrypt},
		"other field":   {k, s, additionalData("alice", 0, "OCRA-1:HOTP-SHA256-8:QN08", fieldPINHash), ErrDecrypt},
		"unknown kid":   {mustKeyring(t, secretC), s, ad, ErrUnknownKey},
		"flipped bit":   {k, flipLastChar(s), ad, ErrDecrypt},
		"no version":    {k, strings.TrimPrefix(s, "v1:"), ad, ErrCorrupt},
		"version 2":     {k, "v2" + strings.TrimPrefix(s, "v1"), ad, ErrCorrupt},
		"upper kid":     {k, "v1:ABCDEF12" + s[11:], ad, ErrCorrupt},
		"short kid":     {k, "v1:abc:" + s[12:], ad, ErrCorrupt},
		"bad base64":    {k, s[:12] + "!!!!", ad, ErrCorrupt},
		"too short box": {k, s[:12] + base64.RawURLEncoding.EncodeToString(make([]byte, 27)), ad, ErrCorrupt},
		"empty":         {k, "", ad, ErrCorrupt},
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := tc.k.open(tc.s, tc.ad)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			msg := err.Error()
			if strings.Contains(msg, hex.EncodeToString(plain)) || strings.Contains(msg, string(plain)) {
				t.Fatalf("error shows the key: %v", err)
			}
		})
	}
}

// The additional data is unambiguous: shifting bytes between the id and
// the suite gives a different encoding.
func TestAdditionalDataUnambiguous(t *testing.T) {
	a := additionalData("ab", 1, "c", fieldKey)
	b := additionalData("a", 1, "bc", fieldKey)
	if bytes.Equal(a, b) {
		t.Fatal("different bindings share an encoding")
	}
}

func flipLastChar(s string) string {
	c := s[len(s)-2]
	if c == 'A' {
		c = 'B'
	} else {
		c = 'A'
	}
	return s[:len(s)-2] + string(c) + s[len(s)-1:]
}
