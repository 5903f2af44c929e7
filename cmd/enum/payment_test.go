package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/enumgate/enumgate/challenge/ocra"
	"github.com/enumgate/enumgate/challenge/ocra/enroll"
	"github.com/enumgate/enumgate/challenge/ocra/payment"
)

// paymentVector is a vector of challenge/ocra/payment/testdata/vectors.json,
// the file the other E-num apps check themselves against.
type paymentVector struct {
	Name                string `json:"name"`
	Suite               string `json:"suite"`
	KeyHex              string `json:"key_hex"`
	Question            string `json:"question"`
	PIN                 string `json:"pin"`
	Timestamp           string `json:"timestamp"`
	Purse               string `json:"purse"`
	Amount              string `json:"amount"`
	PaymentSuite        string `json:"payment_suite"`
	SessionHex          string `json:"session_hex"`
	Answer              string `json:"answer"`
	AuthorizationAnswer string `json:"authorization_answer"`
}

func readPaymentVectors(t *testing.T) []paymentVector {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "challenge", "ocra", "payment", "testdata", "vectors.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct{ Vectors []paymentVector }
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Vectors) < 8 {
		t.Fatalf("%d payment vectors", len(f.Vectors))
	}
	return f.Vectors
}

// setNow makes the clock return the start of time-step ts (hexadecimal) of
// suite, for the rest of the test.
func setNow(t *testing.T, suite, ts string) {
	t.Helper()
	if ts == "" {
		return
	}
	s, err := ocra.ParseSuite(suite)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.ParseUint(ts, 16, 64)
	if err != nil {
		t.Fatal(err)
	}
	old := now
	t.Cleanup(func() { now = old })
	at := time.Unix(int64(n)*int64(s.TimeStep()/time.Second), 0)
	now = func() time.Time { return at }
}

// TestAnswerPaymentVectors answers every payment vector the ways a user can:
// from the full and the short question URI, by typing payee and amount, and
// with the raw calculator; and checks that the authorization answer is what
// a plain question and a login URI give.
func TestAnswerPaymentVectors(t *testing.T) {
	for _, v := range readPaymentVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			// The raw calculator, with --payee/--amount and with the
			// payment suite and session spelled out.
			base := []string{"ocra", "--key", v.KeyHex, "--question", v.Question}
			if v.PIN != "" {
				base = append(base, "--pin", v.PIN)
			}
			if v.Timestamp != "" {
				base = append(base, "--timestamp", v.Timestamp)
			}
			for _, args := range [][]string{
				append(base[:len(base):len(base)], "--suite", v.Suite, "--payee", v.Purse, "--amount", v.Amount),
				append(base[:len(base):len(base)], "--suite", v.PaymentSuite, "--session", v.SessionHex),
			} {
				if code, out, errOut := runEnum(t, args...); code != 0 || out != v.Answer+"\n" || errOut != "" {
					t.Errorf("enum %s: exit %d, stdout %q, stderr %q; want %s", strings.Join(args, " "), code, out, errOut, v.Answer)
				}
			}
			if code, out, _ := runEnum(t, append(base[:len(base):len(base)], "--suite", v.Suite)...); code != 0 || out != v.AuthorizationAnswer+"\n" {
				t.Errorf("enum ocra without payment: exit %d, %q; want %s", code, out, v.AuthorizationAnswer)
			}
			if v.PIN != "" {
				return // enum answer cannot answer PIN suites
			}

			t.Setenv(configEnv, t.TempDir())
			key, _ := hex.DecodeString(v.KeyHex)
			if code, _, errOut := runEnum(t, "enroll", enroll.Enrollment{Issuer: "Bank", Account: "a", Suite: v.Suite, Key: key}.URI()); code != 0 {
				t.Fatalf("enroll: %s", errOut)
			}
			setNow(t, v.Suite, v.Timestamp)
			u := payment.URI{Mode: payment.ModePayment, Challenge: v.Question, Purse: v.Purse, Amount: v.Amount}
			what := "payment of " + v.Amount + " to " + v.Purse + "\n"
			for _, args := range [][]string{
				{"answer", u.String()},
				{"answer", u.Short()},
				{"answer", "--payee", v.Purse, "--amount", v.Amount, v.Question},
				{"answer", v.Question, "--amount", v.Amount, "--payee", v.Purse, "--account", "Bank:a"},
			} {
				if code, out, errOut := runEnum(t, args...); code != 0 || out != v.Answer+"\n" || errOut != what {
					t.Errorf("enum %s: exit %d, stdout %q, stderr %q; want %s and %q", strings.Join(args, " "), code, out, errOut, v.Answer, what)
				}
			}
			login := payment.URI{Mode: payment.ModeLogin, Challenge: v.Question}
			for _, args := range [][]string{{"answer", v.Question}, {"answer", login.String()}, {"answer", login.Short()}} {
				wantErr := "login\n"
				if args[1] == v.Question {
					wantErr = ""
				}
				if code, out, errOut := runEnum(t, args...); code != 0 || out != v.AuthorizationAnswer+"\n" || errOut != wantErr {
					t.Errorf("enum %s: exit %d, stdout %q, stderr %q; want %s and %q", strings.Join(args, " "), code, out, errOut, v.AuthorizationAnswer, wantErr)
				}
			}
		})
	}
}

func TestAnswerIgnoresSpacesAndDashesInTheQuestion(t *testing.T) {
	t.Setenv(configEnv, t.TempDir())
	if code, _, errOut := runEnum(t, "enroll", uriAlice); code != 0 {
		t.Fatal(errOut)
	}
	_, want, _ := runEnum(t, "answer", "48172203")
	_, wantPay, _ := runEnum(t, "answer", "--payee", "Z123456789012", "--amount", "10.00", "48172203")
	if want == "" || wantPay == "" || want == wantPay {
		t.Fatalf("answers %q and %q", want, wantPay)
	}
	for _, q := range []string{"4817 2203", "4817-2203", " 48-17 22-03 ", "enum:login?challenge=4817+2203", "enum:l?c=4817-2203"} {
		if code, out, errOut := runEnum(t, "answer", q); code != 0 || out != want {
			t.Errorf("answer %q: exit %d, %q, %q; want %q", q, code, out, errOut, want)
		}
	}
	for _, args := range [][]string{
		{"answer", "--payee", "Z 1234 5678 9012", "--amount", "10,0", "4817 2203"},
		{"answer", "enum:p?c=4817-2203&p=z123456789012&a=010"},
	} {
		if code, out, errOut := runEnum(t, args...); code != 0 || out != wantPay {
			t.Errorf("%v: exit %d, %q, %q; want %q", args, code, out, errOut, wantPay)
		}
	}
}

var (
	buildOnce sync.Once
	binPath   string
	binErr    error
)

// enumBinary builds the enum binary once for all tests that need it.
func enumBinary(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not found:", err)
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "enum-test-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "enum")
		if runtime.GOOS == "windows" {
			binPath += ".exe"
		}
		if out, err := exec.Command(goTool, "build", "-o", binPath, ".").CombinedOutput(); err != nil {
			binErr = err
			binPath = string(out)
		}
	})
	if binErr != nil {
		t.Fatalf("go build: %v\n%s", binErr, binPath)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" && binErr == nil {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// TestBinaryAnswersQuestionURIs runs the real binary: the answer alone on
// standard output, what is confirmed on standard error.
func TestBinaryAnswersQuestionURIs(t *testing.T) {
	bin := enumBinary(t)
	dir := t.TempDir()
	env := append(os.Environ(), configEnv+"="+dir)
	runBin := func(args ...string) (int, string, string) {
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return code, stdout.String(), stderr.String()
	}
	if code, _, errOut := runBin("enroll", uriAlice); code != 0 {
		t.Fatal(errOut)
	}
	v := readPaymentVectors(t)[0] // the default suite, Alice's; her key is not the vector's
	key := []byte("1234567890123456")
	s, _ := ocra.ParseSuite(v.Suite)
	want, err := payment.Answer(s, key, ocra.Input{Question: v.Question}, v.Purse, v.Amount)
	if err != nil {
		t.Fatal(err)
	}
	uri := "enum:payment?challenge=" + v.Question + "&purse=" + v.Purse + "&amount=" + v.Amount
	if code, out, errOut := runBin("answer", uri); code != 0 || out != want+"\n" || errOut != "payment of "+v.Amount+" to "+v.Purse+"\n" {
		t.Errorf("enum answer %s: exit %d, stdout %q, stderr %q; want %s", uri, code, out, errOut, want)
	}
	login, _ := s.Compute(key, ocra.Input{Question: v.Question})
	if code, out, errOut := runBin("answer", "enum:l?c="+v.Question); code != 0 || out != login+"\n" || errOut != "login\n" {
		t.Errorf("enum answer enum:l?c=...: exit %d, stdout %q, stderr %q; want %s", code, out, errOut, login)
	}
	if code, out, errOut := runBin("answer", "enum:p?c=1&p=Z1"); code != 2 || out != "" || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, "missing parameter a") {
		t.Errorf("bad URI: exit %d, stdout %q, stderr %q; want exit status 2 and one line", code, out, errOut)
	}
}
