package trust

import (
	"errors"
	"fmt"
)

// Errors of a Store. Test with errors.Is; any other error is the store
// failing (Redis down, a corrupt value) and the caller fails closed.
var (
	// ErrNotFound: no such grant or trusted payee; nothing changed.
	ErrNotFound = errors.New("not found")
	// ErrFull: a bound was reached (MaxTrusted payees, MaxCurrencies a
	// day, the memory store's users or entries, Redis out of memory);
	// nothing changed.
	ErrFull = errors.New("trust store is full")
	// ErrInvalid: bad input; the wrapping error says what. Nothing
	// changed.
	ErrInvalid = errors.New("invalid input")
)

// errTooLarge is an AddDaily or AddAmounts whose sum would not fit.
var errTooLarge = invalid("the sum has more than %d integer digits", MaxAmountIntDigits)

// invalid returns an error matching ErrInvalid with a clear message.
func invalid(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, a...))
}
