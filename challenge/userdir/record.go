package userdir

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/enumgate/enumgate/challenge"
)

// Errors. Redis failures are returned wrapped as they are; the errors
// below describe records. None of them ever carries key material.
var (
	// ErrInvalid reports a record that Put or Import refuses: the same
	// rules as the users file (challenge.ParseDirectory).
	ErrInvalid = errors.New("invalid user record")
	// ErrCorrupt reports a stored record that cannot be decoded, or that
	// is stored under another user's key.
	ErrCorrupt = errors.New("stored user record is corrupt")
	// ErrUnknownKey reports a device key encrypted under a secret that is
	// not among Options.Secrets (the error names its key id).
	ErrUnknownKey = errors.New("device key is encrypted under a secret that is not configured")
	// ErrDecrypt reports a device key that fails authentication: tampered
	// with, or moved from another user or device.
	ErrDecrypt = errors.New("device key failed to decrypt (tampered with, or moved from another user or device)")
	// ErrClosed reports a call on a closed Dir.
	ErrClosed = errors.New("userdir: directory is closed")
)

// maxIDLen is the users file's limit on user ids; longer ids cannot be
// stored, so Lookup answers them without asking Redis.
const maxIDLen = challenge.MaxUserIDLen

// Record is one user as operators manage it. Its JSON form never contains
// device keys or PIN hashes.
type Record struct {
	// ID is the user's identifier, as the identity placeholder yields it
	// (1 to 256 bytes).
	ID string `json:"id"`
	// Phone is the E.164 number for SMS codes, e.g. "+79000000001".
	Phone string `json:"phone,omitempty"`
	// Emails are plain addresses, the primary one first.
	Emails []string `json:"emails,omitempty"`
	// Devices are the enrolled E-num devices, the primary one first.
	Devices []DeviceRecord `json:"devices,omitempty"`
	// Notify is the user's preference for e-mail notifications of
	// confirmed and rejected operations.
	Notify bool `json:"notify,omitempty"`
}

// DeviceRecord is one enrolled E-num device of a Record.
type DeviceRecord struct {
	// Name labels the device, e.g. "phone".
	Name string `json:"name"`
	// Suite is the OCRA suite; empty means challenge.DefaultSuite (Put
	// stores the default explicitly).
	Suite string `json:"suite"`
	// Key is the shared secret key, 1 to 128 bytes. Never in JSON.
	Key []byte `json:"-"`
	// PINHash is the hashed PIN, required exactly for suites with a P
	// input. Never in JSON.
	PINHash []byte `json:"-"`
	// KID is the key id of the secret the key is stored under. Get sets
	// it (so `users show` can display rotation progress); Put ignores it.
	KID string `json:"kid,omitempty"`
}

// storedRecord is the value stored in Redis: a Record whose device keys
// and PIN hashes are sealed strings (see keyring.seal).
type storedRecord struct {
	V       int            `json:"v"`
	ID      string         `json:"id"`
	Phone   string         `json:"phone,omitempty"`
	Emails  []string       `json:"emails,omitempty"`
	Notify  bool           `json:"notify,omitempty"`
	Devices []storedDevice `json:"devices,omitempty"`
}

type storedDevice struct {
	Name    string `json:"name,omitempty"`
	Suite   string `json:"suite"`
	Key     string `json:"key"`
	PINHash string `json:"pin_hash,omitempty"`
}

// storedVersion is the version of the stored format.
const storedVersion = 1

// validate checks r with the rules of the users file and returns the user
// challenge.ParseDirectory builds from it (suites parsed, the default
// suite filled in).
func validate(r Record) (*challenge.User, error) {
	fu := challenge.FileUser{ID: r.ID, Phone: r.Phone, Emails: r.Emails}
	for _, d := range r.Devices {
		fd := challenge.FileDevice{Name: d.Name, Suite: d.Suite, Key: hex.EncodeToString(d.Key)}
		if len(d.PINHash) > 0 {
			fd.PINHash = hex.EncodeToString(d.PINHash)
		}
		fu.Devices = append(fu.Devices, fd)
	}
	u, err := fu.User()
	if err != nil {
		return nil, fmt.Errorf("%w: user %q: %w", ErrInvalid, r.ID, err)
	}
	return u, nil
}

// sealUser encrypts a validated user's device keys under the primary key.
func (k *keyring) sealUser(u *challenge.User, notify bool) *storedRecord {
	st := &storedRecord{V: storedVersion, ID: u.ID, Phone: u.Phone, Emails: u.Emails, Notify: notify}
	for i, dev := range u.Devices {
		suite := dev.Suite.String()
		sd := storedDevice{Name: dev.Name, Suite: suite,
			Key: k.seal(dev.Key, additionalData(u.ID, i, suite, fieldKey))}
		if len(dev.PINHash) > 0 {
			sd.PINHash = k.seal(dev.PINHash, additionalData(u.ID, i, suite, fieldPINHash))
		}
		st.Devices = append(st.Devices, sd)
	}
	return st
}

// decodeStored parses a stored value. Unknown fields are ignored (a newer
// gateway may add some); an unknown version is refused.
func decodeStored(data []byte) (*storedRecord, error) {
	var st storedRecord
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&st); err != nil {
		return nil, fmt.Errorf("%w: invalid JSON", ErrCorrupt)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data", ErrCorrupt)
	}
	if st.V != storedVersion {
		return nil, fmt.Errorf("%w: unsupported format version %d", ErrCorrupt, st.V)
	}
	return &st, nil
}

// openStored decrypts a stored record found under user id's key.
func (k *keyring) openStored(id string, st *storedRecord) (Record, error) {
	if st.ID != id {
		return Record{}, fmt.Errorf("user %q: %w: the record names another user", id, ErrCorrupt)
	}
	r := Record{ID: st.ID, Phone: st.Phone, Emails: st.Emails, Notify: st.Notify}
	for i, sd := range st.Devices {
		key, kid, err := k.open(sd.Key, additionalData(id, i, sd.Suite, fieldKey))
		if err != nil {
			return Record{}, fmt.Errorf("user %q device %d key: %w", id, i, err)
		}
		dr := DeviceRecord{Name: sd.Name, Suite: sd.Suite, Key: key, KID: kid}
		if sd.PINHash != "" {
			if dr.PINHash, _, err = k.open(sd.PINHash, additionalData(id, i, sd.Suite, fieldPINHash)); err != nil {
				return Record{}, fmt.Errorf("user %q device %d pin_hash: %w", id, i, err)
			}
		}
		r.Devices = append(r.Devices, dr)
	}
	return r, nil
}

// stale reports whether any ciphertext of st is under a key other than
// the primary one.
func (k *keyring) stale(st *storedRecord) bool {
	for _, sd := range st.Devices {
		if sealedKID(sd.Key) != k.primary.kid {
			return true
		}
		if sd.PINHash != "" && sealedKID(sd.PINHash) != k.primary.kid {
			return true
		}
	}
	return false
}

// userOf turns a decrypted stored record into the engine's User, checking
// it with the users-file rules again: a record that Put would refuse is
// never handed to the engine.
func userOf(r Record) (*challenge.User, error) {
	u, err := validate(r)
	if err != nil {
		return nil, fmt.Errorf("user %q: %w: %w", r.ID, ErrCorrupt, err)
	}
	return u, nil
}
