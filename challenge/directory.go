package challenge

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"os"
	"regexp"

	"github.com/enumgate/enumgate/challenge/ocra"
)

// DefaultSuite is the OCRA suite an E-num device uses unless configured
// otherwise: HMAC-SHA256, 8 answer digits, numeric questions of up to 8
// digits.
const DefaultSuite = "OCRA-1:HOTP-SHA256-8:QN08"

// ErrNoUser reports a user the directory does not know.
var ErrNoUser = errors.New("user not in directory")

// User is what the gateway knows about one user: where to send codes and
// which E-num devices can answer questions.
type User struct {
	// ID is the user's identifier, as the identity placeholder yields it.
	ID string
	// Phone is the E.164 phone number for SMS codes ("" if none).
	Phone string
	// Emails are the user's addresses, the primary one first.
	Emails []string
	// Devices are the user's enrolled E-num devices, the primary first.
	Devices []Device
}

// Device is one enrolled E-num device: the shared key and the OCRA suite.
type Device struct {
	// Name is a label for the device, e.g. "phone".
	Name string
	// Suite is the parsed OCRA suite.
	Suite *ocra.Suite
	// Key is the shared secret key.
	Key []byte
	// PINHash is the hashed PIN for suites with a P input.
	PINHash []byte
}

// Directory looks up users. Implementations are safe for concurrent use;
// the returned User is shared and must not be modified.
type Directory interface {
	// Lookup returns the user with the given id, or an error wrapping
	// ErrNoUser. Any other error means the directory is unavailable.
	Lookup(ctx context.Context, id string) (*User, error)
}

// FileDirectory is a Directory read from a JSON file that the operator
// owns: it is read once and never written.
//
// The format:
//
//	{"users": [
//	  {"id": "alice", "phone": "+79000000001", "emails": ["alice@example.test"],
//	   "devices": [{"name": "phone", "suite": "OCRA-1:HOTP-SHA256-8:QN08",
//	                "key": "3132333435363738393031323334353637383930313233343536373839303132"}]}
//	]}
//
// key is hexadecimal; suite defaults to DefaultSuite; pin_hash (hex) is
// required for suites with a P input.
type FileDirectory struct {
	users map[string]*User
}

type fileFormat struct {
	Users []FileUser `json:"users"`
}

// FileUser is one user in the users-file format (see FileDirectory).
type FileUser struct {
	// ID is the user's id, 1 to MaxUserIDLen bytes.
	ID string `json:"id"`
	// Phone is an E.164 number, or empty.
	Phone string `json:"phone,omitempty"`
	// Emails are plain addresses, the primary first.
	Emails []string `json:"emails,omitempty"`
	// Devices are the E-num devices, the primary first.
	Devices []FileDevice `json:"devices,omitempty"`
}

// FileDevice is one E-num device in the users-file format.
type FileDevice struct {
	// Name labels the device.
	Name string `json:"name,omitempty"`
	// Suite is the OCRA suite; empty means DefaultSuite.
	Suite string `json:"suite,omitempty"`
	// Key is the shared key in hexadecimal.
	Key string `json:"key"`
	// PINHash is the hashed PIN in hexadecimal, for suites with P.
	PINHash string `json:"pin_hash,omitempty"`
}

// Limits on directory records.
const (
	// MaxUserIDLen is the longest user id, in bytes.
	MaxUserIDLen = 256
	maxKeyLen    = 128
)

var phoneRE = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// LoadFile reads and validates a JSON user file; see FileDirectory.
func LoadFile(path string) (*FileDirectory, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading users file: %w", err)
	}
	d, err := ParseDirectory(data)
	if err != nil {
		return nil, fmt.Errorf("users file %s: %w", path, err)
	}
	return d, nil
}

// ParseDirectory validates a JSON user file's contents; see FileDirectory.
// Errors name the user and field at fault.
func ParseDirectory(data []byte) (*FileDirectory, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f fileFormat
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	if dec.More() {
		return nil, errors.New("invalid JSON: trailing data after the top-level object")
	}
	d := &FileDirectory{users: make(map[string]*User, len(f.Users))}
	for i, fu := range f.Users {
		u, err := fu.User()
		if err != nil {
			return nil, fmt.Errorf("user %d (%q): %w", i, fu.ID, err)
		}
		if _, dup := d.users[u.ID]; dup {
			return nil, fmt.Errorf("user %d (%q): duplicate id", i, fu.ID)
		}
		d.users[u.ID] = u
	}
	return d, nil
}

// User validates the record with the users-file rules and returns the
// user it describes (suites parsed, keys decoded). Errors name the field.
func (fu FileUser) User() (*User, error) {
	if fu.ID == "" || len(fu.ID) > MaxUserIDLen {
		return nil, fmt.Errorf("id must be 1 to %d bytes", MaxUserIDLen)
	}
	if fu.Phone != "" && !phoneRE.MatchString(fu.Phone) {
		return nil, fmt.Errorf("phone %q is not an E.164 number such as +79000000001", fu.Phone)
	}
	u := &User{ID: fu.ID, Phone: fu.Phone}
	for _, e := range fu.Emails {
		a, err := mail.ParseAddress(e)
		if err != nil || a.Address != e {
			return nil, fmt.Errorf("email %q is not a plain address such as alice@example.org", e)
		}
		u.Emails = append(u.Emails, e)
	}
	for j, fd := range fu.Devices {
		dev, err := fd.device()
		if err != nil {
			return nil, fmt.Errorf("device %d (%q): %w", j, fd.Name, err)
		}
		u.Devices = append(u.Devices, dev)
	}
	return u, nil
}

func (fd FileDevice) device() (Device, error) {
	suiteName := fd.Suite
	if suiteName == "" {
		suiteName = DefaultSuite
	}
	suite, err := ParseDeviceSuite(suiteName)
	if err != nil {
		return Device{}, err
	}
	key, err := hex.DecodeString(fd.Key)
	if err != nil || len(key) == 0 || len(key) > maxKeyLen {
		return Device{}, fmt.Errorf("key must be 1 to %d bytes in hexadecimal", maxKeyLen)
	}
	dev := Device{Name: fd.Name, Suite: suite, Key: key}
	if suite.PINHash() != "" {
		if dev.PINHash, err = hex.DecodeString(fd.PINHash); err != nil || len(dev.PINHash) == 0 {
			return Device{}, fmt.Errorf("suite %s needs pin_hash in hexadecimal", suiteName)
		}
	} else if fd.PINHash != "" {
		return Device{}, fmt.Errorf("pin_hash given but suite %s has no PIN input", suiteName)
	}
	return dev, nil
}

// ParseDeviceSuite parses an OCRA suite and checks that the gateway can
// verify it: the gateway asks questions and checks time-based suites
// against its clock, but keeps no per-device counter and has no session
// information the device could share, so suites with a C or S input are
// refused.
func ParseDeviceSuite(s string) (*ocra.Suite, error) {
	suite, err := ocra.ParseSuite(s)
	if err != nil {
		return nil, err
	}
	if suite.HasCounter() {
		return nil, fmt.Errorf("suite %s: counter-based suites (C) are not supported by the gateway", s)
	}
	if suite.SessionLen() > 0 {
		return nil, fmt.Errorf("suite %s: session-information suites (S) are not supported by the gateway", s)
	}
	return suite, nil
}

// Lookup implements Directory.
func (d *FileDirectory) Lookup(_ context.Context, id string) (*User, error) {
	u, ok := d.users[id]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrNoUser, id)
	}
	return u, nil
}

// Len returns the number of users.
func (d *FileDirectory) Len() int { return len(d.users) }
