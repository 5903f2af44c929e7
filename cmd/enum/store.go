package main

import (
	"crypto/cipher"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/enumgate/enumgate/challenge/ocra/enroll"
)

// configEnv overrides the configuration directory.
const configEnv = "ENUM_CONFIG_DIR"

const devicesFile = "devices.json"

// fileFormat is the content of devices.json: version 1 without a PIN
// (keys in the clear), version 2 with one (keys sealed under the PIN).
type fileFormat struct {
	Version int      `json:"version"`
	PIN     *pinFile `json:"pin,omitempty"` // version 2
	Devices []device `json:"devices"`
}

type device struct {
	Issuer    string `json:"issuer"`
	Account   string `json:"account"`
	Suite     string `json:"suite"`
	Key       []byte `json:"key,omitempty"`        // base64; version 1
	SealedKey []byte `json:"sealed_key,omitempty"` // base64 nonce || AES-256-GCM; version 2
}

// store is the set of enrolled devices, sorted by issuer then account.
// With a PIN, the keys are nil until unlock.
type store struct {
	dir     string
	devices []enroll.Enrollment
	pin     *pinFile          // nil: no PIN
	sealed  map[string][]byte // the sealed keys by deviceID, as read
	aead    cipher.AEAD       // the PIN's, once unlocked
}

// configDir returns the directory of devices.json.
func configDir() (string, error) {
	if d := os.Getenv(configEnv); d != "" {
		return d, nil
	}
	d, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("no configuration directory (set %s): %w", configEnv, err)
	}
	return filepath.Join(d, "enum"), nil
}

// openStore reads devices.json; a missing file is an empty store.
func openStore() (*store, error) {
	dir, err := configDir()
	if err != nil {
		return nil, err
	}
	st := &store{dir: dir}
	path := filepath.Join(dir, devicesFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return nil, err
	}
	var f fileFormat
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("%s: corrupt: %v", path, err)
	}
	switch {
	case f.Version != 1 && f.Version != 2:
		return nil, fmt.Errorf("%s: unsupported version %d", path, f.Version)
	case f.Version == 1 && f.PIN != nil:
		return nil, fmt.Errorf("%s: corrupt: version 1 with a PIN", path)
	case f.Version == 2 && f.PIN == nil:
		return nil, fmt.Errorf("%s: corrupt: version 2 without a PIN", path)
	case f.PIN != nil:
		if err := f.PIN.validate(); err != nil {
			return nil, fmt.Errorf("%s: corrupt: %v", path, err)
		}
		st.pin, st.sealed = f.PIN, map[string][]byte{}
	}
	for i, d := range f.Devices {
		e := enroll.Enrollment{Issuer: d.Issuer, Account: d.Account, Suite: d.Suite, Key: d.Key}
		check := e
		if st.pin != nil {
			check.Key = make([]byte, enroll.MinKeyLen) // checked when unsealed
			if d.Key != nil || len(d.SealedKey) < 12+enroll.MinKeyLen+16 || len(d.SealedKey) > 12+enroll.MaxKeyLen+16 {
				return nil, fmt.Errorf("%s: corrupt device %d: want a sealed key", path, i+1)
			}
			st.sealed[deviceID(e.Issuer, e.Account)] = d.SealedKey
		} else if d.SealedKey != nil {
			return nil, fmt.Errorf("%s: corrupt device %d: a sealed key without a PIN", path, i+1)
		}
		if err := check.Validate(); err != nil || e.Suite == "" {
			return nil, fmt.Errorf("%s: corrupt device %d: %v", path, i+1, err)
		}
		st.put(e)
	}
	if st.pin != nil && st.pin.Failures >= st.pin.MaxFailures {
		// The last allowed wrong PIN was counted but enum stopped before
		// wiping: wipe now.
		st.wipe()
		if err := st.save(); err != nil {
			return nil, err
		}
	}
	return st, nil
}

// remove deletes the device of e's issuer and account.
func (st *store) remove(e enroll.Enrollment) {
	i, found := slices.BinarySearchFunc(st.devices, e, compareDevices)
	if found {
		clear(st.devices[i].Key)
		st.devices = slices.Delete(st.devices, i, i+1)
		delete(st.sealed, deviceID(e.Issuer, e.Account))
	}
}

// put adds e, replacing a device with the same issuer and account, and
// reports whether it replaced one.
func (st *store) put(e enroll.Enrollment) bool {
	i, found := slices.BinarySearchFunc(st.devices, e, compareDevices)
	if found {
		st.devices[i] = e
	} else {
		st.devices = slices.Insert(st.devices, i, e)
	}
	return found
}

func compareDevices(a, b enroll.Enrollment) int {
	if c := strings.Compare(a.Issuer, b.Issuer); c != 0 {
		return c
	}
	return strings.Compare(a.Account, b.Account)
}

// find returns the device for --account (ACCOUNT or ISSUER:ACCOUNT), or the
// only device if the flag was not given.
func (st *store) find(account string, given bool) (enroll.Enrollment, error) {
	switch {
	case len(st.devices) == 0:
		return enroll.Enrollment{}, badInput("answer: no account enrolled; run \"enum enroll URI\" first")
	case !given && len(st.devices) == 1:
		return st.devices[0], nil
	case !given:
		return enroll.Enrollment{}, badInput("answer: %d accounts enrolled; choose one with --account (see \"enum list\")", len(st.devices))
	case account == "":
		return enroll.Enrollment{}, badInput("answer: --account: empty")
	}
	var match []enroll.Enrollment
	for _, d := range st.devices {
		if d.Account == account || d.Issuer+":"+d.Account == account {
			match = append(match, d)
		}
	}
	switch len(match) {
	case 0:
		return enroll.Enrollment{}, badInput("answer: no enrolled account %q (see \"enum list\")", account)
	case 1:
		return match[0], nil
	}
	return enroll.Enrollment{}, badInput("answer: account %q is enrolled with %d issuers; use --account ISSUER:ACCOUNT", account, len(match))
}

// save writes devices.json atomically: a temporary file in the same
// directory, synced, then renamed over the old file.
func (st *store) save() (err error) {
	if err := os.MkdirAll(st.dir, 0o700); err != nil {
		return err
	}
	f := fileFormat{Version: 1, Devices: []device{}}
	if st.pin != nil {
		f.Version, f.PIN = 2, st.pin
	}
	for _, e := range st.devices {
		d := device{Issuer: e.Issuer, Account: e.Account, Suite: e.Suite}
		switch {
		case st.pin == nil:
			d.Key = e.Key
		case st.aead != nil && e.Key != nil:
			d.SealedKey = seal(st.aead, e.Key, keyAAD(e.Issuer, e.Account, e.Suite))
		default:
			d.SealedKey = st.sealed[deviceID(e.Issuer, e.Account)]
			if d.SealedKey == nil {
				return fmt.Errorf("no sealed key for %s", displayName(e)) // cannot happen: enroll unlocks first
			}
		}
		f.Devices = append(f.Devices, d)
	}
	data, err := json.MarshalIndent(f, "", "\t")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(st.dir, ".devices-*.tmp") // mode 0600
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err = tmp.Chmod(0o600); err != nil {
		return err
	}
	if _, err = tmp.Write(append(data, '\n')); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), filepath.Join(st.dir, devicesFile)); err != nil {
		return err
	}
	if d, derr := os.Open(st.dir); derr == nil { // make the rename durable; best effort
		d.Sync()
		d.Close()
	}
	return nil
}
