package main

import (
	"bytes"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/enumgate/enumgate/challenge/ocra"
	"github.com/enumgate/enumgate/challenge/ocra/enroll"
	"github.com/enumgate/enumgate/challenge/ocra/ocratest"
)

// vectorArgs is the enum ocra command line of a test vector.
func vectorArgs(v ocratest.Vector) []string {
	args := []string{"ocra", "--suite", v.Suite, "--key", v.KeyHex, "--question", v.Question}
	if v.HasCounter {
		args = append(args, "--counter", strconv.FormatUint(v.Counter, 10))
	}
	if v.PIN != "" {
		args = append(args, "--pin", v.PIN)
	}
	if v.HasTimestamp {
		args = append(args, "--timestamp", v.Timestamp)
	}
	if v.Mutual {
		args = append(args, "--mutual")
	}
	return args
}

// runEnum runs the command in-process.
func runEnum(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestOCRAReproducesAppendixCInProcess(t *testing.T) {
	if len(ocratest.Vectors) != 70 {
		t.Fatalf("%d vectors, want 70", len(ocratest.Vectors))
	}
	for _, v := range ocratest.Vectors {
		code, out, errOut := runEnum(t, vectorArgs(v)...)
		if code != 0 || out != v.Want+"\n" || errOut != "" {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want %s", v.Name(), code, out, errOut, v.Want)
		}
	}
}

func TestOCRAPinHashAndPrefixedHex(t *testing.T) {
	v := ocratest.Vectors[10] // C-QN08-PSHA1, counter 0
	code, out, errOut := runEnum(t, "ocra", "--suite", v.Suite, "--key", "0x"+v.KeyHex, "--question", v.Question,
		"--counter", "0", "--pin-hash", ocratest.PINHashSHA1)
	if code != 0 || out != v.Want+"\n" {
		t.Fatalf("exit %d, %q, %q; want %s", code, out, errOut, v.Want)
	}
	// Timestamp with 0x prefix and upper case; flags after nothing positional.
	v = ocratest.Vectors[35] // QN08-T1M
	code, out, _ = runEnum(t, "ocra", "--suite="+v.Suite, "--key="+v.KeyHex, "--question="+v.Question, "--timestamp=0x132D0B6")
	if code != 0 || out != v.Want+"\n" {
		t.Fatalf("exit %d, %q; want %s", code, out, v.Want)
	}
}

func TestOCRAUsesCurrentTimeWithoutTimestamp(t *testing.T) {
	fixed := time.Date(2008, 3, 25, 12, 6, 59, 0, time.UTC)
	defer func(old func() time.Time) { now = old }(now)
	now = func() time.Time { return fixed }
	v := ocratest.Vectors[35] // QN08-T1M at 0x132d0b6 = 2008-03-25 12:06 UTC
	code, out, errOut := runEnum(t, "ocra", "--suite", v.Suite, "--key", v.KeyHex, "--question", v.Question)
	if code != 0 || out != v.Want+"\n" {
		t.Fatalf("exit %d, %q, %q; want %s", code, out, errOut, v.Want)
	}
}

func TestOCRACounterUpToMaxUint64(t *testing.T) {
	code, _, errOut := runEnum(t, "ocra", "--suite", "OCRA-1:HOTP-SHA512-8:C-QN08", "--key", ocratest.Key64,
		"--question", "1", "--counter", "18446744073709551615")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"--help"}, {"help"}, {"ocra", "-h"}, {"ocra", "--help"}, {"enroll", "-h"}, {"list", "-h"}, {"answer", "-h"}} {
		code, out, errOut := runEnum(t, args...)
		if code != 0 || !strings.HasPrefix(out, "usage:") || errOut != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
	}
	_, out, _ := runEnum(t, "ocra", "-h")
	for _, f := range []string{"--suite SUITE", "--key HEX", "--question Q", "--counter N", "--pin PIN", "--pin-hash HEX", "--session HEX", "--timestamp HEX", "--mutual"} {
		if !strings.Contains(out, f) {
			t.Errorf("ocra usage lacks %q:\n%s", f, out)
		}
	}
}

const (
	secret16      = "GEZDGNBVGY3TQOJQGEZDGNBVGY" // "1234567890123456"
	uriAlice      = "enumgate://enroll?secret=" + secret16 + "&issuer=Example+Bank&account=alice"
	uriBob        = "enumgate://enroll?secret=" + secret16 + "&issuer=Other&account=bob&suite=OCRA-1%3AHOTP-SHA512-8%3AQA10-T1M"
	uriAlice2     = "enumgate://enroll?secret=" + secret16 + "&issuer=Other&account=alice"
	uriCounter    = "enumgate://enroll?secret=" + secret16 + "&issuer=C&account=c&suite=OCRA-1%3AHOTP-SHA1-6%3AC-QN08"
	uriPINSession = "enumgate://enroll?secret=" + secret16 + "&issuer=P&account=p&suite=OCRA-1%3AHOTP-SHA1-6%3AQN08-PSHA1-S064"
)

func TestRunRejectsBadInput(t *testing.T) {
	k := ocratest.Key20
	s := "OCRA-1:HOTP-SHA1-6:QN08"
	tests := []struct {
		name   string
		enroll []string // URIs enrolled first
		args   []string
		msg    string // substring of the error line
	}{
		{"no command", nil, nil, "missing command"},
		{"unknown command", nil, []string{"frobnicate"}, `unknown command "frobnicate"`},
		{"unknown flag before command", nil, []string{"--suite", s}, `unknown command "--suite"`},

		{"ocra: unknown flag", nil, []string{"ocra", "--bogus"}, "flag provided but not defined: -bogus"},
		{"ocra: flag without value", nil, []string{"ocra", "--key", k, "--question", "1", "--suite"}, "flag needs an argument: -suite"},
		{"ocra: value for a bool flag", nil, []string{"ocra", "--suite", s, "--key", k, "--question", "1", "--mutual=maybe"}, "invalid boolean value"},
		{"ocra: missing suite", nil, []string{"ocra", "--key", k, "--question", "1"}, "missing --suite"},
		{"ocra: missing key", nil, []string{"ocra", "--suite", s, "--question", "1"}, "missing --key"},
		{"ocra: missing question", nil, []string{"ocra", "--suite", s, "--key", k}, "missing --question"},
		{"ocra: positional argument", nil, []string{"ocra", "--suite", s, "--key", k, "--question", "1", "extra"}, `unexpected argument "extra"`},
		{"ocra: bad suite", nil, []string{"ocra", "--suite", "OCRA-1:HOTP-SHA1-6:QN65", "--key", k, "--question", "1"}, `invalid suite "OCRA-1:HOTP-SHA1-6:QN65": "QN65"`},
		{"ocra: bad hex key", nil, []string{"ocra", "--suite", s, "--key", "xyz", "--question", "1"}, "--key: not hexadecimal"},
		{"ocra: odd hex key", nil, []string{"ocra", "--suite", s, "--key", "123", "--question", "1"}, "--key: not hexadecimal"},
		{"ocra: empty key", nil, []string{"ocra", "--suite", s, "--key", "", "--question", "1"}, "key: missing"},
		{"ocra: empty question", nil, []string{"ocra", "--suite", s, "--key", k, "--question", ""}, "question: missing"},
		{"ocra: question of the wrong format", nil, []string{"ocra", "--suite", s, "--key", k, "--question", "12a4"}, "question: wrong format"},
		{"ocra: question too long", nil, []string{"ocra", "--suite", s, "--key", k, "--question", "123456789"}, "question: too long"},
		{"ocra: bad counter", nil, []string{"ocra", "--suite", "OCRA-1:HOTP-SHA1-6:C-QN08", "--key", k, "--question", "1", "--counter", "abc"}, `--counter: "abc" is not a decimal number`},
		{"ocra: negative counter", nil, []string{"ocra", "--suite", "OCRA-1:HOTP-SHA1-6:C-QN08", "--key", k, "--question", "1", "--counter", "-1"}, "--counter"},
		{"ocra: counter of 2^64", nil, []string{"ocra", "--suite", "OCRA-1:HOTP-SHA1-6:C-QN08", "--key", k, "--question", "1", "--counter", "18446744073709551616"}, "--counter"},
		{"ocra: hex counter", nil, []string{"ocra", "--suite", "OCRA-1:HOTP-SHA1-6:C-QN08", "--key", k, "--question", "1", "--counter", "0x10"}, "--counter"},
		{"ocra: missing counter", nil, []string{"ocra", "--suite", "OCRA-1:HOTP-SHA1-6:C-QN08", "--key", k, "--question", "1"}, "counter: missing"},
		{"ocra: counter for a suite without C", nil, []string{"ocra", "--suite", s, "--key", k, "--question", "1", "--counter", "0"}, "counter: not used by the suite"},
		{"ocra: missing PIN", nil, []string{"ocra", "--suite", "OCRA-1:HOTP-SHA1-6:QN08-PSHA1", "--key", k, "--question", "1"}, "pin: missing"},
		{"ocra: empty PIN", nil, []string{"ocra", "--suite", "OCRA-1:HOTP-SHA1-6:QN08-PSHA1", "--key", k, "--question", "1", "--pin", ""}, "--pin: empty"},
		{"ocra: PIN and PIN hash", nil, []string{"ocra", "--suite", "OCRA-1:HOTP-SHA1-6:QN08-PSHA1", "--key", k, "--question", "1", "--pin", "1234", "--pin-hash", ocratest.PINHashSHA1}, "not both"},
		{"ocra: bad PIN hash hex", nil, []string{"ocra", "--suite", "OCRA-1:HOTP-SHA1-6:QN08-PSHA1", "--key", k, "--question", "1", "--pin-hash", "zz"}, "--pin-hash: not hexadecimal"},
		{"ocra: PIN hash of the wrong size", nil, []string{"ocra", "--suite", "OCRA-1:HOTP-SHA1-6:QN08-PSHA256", "--key", k, "--question", "1", "--pin-hash", ocratest.PINHashSHA1}, "pin hash: wrong length"},
		{"ocra: PIN for a suite without P", nil, []string{"ocra", "--suite", s, "--key", k, "--question", "1", "--pin", "1234"}, "pin: not used by the suite"},
		{"ocra: missing session", nil, []string{"ocra", "--suite", "OCRA-1:HOTP-SHA1-6:QN08-S004", "--key", k, "--question", "1"}, "session: missing"},
		{"ocra: bad session hex", nil, []string{"ocra", "--suite", "OCRA-1:HOTP-SHA1-6:QN08-S004", "--key", k, "--question", "1", "--session", "0g"}, "--session: not hexadecimal"},
		{"ocra: session of the wrong length", nil, []string{"ocra", "--suite", "OCRA-1:HOTP-SHA1-6:QN08-S004", "--key", k, "--question", "1", "--session", "010203"}, "session: wrong length"},
		{"ocra: session for a suite without S", nil, []string{"ocra", "--suite", s, "--key", k, "--question", "1", "--session", "01"}, "session: not used by the suite"},
		{"ocra: bad timestamp", nil, []string{"ocra", "--suite", "OCRA-1:HOTP-SHA1-6:QN08-T1M", "--key", k, "--question", "1", "--timestamp", "xyz"}, `--timestamp: "xyz" is not a hexadecimal number`},
		{"ocra: timestamp too large", nil, []string{"ocra", "--suite", "OCRA-1:HOTP-SHA1-6:QN08-T1M", "--key", k, "--question", "1", "--timestamp", "10000000000000000"}, "--timestamp"},
		{"ocra: timestamp for a suite without T", nil, []string{"ocra", "--suite", s, "--key", k, "--question", "1", "--timestamp", "1"}, "timestamp: not used by the suite"},
		{"ocra: two questions without --mutual", nil, []string{"ocra", "--suite", "OCRA-1:HOTP-SHA256-8:QA08", "--key", k, "--question", "CLI22220SRV11110"}, "question: too long"},

		{"enroll: no URI", nil, []string{"enroll"}, "want exactly one enrolment URI"},
		{"enroll: two URIs", nil, []string{"enroll", uriAlice, uriBob}, "want exactly one enrolment URI"},
		{"enroll: unknown flag", nil, []string{"enroll", "--force", uriAlice}, "flag provided but not defined"},
		{"enroll: wrong scheme", nil, []string{"enroll", "otpauth://totp/x?secret=" + secret16}, `scheme "otpauth"`},
		{"enroll: bad secret", nil, []string{"enroll", "enumgate://enroll?secret=1&issuer=B&account=a"}, "secret is not valid base32"},
		{"enroll: missing account", nil, []string{"enroll", "enumgate://enroll?secret=" + secret16 + "&issuer=B"}, "missing account"},
		{"enroll: bad suite", nil, []string{"enroll", "enumgate://enroll?secret=" + secret16 + "&issuer=B&account=a&suite=OCRA-1:HOTP-SHA1-3:QN08"}, `invalid suite`},
		{"enroll: unknown parameter", nil, []string{"enroll", uriAlice + "&counter=1"}, `unknown parameter "counter"`},

		{"list: argument", nil, []string{"list", "all"}, `unexpected argument "all"`},
		{"list: unknown flag", nil, []string{"list", "--long"}, "flag provided but not defined"},

		{"answer: nothing enrolled", nil, []string{"answer", "12345678"}, "no account enrolled"},
		{"answer: no question", []string{uriAlice}, []string{"answer"}, "want exactly one QUESTION"},
		{"answer: two questions", []string{uriAlice}, []string{"answer", "1", "2"}, "want exactly one QUESTION"},
		{"answer: unknown flag", []string{uriAlice}, []string{"answer", "--pin", "1", "12345678"}, "flag provided but not defined"},
		{"answer: several accounts, none chosen", []string{uriAlice, uriBob}, []string{"answer", "12345678"}, "2 accounts enrolled; choose one with --account"},
		{"answer: unknown account", []string{uriAlice, uriBob}, []string{"answer", "--account", "carol", "12345678"}, `no enrolled account "carol"`},
		{"answer: empty account", []string{uriAlice}, []string{"answer", "--account", "", "12345678"}, "--account: empty"},
		{"answer: unknown issuer", []string{uriAlice}, []string{"answer", "--account", "Nobody:alice", "12345678"}, `no enrolled account "Nobody:alice"`},
		{"answer: ambiguous account", []string{uriAlice, uriAlice2}, []string{"answer", "--account", "alice", "12345678"}, "use --account ISSUER:ACCOUNT"},
		{"answer: question of the wrong format", []string{uriAlice}, []string{"answer", "1234abcd"}, "question: wrong format"},
		{"answer: question too long", []string{uriAlice}, []string{"answer", "123456789"}, "question: too long"},
		{"answer: suite with a counter", []string{uriCounter}, []string{"answer", "12345678"}, `needs a counter; use "enum ocra"`},
		{"answer: suite with PIN and session", []string{uriPINSession}, []string{"answer", "12345678"}, `needs a PIN and session information; use "enum ocra"`},
		{"answer: payee without amount", []string{uriAlice}, []string{"answer", "--payee", "Z123456789012", "12345678"}, "--payee needs --amount"},
		{"answer: amount without payee", []string{uriAlice}, []string{"answer", "--amount", "10", "12345678"}, "--amount needs --payee"},
		{"answer: bad payee", []string{uriAlice}, []string{"answer", "--payee", "Z12/34", "--amount", "10", "12345678"}, `invalid purse: character '/'`},
		{"answer: empty payee", []string{uriAlice}, []string{"answer", "--payee", "", "--amount", "10", "12345678"}, "invalid purse: empty"},
		{"answer: negative amount", []string{uriAlice}, []string{"answer", "--payee", "Z123456789012", "--amount", "-10", "12345678"}, "invalid amount: sign"},
		{"answer: amount with group separators", []string{uriAlice}, []string{"answer", "--payee", "Z123456789012", "--amount", "1,000.00", "12345678"}, "invalid amount: more than one"},
		{"answer: URI and payee", []string{uriAlice}, []string{"answer", "--payee", "Z1", "--amount", "1", "enum:login?challenge=12345678"}, "not both"},
		{"answer: enrolment URI", []string{uriAlice}, []string{"answer", uriAlice}, `invalid uri: scheme "enumgate"`},
		{"answer: unknown mode", []string{uriAlice}, []string{"answer", "enum:sign?c=12345678"}, `unknown mode "sign"`},
		{"answer: payment URI without amount", []string{uriAlice}, []string{"answer", "enum:payment?challenge=12345678&purse=Z123456789012"}, "missing parameter amount"},
		{"answer: repeated parameter", []string{uriAlice}, []string{"answer", "enum:p?c=1&p=Z1&a=1&a=2"}, "a given 2 times"},
		{"answer: mixed forms", []string{uriAlice}, []string{"answer", "enum:p?challenge=1&p=Z1&a=1"}, `unknown parameter "challenge"`},
		{"answer: bad amount in URI", []string{uriAlice}, []string{"answer", "enum:p?c=1&p=Z1&a=1e3"}, "invalid amount: exponent"},
		{"answer: URI question of the wrong format", []string{uriAlice}, []string{"answer", "enum:l?c=ABCD"}, "question: wrong format"},
		{"answer: URI question too long", []string{uriAlice}, []string{"answer", "enum:l?c=1234+5678+9"}, "question: too long"},
		{"answer: payment for a PIN suite", []string{uriPINSession}, []string{"answer", "enum:p?c=1&p=Z1&a=1"}, "needs a PIN"},
		{"answer: question with other separators", []string{uriAlice}, []string{"answer", "4817.2203"}, "question: wrong format"},

		{"ocra: payee without amount", nil, []string{"ocra", "--suite", s, "--key", k, "--question", "1", "--payee", "Z1"}, "--payee needs --amount"},
		{"ocra: amount without payee", nil, []string{"ocra", "--suite", s, "--key", k, "--question", "1", "--amount", "1"}, "--amount needs --payee"},
		{"ocra: payment and session", nil, []string{"ocra", "--suite", s, "--key", k, "--question", "1", "--payee", "Z1", "--amount", "1", "--session", "01"}, "--session and --payee/--amount"},
		{"ocra: payment with an S suite", nil, []string{"ocra", "--suite", "OCRA-1:HOTP-SHA1-6:QN08-S064", "--key", k, "--question", "1", "--payee", "Z1", "--amount", "1"}, "already has session information"},
		{"ocra: payment with a C suite", nil, []string{"ocra", "--suite", "OCRA-1:HOTP-SHA1-6:C-QN08", "--key", k, "--question", "1", "--counter", "0", "--payee", "Z1", "--amount", "1"}, "counter (C)"},
		{"ocra: bad amount", nil, []string{"ocra", "--suite", s, "--key", k, "--question", "1", "--payee", "Z1", "--amount", "ten"}, "invalid amount"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(configEnv, t.TempDir())
			for _, u := range tt.enroll {
				if code, _, errOut := runEnum(t, "enroll", u); code != 0 {
					t.Fatalf("enroll %s: %s", u, errOut)
				}
			}
			code, out, errOut := runEnum(t, tt.args...)
			if code != 2 {
				t.Errorf("exit status %d, want 2", code)
			}
			if out != "" {
				t.Errorf("stdout %q, want nothing", out)
			}
			if !strings.HasPrefix(errOut, "enum: ") || strings.Count(errOut, "\n") != 1 || !strings.HasSuffix(errOut, "\n") {
				t.Errorf("stderr %q, want one line starting with \"enum: \"", errOut)
			}
			if !strings.Contains(errOut, tt.msg) {
				t.Errorf("stderr %q does not contain %q", errOut, tt.msg)
			}
			if strings.Contains(errOut, secret16) {
				t.Errorf("stderr %q reveals the secret", errOut)
			}
		})
	}
}

func TestCorruptDevicesFileIsAnError(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(configEnv, dir)
	for _, content := range []string{"{", `{"version":2,"devices":[]}`, `{"version":1,"devices":[{"issuer":"B","account":"a","suite":"x","key":"MTIzNDU2Nzg5MDEyMzQ1Ng=="}]}`} {
		if err := os.WriteFile(filepath.Join(dir, devicesFile), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		code, out, errOut := runEnum(t, "list")
		if code != 1 || out != "" || !strings.HasPrefix(errOut, "enum: ") || strings.Count(errOut, "\n") != 1 {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit 1 and one error line", content, code, out, errOut)
		}
	}
}

func TestEnrollListAnswerRoundTrip(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "enum") // created by enum
	t.Setenv(configEnv, dir)
	key := []byte("1234567890123456")

	if code, out, _ := runEnum(t, "list"); code != 0 || out != "" {
		t.Fatalf("list before enrolment: exit %d, %q", code, out)
	}
	code, out, errOut := runEnum(t, "enroll", uriAlice)
	if code != 0 || out != "enrolled Example Bank:alice (OCRA-1:HOTP-SHA256-8:QN08)\n" || errOut != "" {
		t.Fatalf("enroll: exit %d, %q, %q", code, out, errOut)
	}

	// File and directory modes.
	fi, err := os.Stat(filepath.Join(dir, devicesFile))
	if err != nil {
		t.Fatal(err)
	}
	di, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" {
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("devices.json mode %v, want 0600", fi.Mode().Perm())
		}
		if di.Mode().Perm() != 0o700 {
			t.Errorf("directory mode %v, want 0700", di.Mode().Perm())
		}
	}

	// The only account: --account may be omitted.
	s, _ := ocra.ParseSuite(ocra.DefaultSuite)
	want, _ := s.Compute(key, ocra.Input{Question: "12345678"})
	if code, out, errOut := runEnum(t, "answer", "12345678"); code != 0 || out != want+"\n" {
		t.Fatalf("answer: exit %d, %q, %q; want %s", code, out, errOut, want)
	}

	// A second account with a T1M suite, and a third with the same account
	// name at another issuer.
	for _, u := range []string{uriBob, uriAlice2} {
		if code, _, errOut := runEnum(t, "enroll", u); code != 0 {
			t.Fatalf("enroll %s: %s", u, errOut)
		}
	}
	code, out, _ = runEnum(t, "list")
	wantList := "\"Example Bank\" alice OCRA-1:HOTP-SHA256-8:QN08\nOther alice OCRA-1:HOTP-SHA256-8:QN08\nOther bob OCRA-1:HOTP-SHA512-8:QA10-T1M\n"
	if code != 0 || out != wantList {
		t.Fatalf("list: exit %d\n%s\nwant\n%s", code, out, wantList)
	}
	if strings.Contains(out, secret16) || strings.Contains(out, hex.EncodeToString(key)) || strings.Contains(out, string(key)) {
		t.Fatalf("list reveals the key: %s", out)
	}

	if code, out, _ := runEnum(t, "answer", "--account", "Example Bank:alice", "12345678"); code != 0 || out != want+"\n" {
		t.Fatalf("answer --account ISSUER:ACCOUNT: exit %d, %q; want %s", code, out, want)
	}
	if code, out, _ := runEnum(t, "answer", "12345678", "--account", "Example Bank:alice"); code != 0 || out != want+"\n" {
		t.Fatalf("answer with the flag last: exit %d, %q; want %s", code, out, want)
	}

	// The T1M suite uses the current time.
	defer func(old func() time.Time) { now = old }(now)
	fixed := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	now = func() time.Time { return fixed }
	sb, _ := ocra.ParseSuite("OCRA-1:HOTP-SHA512-8:QA10-T1M")
	wantBob, _ := sb.Compute(key, ocra.Input{Question: "SIG1000000", Timestamp: ocra.TimeSteps(fixed, time.Minute), HasTimestamp: true})
	if code, out, errOut := runEnum(t, "answer", "--account", "bob", "SIG1000000"); code != 0 || out != wantBob+"\n" {
		t.Fatalf("answer bob: exit %d, %q, %q; want %s", code, out, errOut, wantBob)
	}

	// Enrolling the same issuer and account again replaces the key.
	newKey := []byte("abcdefghijklmnopqrstuvwxyz012345")
	code, out, _ = runEnum(t, "enroll", enroll.Enrollment{Issuer: "Example Bank", Account: "alice", Key: newKey}.URI())
	if code != 0 || !strings.HasPrefix(out, "replaced Example Bank:alice") {
		t.Fatalf("re-enroll: exit %d, %q", code, out)
	}
	if _, out, _ := runEnum(t, "list"); strings.Count(out, "\n") != 3 {
		t.Fatalf("after re-enrolment, list has %d lines:\n%s", strings.Count(out, "\n"), out)
	}
	want2, _ := s.Compute(newKey, ocra.Input{Question: "12345678"})
	if code, out, _ := runEnum(t, "answer", "--account", "Example Bank:alice", "12345678"); code != 0 || out != want2+"\n" || want2 == want {
		t.Fatalf("answer after re-enrolment: exit %d, %q; want %s", code, out, want2)
	}

	// The mode survives rewrites, and no temporary files are left behind.
	if fi, _ := os.Stat(filepath.Join(dir, devicesFile)); runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("devices.json mode %v after rewrite", fi.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("config directory holds %v, want only %s", entries, devicesFile)
	}
}

// TestBinaryReproducesAppendixC is the acceptance test: the real enum binary,
// run as "enum ocra ...", prints all 70 responses of RFC 6287 Appendix C.
func TestBinaryReproducesAppendixC(t *testing.T) {
	bin := enumBinary(t)
	if len(ocratest.Vectors) != 70 {
		t.Fatalf("%d vectors, want 70", len(ocratest.Vectors))
	}
	for _, v := range ocratest.Vectors {
		t.Run(v.Name(), func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(bin, vectorArgs(v)...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil || string(out) != v.Want+"\n" || stderr.Len() != 0 {
				t.Fatalf("enum %s: %v, stdout %q, stderr %q; want %s", strings.Join(vectorArgs(v), " "), err, out, stderr.String(), v.Want)
			}
		})
	}
	// Bad input through the real binary: exit status 2, one line on stderr.
	cmd := exec.Command(bin, "ocra", "--bogus")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || strings.Count(stderr.String(), "\n") != 1 {
		t.Errorf("enum ocra --bogus: %v, stderr %q; want exit status 2 and one line", err, stderr.String())
	}
}
