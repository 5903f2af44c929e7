package challenge

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"io"
	"time"

	"github.com/enumgate/enumgate/challenge/ocra"
	"github.com/enumgate/enumgate/challenge/ocra/payment"
)

// answerMAC binds an answer to its challenge so a MAC is useless elsewhere.
func (e *Engine) answerMAC(id, answer string) []byte {
	m := hmac.New(sha256.New, e.answerKey)
	m.Write([]byte(id))
	m.Write([]byte{0})
	m.Write([]byte(answer))
	return m.Sum(nil)
}

// question draws a question for suite, of the configured length capped by
// the suite's maximum.
func (e *Engine) question(suite *ocra.Suite) (string, error) {
	n := min(e.cfg.QuestionLength, suite.QuestionMaxLen())
	q, err := suite.RandomQuestion(e.cfg.Rand, n)
	if err != nil {
		return "", fmt.Errorf("%w: drawing a question: %w", ErrUnavailable, err)
	}
	return q, nil
}

// expectedOCRA returns the MACs of every answer a device of the user may
// give to question q: one per device, and for time-based suites one per
// time step within the window.
func (e *Engine) expectedOCRA(id string, devices []Device, q string, pay *payment.Payment, now time.Time) ([][]byte, error) {
	var out [][]byte
	for _, d := range devices {
		in := ocra.Input{Question: q, PINHash: d.PINHash}
		suite := d.Suite
		if pay != nil {
			// Payment mode: the device's suite with the payment's session
			// data, derived once per device, not once per time step.
			ps, err := payment.PaymentSuite(d.Suite)
			if err != nil {
				continue
			}
			if in, err = pay.Input(in); err != nil {
				continue
			}
			suite = ps
		}
		steps := []uint64{0}
		if st := d.Suite.TimeStep(); st > 0 {
			cur := ocra.TimeSteps(now, st)
			steps = steps[:0]
			for w := -e.cfg.TimeWindow; w <= e.cfg.TimeWindow; w++ {
				steps = append(steps, uint64(int64(cur)+int64(w)))
			}
		}
		for _, ts := range steps {
			in.Timestamp, in.HasTimestamp = ts, d.Suite.TimeStep() > 0
			a, err := suite.Compute(d.Key, in)
			if err != nil {
				// A question in the primary device's format may not suit
				// another device's suite: that device cannot answer it.
				break
			}
			out = append(out, e.answerMAC(id, a))
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no device can answer the question", ErrUnavailable)
	}
	return out, nil
}

// emailCode returns the code mailed to the user: the primary device's
// answer to a fresh question, or random digits without a device.
func (e *Engine) emailCode(u *User, pay *payment.Payment, now time.Time) (string, error) {
	if len(u.Devices) == 0 {
		return e.digits(e.cfg.CodeLength)
	}
	d := u.Devices[0]
	q, err := e.question(d.Suite)
	if err != nil {
		return "", err
	}
	in := ocra.Input{Question: q, PINHash: d.PINHash}
	if st := d.Suite.TimeStep(); st > 0 {
		in.Timestamp, in.HasTimestamp = ocra.TimeSteps(now, st), true
	}
	a, err := answerFor(d, in, pay)
	if err != nil {
		return "", fmt.Errorf("%w: computing the e-mailed answer: %w", ErrUnavailable, err)
	}
	return a, nil
}

// answerFor computes device d's answer to in: in authorization mode
// (pay nil) with the device's suite, in payment mode with the payment
// derivation over the payee and amount.
func answerFor(d Device, in ocra.Input, pay *payment.Payment) (string, error) {
	if pay == nil {
		return d.Suite.Compute(d.Key, in)
	}
	return pay.Answer(d.Suite, d.Key, in)
}

// digits returns n uniformly random decimal digits.
func (e *Engine) digits(n int) (string, error) {
	out := make([]byte, 0, n)
	var buf [16]byte
	for len(out) < n {
		if _, err := io.ReadFull(e.cfg.Rand, buf[:]); err != nil {
			return "", fmt.Errorf("%w: randomness: %w", ErrUnavailable, err)
		}
		for _, b := range buf {
			if b < 250 && len(out) < n { // 250 = 25*10: no modulo bias
				out = append(out, '0'+b%10)
			}
		}
	}
	return string(out), nil
}

// maxAnswerLen bounds an answer as typed, separators included.
const maxAnswerLen = 128

// NormalizeAnswer strips the spaces, tabs and dashes people paste into
// answers ("1234 5678", "1234-5678") and checks what is left is 1 to 64
// letters or digits; otherwise it returns ErrMalformed.
func NormalizeAnswer(a string) (string, error) {
	if len(a) > maxAnswerLen {
		return "", fmt.Errorf("%w: answer too long", ErrMalformed)
	}
	out := make([]byte, 0, len(a))
	for i := 0; i < len(a); i++ {
		switch c := a[i]; {
		case c == ' ' || c == '-' || c == '\t':
		case '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z':
			out = append(out, c)
		default:
			return "", fmt.Errorf("%w: answer may hold only digits and letters", ErrMalformed)
		}
	}
	if len(out) == 0 || len(out) > 64 {
		return "", fmt.Errorf("%w: answer must be 1 to 64 digits or letters", ErrMalformed)
	}
	return string(out), nil
}
