// Package ocra implements OCRA, the OATH Challenge-Response Algorithm of
// RFC 6287 (https://www.rfc-editor.org/rfc/rfc6287): suite parsing and
// validation, the DataInput layout, response computation and constant-time
// verification.
//
// An OCRA suite such as "OCRA-1:HOTP-SHA256-8:QN08" fixes the HMAC hash, the
// number of response digits and which inputs take part in the computation
// (RFC 6287 §6):
//
//	OCRA-1:HOTP-{SHA1|SHA256|SHA512}-{0|4..10}:[C-]Q{A|N|H}{04..64}[-P{SHA1|SHA256|SHA512}][-Snnn][-T{1..59S|1..59M|1..48H}]
//
// The response is
//
//	Truncate(HMAC-H(key, suite || 0x00 || C || Q || P || S || T))
//
// with every field laid out exactly as in the RFC's reference implementation
// (Appendix A, OCRA.generateOCRA): C is 8 bytes big-endian, Q is 128 bytes
// (the question's hexadecimal form right-padded with '0'), P is the hash of
// the PIN, S the session information and T the number of time-steps, 8 bytes
// big-endian. Truncation 0 means no truncation: the response is then the whole
// HMAC, in lower-case hexadecimal.
//
// # Strictness
//
// Suite strings are case-sensitive and must be written out in full: the
// RFC's defaults (a bare "P" for PSHA1, "S" for S064, "T" for T1M) are not
// accepted, because the suite string itself is hashed into every response and
// the reference implementation does not expand them either. A time-step of
// zero hours ("T0H"), which the RFC's table allows but which cannot count
// anything, is rejected, as is a session length of zero.
//
// Inputs are checked against the suite: an input the suite needs but that is
// missing, and an input given that the suite does not use, are both errors.
// Because 0 is a legal counter and a legal timestamp, [Input] carries explicit
// HasCounter and HasTimestamp presence flags. Errors are [*SuiteError]
// (matching [ErrInvalidSuite]) and [*InputError] (matching [ErrInvalidInput]
// and one of the more specific sentinels such as [ErrMissing]).
//
// Test vectors: every response of RFC 6287 Appendix C is in package
// [github.com/enumgate/enumgate/challenge/ocra/ocratest].
package ocra
