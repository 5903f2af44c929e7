package main

import (
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/enumgate/enumgate/challenge/ocra"
	"github.com/enumgate/enumgate/challenge/ocra/enroll"
	"github.com/enumgate/enumgate/challenge/ocra/payment"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage:
  enum enroll URI                     store the device key of an enrolment URI
  enum list                           list enrolled accounts: ISSUER ACCOUNT SUITE
  enum answer [--account A] QUESTION  print the answer number to a question
  enum answer [--account A] --payee PURSE --amount AMOUNT QUESTION
                                      print the answer to a payment question
  enum answer [--account A] QUESTION-URI
                                      answer enum:login?... or enum:payment?...
  enum ocra --suite SUITE --key HEX --question Q [--counter N]
            [--pin PIN | --pin-hash HEX] [--session HEX] [--timestamp HEX] [--mutual]
            [--payee PURSE --amount AMOUNT]
                                      compute one OCRA response (RFC 6287)
  enum pin set|change|remove|status [--wipe-after 3|5|10]
                                      protect the device keys with a PIN
  enum unlink ACCOUNT                 delete an account's key from this device
  enum web [--listen ADDR]            serve the E-num web app (default ` + defaultListen + `)
Run "enum COMMAND -h" for the options of a command.
`

// usageError is bad input: exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func badInput(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// now is the clock; tests may replace it.
var now = time.Now

// run runs the command line args (without the program name) and returns the
// exit status.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		return fail(stderr, badInput("missing command (enroll, list, answer or ocra); run \"enum -h\" for usage"))
	}
	prompts = &pinInput{stderr: stderr}
	var err error
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	case "enroll":
		err = cmdEnroll(args[1:], stdout)
	case "list":
		err = cmdList(args[1:], stdout)
	case "answer":
		err = cmdAnswer(args[1:], stdout, stderr)
	case "ocra":
		err = cmdOCRA(args[1:], stdout)
	case "pin":
		err = cmdPIN(args[1:], stdout)
	case "unlink":
		err = cmdUnlink(args[1:], stdout)
	case "web":
		err = cmdWeb(args[1:], stdout)
	default:
		err = badInput("unknown command %q (want enroll, list, answer, ocra, pin, unlink or web); run \"enum -h\" for usage", args[0])
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	return fail(stderr, err)
}

// fail prints err as one line on stderr and returns its exit status.
func fail(stderr io.Writer, err error) int {
	if err == nil {
		return 0
	}
	msg := strings.Join(strings.Fields(err.Error()), " ") // one line, whatever err says
	fmt.Fprintln(stderr, "enum: "+msg)
	var ue *usageError
	if errors.As(err, &ue) || errors.Is(err, ocra.ErrInvalidSuite) || errors.Is(err, ocra.ErrInvalidInput) || errors.Is(err, enroll.ErrInvalid) || errors.Is(err, payment.ErrInvalid) {
		return 2
	}
	return 1
}

// newFlags returns a flag set that reports errors instead of printing them.
func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("enum "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {} // parseFlags prints the usage for -h only
	return fs
}

// printUsage prints the usage of a subcommand, flags spelled with "--".
func printUsage(w io.Writer, fs *flag.FlagSet, synopsis string) {
	sep := " "
	if strings.HasPrefix(synopsis, "\n") {
		sep = ""
	}
	fmt.Fprintf(w, "usage: %s%s%s\n", fs.Name(), sep, synopsis)
	fs.VisitAll(func(f *flag.Flag) {
		arg, help := flag.UnquoteUsage(f)
		fmt.Fprintf(w, "  %s\n        %s\n", strings.TrimSpace("--"+f.Name+" "+arg), help)
	})
}

// parseFlags parses args, allowing flags after positional arguments, and
// returns the positional arguments. On -h it prints the usage to stdout and
// returns flag.ErrHelp.
func parseFlags(fs *flag.FlagSet, args []string, synopsis string, stdout io.Writer) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				printUsage(stdout, fs, synopsis)
				return nil, err
			}
			return nil, badInput("%s: %v (run \"%s -h\" for usage)", strings.TrimPrefix(fs.Name(), "enum "), err, fs.Name())
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// flagSet reports whether the flag name was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// parseHex decodes a hexadecimal flag value, with an optional 0x prefix.
func parseHex(name, s string) ([]byte, error) {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, badInput("ocra: --%s: not hexadecimal: %v", name, err)
	}
	return b, nil
}

func cmdOCRA(args []string, stdout io.Writer) error {
	const synopsis = "--suite SUITE --key HEX --question Q [--counter N] [--pin PIN | --pin-hash HEX] [--session HEX] [--timestamp HEX] [--mutual] [--payee PURSE --amount AMOUNT]"
	fs := newFlags("ocra")
	suiteStr := fs.String("suite", "", "OCRA `SUITE`, e.g. "+ocra.DefaultSuite+" (required)")
	keyHex := fs.String("key", "", "the key, `HEX` (required)")
	question := fs.String("question", "", "the question `Q`, in the suite's format (required)")
	counter := fs.String("counter", "", "the counter C, decimal `N` from 0 to 18446744073709551615 (suites with C)")
	pin := fs.String("pin", "", "the `PIN`, hashed with the suite's PIN hash (suites with P)")
	pinHash := fs.String("pin-hash", "", "the hash of the PIN, `HEX` (instead of --pin)")
	session := fs.String("session", "", "the session information, `HEX`, exactly nnn bytes (suites with Snnn)")
	timestamp := fs.String("timestamp", "", "the number of time-steps T, `HEX`, e.g. 132d0b6 (suites with T; default: now)")
	mutual := fs.Bool("mutual", false, "the question is two questions concatenated (mutual challenge-response)")
	payee := fs.String("payee", "", "payment mode: the payee's purse or account `PURSE` (with --amount); the suite gets S064 and the session is the payment's")
	amount := fs.String("amount", "", "payment mode: the `AMOUNT` (with --payee)")
	pos, err := parseFlags(fs, args, synopsis, stdout)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return badInput("ocra: unexpected argument %q (run \"enum ocra -h\" for usage)", pos[0])
	}
	for _, req := range []string{"suite", "key", "question"} {
		if !flagSet(fs, req) {
			return badInput("ocra: missing --%s (run \"enum ocra -h\" for usage)", req)
		}
	}
	s, err := ocra.ParseSuite(*suiteStr)
	if err != nil {
		return err
	}
	pay, err := paymentFlags(fs, "ocra", *payee, *amount)
	if err != nil {
		return err
	}
	if pay != nil {
		if flagSet(fs, "session") {
			return badInput("ocra: --session and --payee/--amount: in payment mode the session information is the payment's")
		}
		if s, err = payment.PaymentSuite(s); err != nil {
			return err
		}
	}
	key, err := parseHex("key", *keyHex)
	if err != nil {
		return err
	}
	in := ocra.Input{Question: *question, Mutual: *mutual, PIN: *pin}
	if flagSet(fs, "counter") {
		if in.Counter, err = strconv.ParseUint(*counter, 10, 64); err != nil {
			return badInput("ocra: --counter: %q is not a decimal number from 0 to 18446744073709551615", *counter)
		}
		in.HasCounter = true
	}
	if flagSet(fs, "pin") && flagSet(fs, "pin-hash") {
		return badInput("ocra: give --pin or --pin-hash, not both")
	}
	if flagSet(fs, "pin") && *pin == "" {
		return badInput("ocra: --pin: empty PIN")
	}
	if flagSet(fs, "pin-hash") {
		if in.PINHash, err = parseHex("pin-hash", *pinHash); err != nil {
			return err
		}
		if len(in.PINHash) == 0 {
			return badInput("ocra: --pin-hash: empty")
		}
	}
	if flagSet(fs, "session") {
		if in.Session, err = parseHex("session", *session); err != nil {
			return err
		}
		if len(in.Session) == 0 {
			return badInput("ocra: --session: empty")
		}
	}
	if pay != nil {
		in.Session = pay.Session()
	}
	switch {
	case flagSet(fs, "timestamp"):
		t := strings.TrimPrefix(strings.TrimPrefix(*timestamp, "0x"), "0X")
		if in.Timestamp, err = strconv.ParseUint(t, 16, 64); err != nil {
			return badInput("ocra: --timestamp: %q is not a hexadecimal number of time-steps (at most 16 digits)", *timestamp)
		}
		in.HasTimestamp = true
	case s.TimeStep() != 0:
		in.Timestamp, in.HasTimestamp = ocra.TimeSteps(now(), s.TimeStep()), true
	}
	r, err := s.Compute(key, in)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, r)
	return err
}

func cmdEnroll(args []string, stdout io.Writer) error {
	fs := newFlags("enroll")
	pos, err := parseFlags(fs, args, "URI\n  URI: enumgate://enroll?secret=BASE32[&suite=SUITE]&issuer=ISSUER&account=ACCOUNT", stdout)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return badInput("enroll: want exactly one enrolment URI (enumgate://enroll?secret=...&issuer=...&account=...), got %d arguments", len(pos))
	}
	e, err := enroll.Parse(pos[0])
	if err != nil {
		return err
	}
	st, err := openStore()
	if err != nil {
		return err
	}
	if err := st.unlock(); err != nil {
		return err
	}
	if st.pin != nil {
		delete(st.sealed, deviceID(e.Issuer, e.Account))
	}
	replaced := st.put(e)
	if err := st.save(); err != nil {
		return err
	}
	verb := "enrolled"
	if replaced {
		verb = "replaced"
	}
	_, err = fmt.Fprintf(stdout, "%s %s (%s)\n", verb, displayName(e), e.Suite)
	return err
}

func cmdList(args []string, stdout io.Writer) error {
	fs := newFlags("list")
	pos, err := parseFlags(fs, args, "\n  prints ISSUER ACCOUNT SUITE for each enrolled account", stdout)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return badInput("list: unexpected argument %q", pos[0])
	}
	st, err := openStore()
	if err != nil {
		return err
	}
	for _, d := range st.devices {
		if _, err := fmt.Fprintf(stdout, "%s %s %s\n", listField(d.Issuer), listField(d.Account), d.Suite); err != nil {
			return err
		}
	}
	return nil
}

// listField quotes a field of enum list that would otherwise not be one
// space-separated word.
func listField(s string) string {
	if s == "" || strings.ContainsAny(s, " \t\"\\") || strings.ContainsFunc(s, func(r rune) bool { return r > 0x7e || r < 0x20 }) {
		return strconv.Quote(s)
	}
	return s
}

func displayName(e enroll.Enrollment) string { return e.Issuer + ":" + e.Account }

// paymentFlags returns the payment of --payee and --amount, nil if neither
// is given.
func paymentFlags(fs *flag.FlagSet, cmd, payee, amount string) (*payment.Payment, error) {
	hasPayee, hasAmount := flagSet(fs, "payee"), flagSet(fs, "amount")
	switch {
	case !hasPayee && !hasAmount:
		return nil, nil
	case !hasAmount:
		return nil, badInput("%s: --payee needs --amount (payment mode binds the answer to both)", cmd)
	case !hasPayee:
		return nil, badInput("%s: --amount needs --payee (payment mode binds the answer to both)", cmd)
	}
	p, err := payment.Prepare(payee, amount)
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// isURI reports whether an answer argument is a question URI rather than a
// question: questions never contain ':'.
func isURI(arg string) bool { return strings.Contains(arg, ":") }

func cmdAnswer(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("answer")
	account := fs.String("account", "", "the `ACCOUNT` (or ISSUER:ACCOUNT) to answer for; required if several are enrolled")
	payee := fs.String("payee", "", "payment mode: the recipient's purse or account `PURSE`, as shown with the question (with --amount)")
	amount := fs.String("amount", "", "payment mode: the `AMOUNT`, digits with an optional '.' or ',' (with --payee)")
	const synopsis = "[--account ACCOUNT | --account ISSUER:ACCOUNT] [--payee PURSE --amount AMOUNT] QUESTION\n" +
		"       enum answer [--account ...] QUESTION-URI\n" +
		"  QUESTION: the question number; spaces and dashes are ignored (4817 2203, 4817-2203)\n" +
		"  QUESTION-URI: enum:login?challenge=Q or enum:payment?challenge=Q&purse=P&amount=A\n" +
		"                (short forms enum:l?c=Q, enum:p?c=Q&p=P&a=A)\n" +
		"  prints what is confirmed on standard error and the answer alone on standard output"
	pos, err := parseFlags(fs, args, synopsis, stdout)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return badInput("answer: want exactly one QUESTION or question URI, got %d arguments (run \"enum answer -h\" for usage)", len(pos))
	}
	pay, err := paymentFlags(fs, "answer", *payee, *amount)
	if err != nil {
		return err
	}
	question, what := payment.StripQuestion(pos[0]), ""
	if pay != nil {
		what = "payment of " + *amount + " to " + *payee
	}
	if isURI(pos[0]) {
		if pay != nil {
			return badInput("answer: give a question URI or --payee/--amount, not both")
		}
		u, err := payment.ParseURI(pos[0])
		if err != nil {
			return err
		}
		question, what = u.Challenge, "login"
		if u.Mode == payment.ModePayment {
			p, err := u.Payment()
			if err != nil {
				return err
			}
			pay, what = &p, "payment of "+u.Amount+" to "+u.Purse
		}
	}
	st, err := openStore()
	if err != nil {
		return err
	}
	e, err := st.find(*account, flagSet(fs, "account"))
	if err != nil {
		return err
	}
	if st.pin != nil {
		if err := st.unlock(); err != nil {
			return err
		}
		if e, err = st.find(displayName(e), true); err != nil {
			return err
		}
	}
	s, err := ocra.ParseSuite(e.Suite)
	if err != nil {
		return err
	}
	var needs []string
	if s.HasCounter() {
		needs = append(needs, "a counter")
	}
	if s.PINHash() != "" {
		needs = append(needs, "a PIN")
	}
	if s.SessionLen() != 0 {
		needs = append(needs, "session information")
	}
	if len(needs) > 0 {
		return badInput("answer: suite %s of %s needs %s; use \"enum ocra\"", s, displayName(e), strings.Join(needs, " and "))
	}
	in := ocra.Input{Question: question}
	if s.TimeStep() != 0 {
		in.Timestamp, in.HasTimestamp = ocra.TimeSteps(now(), s.TimeStep()), true
	}
	var r string
	if pay != nil {
		r, err = pay.Answer(s, e.Key, in)
	} else {
		r, err = s.Compute(e.Key, in)
	}
	if err != nil {
		return err
	}
	if what != "" {
		fmt.Fprintln(stderr, what)
	}
	_, err = fmt.Fprintln(stdout, r)
	return err
}
