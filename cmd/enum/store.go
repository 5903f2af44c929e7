package main

import (
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

// fileFormat is the content of devices.json.
type fileFormat struct {
	Version int      `json:"version"`
	Devices []device `json:"devices"`
}

type device struct {
	Issuer  string `json:"issuer"`
	Account string `json:"account"`
	Suite   string `json:"suite"`
	Key     []byte `json:"key"` // base64
}

// store is the set of enrolled devices, sorted by issuer then account.
type store struct {
	dir     string
	devices []enroll.Enrollment
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
	if f.Version != 1 {
		return nil, fmt.Errorf("%s: unsupported version %d", path, f.Version)
	}
	for i, d := range f.Devices {
		e := enroll.Enrollment{Issuer: d.Issuer, Account: d.Account, Suite: d.Suite, Key: d.Key}
		if err := e.Validate(); err != nil || e.Suite == "" {
			return nil, fmt.Errorf("%s: corrupt device %d: %v", path, i+1, err)
		}
		st.put(e)
	}
	return st, nil
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
	for _, e := range st.devices {
		f.Devices = append(f.Devices, device{Issuer: e.Issuer, Account: e.Account, Suite: e.Suite, Key: e.Key})
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
