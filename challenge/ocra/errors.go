package ocra

import (
	"errors"
	"strconv"
)

// ErrInvalidSuite is matched (with errors.Is) by every error ParseSuite
// returns. The concrete error is a [*SuiteError].
var ErrInvalidSuite = errors.New("invalid OCRA suite")

// ErrInvalidInput is matched (with errors.Is) by every error about the inputs
// of a computation (key, question, counter, PIN, session, timestamp). The
// concrete error is an [*InputError], which also matches one of the more
// specific sentinels below.
var ErrInvalidInput = errors.New("invalid OCRA input")

// Specific input errors, wrapped by [*InputError].
var (
	// ErrMissing: the suite needs the input but it was not given (empty
	// question, PIN or session; HasCounter or HasTimestamp false; empty key).
	ErrMissing = errors.New("missing")
	// ErrNotInSuite: the input was given but the suite does not use it.
	ErrNotInSuite = errors.New("not used by the suite")
	// ErrFormat: the question has characters outside the suite's format.
	ErrFormat = errors.New("wrong format")
	// ErrTooLong: the question is longer than the suite allows.
	ErrTooLong = errors.New("too long")
	// ErrLength: a fixed-size input (session, PIN hash) has the wrong
	// length, or a requested question length is out of range.
	ErrLength = errors.New("wrong length")
	// ErrRandom: the random source failed or is not random.
	ErrRandom = errors.New("random source failed")
)

// SuiteError reports an invalid OCRA suite string. It matches
// [ErrInvalidSuite].
type SuiteError struct {
	Suite  string // the suite string as given (shortened if very long)
	Part   string // the offending part, e.g. "HOTP-MD5-6" or "T60M"; "" for the whole string
	Reason string // what is wrong with it
}

// Error implements error.
func (e *SuiteError) Error() string {
	msg := "ocra: invalid suite " + strconv.Quote(e.Suite)
	if e.Part != "" {
		msg += ": " + strconv.Quote(e.Part)
	}
	return msg + ": " + e.Reason
}

// Unwrap returns [ErrInvalidSuite].
func (e *SuiteError) Unwrap() error { return ErrInvalidSuite }

// InputError reports an invalid input to a computation. It matches
// [ErrInvalidInput] and Err.
type InputError struct {
	Field  string // "key", "question", "counter", "pin", "pin hash", "session", "timestamp" or "length"
	Err    error  // one of ErrMissing, ErrNotInSuite, ErrFormat, ErrTooLong, ErrLength, ErrRandom
	Detail string // human-readable detail, may be empty
}

// Error implements error.
func (e *InputError) Error() string {
	msg := "ocra: invalid input: " + e.Field + ": " + e.Err.Error()
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg
}

// Unwrap returns [ErrInvalidInput] and Err.
func (e *InputError) Unwrap() []error { return []error{ErrInvalidInput, e.Err} }

func inputErr(field string, err error, detail string) error {
	return &InputError{Field: field, Err: err, Detail: detail}
}
