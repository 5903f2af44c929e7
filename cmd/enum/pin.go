package main

import (
	"bufio"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"unicode"

	"golang.org/x/crypto/argon2"
	"golang.org/x/term"
)

// The environment variables that give the PINs instead of the prompt.
const (
	pinEnv    = "ENUM_PIN"     // the current PIN
	newPINEnv = "ENUM_NEW_PIN" // the new PIN of enum pin set and change
)

// Bounds of a PIN and of the wipe rule.
const (
	minPINLen          = 4
	maxPINLen          = 64
	defaultMaxFailures = 5
)

// allowedMaxFailures are the choices of --wipe-after, as in the E-num app.
var allowedMaxFailures = []int{3, 5, 10}

// kdfParams are the argon2id parameters of new PINs (RFC 9106's second
// recommended option); tests lower them. The parameters are stored with
// the PIN, so changing them here never locks out a device.
var kdfParams = argonParams{Time: 3, MemoryKiB: 64 << 10, Threads: 4}

type argonParams struct {
	Time      uint32 `json:"time"`
	MemoryKiB uint32 `json:"memory_kib"`
	Threads   uint8  `json:"threads"`
}

// pinFile is the "pin" member of devices.json (version 2): how the key
// that seals the device keys is derived from the PIN, a check value, and
// the wrong-PIN counter.
type pinFile struct {
	KDF         string      `json:"kdf"` // "argon2id"
	Params      argonParams `json:"params"`
	Salt        []byte      `json:"salt"`
	Check       []byte      `json:"check"`        // sealed checkPlain
	MaxFailures int         `json:"max_failures"` // wipe after this many wrong PINs in a row
	Failures    int         `json:"failures"`     // wrong PINs in a row so far
}

const (
	kdfArgon2id = "argon2id"
	saltLen     = 16
	checkPlain  = "enum-pin-check-v1"
	keyAADTag   = "enum-key-v1"
)

// validate checks a pinFile read from disk.
func (p *pinFile) validate() error {
	switch {
	case p.KDF != kdfArgon2id:
		return fmt.Errorf("unknown PIN key derivation %q", p.KDF)
	case p.Params.Time < 1 || p.Params.Time > 100 || p.Params.MemoryKiB < 8 || p.Params.MemoryKiB > 4<<20 || p.Params.Threads < 1:
		return errors.New("PIN key derivation parameters out of range")
	case len(p.Salt) != saltLen:
		return errors.New("PIN salt of the wrong length")
	case len(p.Check) < 12+16:
		return errors.New("PIN check value too short")
	case !validMaxFailures(p.MaxFailures):
		return fmt.Errorf("max_failures %d (want 3, 5 or 10)", p.MaxFailures)
	case p.Failures < 0 || p.Failures > p.MaxFailures:
		return fmt.Errorf("failures %d out of range", p.Failures)
	}
	return nil
}

func validMaxFailures(n int) bool {
	for _, a := range allowedMaxFailures {
		if n == a {
			return true
		}
	}
	return false
}

// aead derives the sealing key of pin.
func (p *pinFile) aead(pin string) cipher.AEAD {
	k := argon2.IDKey([]byte(pin), p.Salt, p.Params.Time, p.Params.MemoryKiB, p.Params.Threads, 32)
	defer clear(k)
	block, err := aes.NewCipher(k)
	if err != nil {
		panic(err) // a 32-byte key is always valid
	}
	a, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return a
}

// seal encrypts plain with a random nonce: nonce || ciphertext.
func seal(a cipher.AEAD, plain, aad []byte) []byte {
	nonce := make([]byte, a.NonceSize(), a.NonceSize()+len(plain)+a.Overhead())
	rand.Read(nonce)
	return a.Seal(nonce, nonce, plain, aad)
}

func open(a cipher.AEAD, sealed, aad []byte) ([]byte, error) {
	if len(sealed) < a.NonceSize()+a.Overhead() {
		return nil, errors.New("sealed value too short")
	}
	return a.Open(nil, sealed[:a.NonceSize()], sealed[a.NonceSize():], aad)
}

// keyAAD binds a sealed key to its device: a sealed key moved to another
// account does not open.
func keyAAD(issuer, account, suite string) []byte {
	return []byte(keyAADTag + "\x00" + issuer + "\x00" + account + "\x00" + suite)
}

// newPIN sets up a pinFile for pin and returns it with its AEAD.
func newPIN(pin string, maxFailures int) (*pinFile, cipher.AEAD) {
	p := &pinFile{KDF: kdfArgon2id, Params: kdfParams, Salt: make([]byte, saltLen), MaxFailures: maxFailures}
	rand.Read(p.Salt)
	a := p.aead(pin)
	p.Check = seal(a, []byte(checkPlain), []byte(checkPlain))
	return p, a
}

// checkPIN validates a PIN as given.
func checkPIN(pin string) error {
	switch {
	case pin == "":
		return badInput("empty PIN")
	case len(pin) < minPINLen:
		return badInput("the PIN must have at least %d characters", minPINLen)
	case len(pin) > maxPINLen:
		return badInput("the PIN must have at most %d bytes", maxPINLen)
	case strings.ContainsFunc(pin, unicode.IsControl):
		return badInput("the PIN must not contain control characters")
	}
	return nil
}

// stdin is where PINs are read from when the environment does not give
// them; tests replace it.
var stdin io.Reader = os.Stdin

// pinInput reads PINs: from the environment, else from the terminal
// without echo (prompting on standard error), else one line each from
// standard input.
type pinInput struct {
	stderr io.Writer
	lines  *bufio.Reader
}

// prompts is the pinInput of the current run.
var prompts *pinInput

func (p *pinInput) terminal() (int, bool) {
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return int(f.Fd()), true
	}
	return 0, false
}

// read returns a PIN from env or prompts for one.
func (p *pinInput) read(env, prompt string) (string, error) {
	if v, ok := os.LookupEnv(env); ok {
		return v, nil
	}
	if fd, ok := p.terminal(); ok {
		fmt.Fprint(p.stderr, prompt+": ")
		b, err := term.ReadPassword(fd)
		fmt.Fprintln(p.stderr)
		if err != nil {
			return "", fmt.Errorf("reading the PIN: %w", err)
		}
		return string(b), nil
	}
	if p.lines == nil {
		p.lines = bufio.NewReaderSize(io.LimitReader(stdin, 4096), 256)
	}
	line, err := p.lines.ReadString('\n')
	if err != nil && (err != io.EOF || line == "") {
		return "", badInput("%s: no PIN on standard input (set %s or type it at a terminal)", strings.ToLower(prompt), env)
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// readNew reads a new PIN, twice at a terminal.
func (p *pinInput) readNew() (string, error) {
	pin, err := p.read(newPINEnv, "New PIN")
	if err != nil {
		return "", err
	}
	if err := checkPIN(pin); err != nil {
		return "", err
	}
	if _, set := os.LookupEnv(newPINEnv); !set {
		if _, ok := p.terminal(); ok {
			again, err := p.read(newPINEnv, "Repeat the new PIN")
			if err != nil {
				return "", err
			}
			if subtle.ConstantTimeCompare([]byte(pin), []byte(again)) != 1 {
				return "", badInput("the PINs differ")
			}
		}
	}
	return pin, nil
}

// wrongPIN is a wrong PIN: exit status 2.
func wrongPIN(left int) error {
	return badInput("wrong PIN (%d more wrong PIN%s and every account is wiped)", left, plural(left))
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// unlock asks for the PIN, if one is set, and opens the device keys. A
// try is counted on disk before it is checked, so stopping enum during the
// check does not give a free try; a right PIN resets the count. The last
// allowed wrong PIN wipes every account and the PIN.
func (st *store) unlock() error {
	if st.pin == nil || st.aead != nil {
		return nil
	}
	pin, err := prompts.read(pinEnv, "PIN")
	if err != nil {
		return err
	}
	if pin == "" {
		return badInput("empty PIN")
	}
	st.pin.Failures++
	if err := st.save(); err != nil {
		return err
	}
	a := st.pin.aead(pin)
	if plain, err := open(a, st.pin.Check, []byte(checkPlain)); err != nil || string(plain) != checkPlain {
		if st.pin.Failures >= st.pin.MaxFailures {
			n := st.pin.MaxFailures
			st.wipe()
			if err := st.save(); err != nil {
				return err
			}
			return badInput("wrong PIN %d times in a row: every account and the PIN are wiped; enrol again", n)
		}
		return wrongPIN(st.pin.MaxFailures - st.pin.Failures)
	}
	for i, d := range st.devices {
		key, err := open(a, st.sealed[deviceID(d.Issuer, d.Account)], keyAAD(d.Issuer, d.Account, d.Suite))
		if err != nil {
			return fmt.Errorf("the key of %s does not open with the PIN: devices file corrupt", displayName(d))
		}
		st.devices[i].Key = key
	}
	st.aead = a
	st.pin.Failures = 0
	return st.save()
}

// wipe forgets every device and the PIN.
func (st *store) wipe() {
	for _, d := range st.devices {
		clear(d.Key)
	}
	st.devices, st.sealed, st.pin, st.aead = nil, nil, nil, nil
}

func deviceID(issuer, account string) string { return issuer + "\x00" + account }

// wipeAfterFlag parses --wipe-after.
func wipeAfterFlag(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || !validMaxFailures(n) {
		return 0, badInput("pin: --wipe-after: %q (want 3, 5 or 10)", s)
	}
	return n, nil
}

func cmdPIN(args []string, stdout io.Writer) error {
	const synopsis = "set|change|remove|status [--wipe-after 3|5|10]\n" +
		"  set:    protect the device keys with a new PIN (from $" + newPINEnv + " or the terminal)\n" +
		"  change: a new PIN, after the current one ($" + pinEnv + " or the terminal)\n" +
		"  remove: no PIN any more, after the current one\n" +
		"  status: whether a PIN is set and after how many wrong PINs the accounts are wiped"
	fs := newFlags("pin")
	wipeAfter := fs.String("wipe-after", strconv.Itoa(defaultMaxFailures), "wipe every account after `N` wrong PINs in a row: 3, 5 or 10 (set, change)")
	pos, err := parseFlags(fs, args, synopsis, stdout)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return badInput("pin: want one of set, change, remove, status (run \"enum pin -h\" for usage)")
	}
	maxFailures, err := wipeAfterFlag(*wipeAfter)
	if err != nil {
		return err
	}
	sub := pos[0]
	switch sub {
	case "set", "change", "remove", "status":
	default:
		return badInput("pin: unknown subcommand %q (want set, change, remove or status)", sub)
	}
	if flagSet(fs, "wipe-after") && (sub == "remove" || sub == "status") {
		return badInput("pin %s: --wipe-after is for set and change", sub)
	}
	st, err := openStore()
	if err != nil {
		return err
	}
	switch {
	case sub == "status" && st.pin == nil:
		_, err = fmt.Fprintln(stdout, "no PIN")
		return err
	case sub == "status":
		_, err = fmt.Fprintf(stdout, "PIN set; every account is wiped after %d wrong PINs in a row (%d so far)\n", st.pin.MaxFailures, st.pin.Failures)
		return err
	case sub == "set" && st.pin != nil:
		return badInput("pin set: a PIN is already set; use \"enum pin change\"")
	case sub != "set" && st.pin == nil:
		return badInput("pin %s: no PIN is set; use \"enum pin set\"", sub)
	}
	if !flagSet(fs, "wipe-after") && st.pin != nil {
		maxFailures = st.pin.MaxFailures
	}
	if err := st.unlock(); err != nil {
		return err
	}
	msg := "PIN removed: the device keys are stored without a PIN"
	if sub == "remove" {
		st.pin, st.aead = nil, nil
	} else {
		pin, err := prompts.readNew()
		if err != nil {
			return err
		}
		st.pin, st.aead = newPIN(pin, maxFailures)
		msg = fmt.Sprintf("PIN set; every account is wiped after %d wrong PINs in a row", maxFailures)
	}
	if err := st.save(); err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, msg)
	return err
}

func cmdUnlink(args []string, stdout io.Writer) error {
	fs := newFlags("unlink")
	pos, err := parseFlags(fs, args, "ACCOUNT\n  ACCOUNT: ACCOUNT or ISSUER:ACCOUNT (see \"enum list\"); its key is deleted from this device", stdout)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return badInput("unlink: want exactly one ACCOUNT or ISSUER:ACCOUNT, got %d arguments", len(pos))
	}
	st, err := openStore()
	if err != nil {
		return err
	}
	e, err := st.find(pos[0], true)
	if err != nil {
		msg := strings.Replace(err.Error(), "answer: ", "unlink: ", 1)
		if _, ok := errors.AsType[*usageError](err); ok {
			return badInput("%s", msg)
		}
		return errors.New(msg)
	}
	st.remove(e)
	if err := st.save(); err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "unlinked %s\n", displayName(e))
	return err
}
