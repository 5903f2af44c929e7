// Package payment implements the payment mode of E-num answers: an OCRA
// (RFC 6287) response that depends on the question, the payee and the
// amount, so that an answer made for one transfer confirms no other
// (dynamic linking, PSD2 RTS Art. 5). The gateway and every E-num app
// (cmd/enum, the phone apps) use this one derivation.
//
// # Derivation
//
// Given the device's suite and key, the question, the payee ("purse") and
// the amount:
//
//  1. purse' = [NormalizePurse](purse): remove ASCII spaces and '-',
//     upper-case ASCII letters; the rest must be 1 to 64 ASCII letters and
//     digits; a WebMoney purse (one letter then exactly 12 digits) loses its
//     letter, so Z123456789012, z1234-5678-9012 and 123456789012 are one
//     payee.
//  2. amount' = [NormalizeAmount](amount): digits with an optional decimal
//     separator '.' or ',' (at least one digit before it, at most 30 bytes);
//     leading zeros of the integer part and trailing zeros of the fraction
//     dropped, '.' as separator: 010,50 → 10.5, 10.00 → 10, 0.50 → 0.5.
//  3. suite' = [PaymentSuite](suite): the device suite with the session
//     component S064 inserted where RFC 6287 puts S, after Q and P and
//     before T: OCRA-1:HOTP-SHA256-8:QN08 → OCRA-1:HOTP-SHA256-8:QN08-S064,
//     OCRA-1:HOTP-SHA512-8:QN08-PSHA1-T1M → OCRA-1:HOTP-SHA512-8:QN08-PSHA1-S064-T1M.
//     Device suites with S or C have no payment mode.
//  4. S = [SessionInfo](purse', amount'): the 64 ASCII bytes of the
//     lower-case hexadecimal SHA-256 of "enum-payment-v1" 0x00 purse' 0x00
//     amount'.
//  5. answer = OCRA(suite', key, question, PIN, S, timestamp), the ordinary
//     RFC 6287 response: Truncate(HMAC(key, suite' || 0x00 || Q || P || S || T)).
//
// Any RFC 6287 implementation with session-information support computes
// step 5; steps 1 to 4 are string handling and one SHA-256. Because the
// suite string is itself hashed into the DataInput, a payment answer and the
// authorization answer to the same question are independent HMAC outputs:
// the authorization answer (what an app without payment mode computes) does
// not confirm a payment, except by the 10^-digits chance any guess has.
// testdata/vectors.json holds self-describing test vectors for other
// implementations; docs/payment-mode.md in the repository has the same
// derivation with a table of vectors.
//
// # Design notes
//
// The payment is bound through RFC 6287's own session-information input
// rather than by hashing it into the question, so the question the user
// types stays short and the computation is plain OCRA (enum ocra
// --suite SUITE' --session HEX reproduces it). S carries the hexadecimal
// text of the hash, 64 printable bytes, which is what RFC 6287's default
// session length S064 holds and what an implementation that takes S as text
// can pass on unchanged. The 0x00 separators keep purse and amount apart
// (neither can contain 0x00), and the "enum-payment-v1" prefix lets a later
// derivation change without colliding with this one.
//
// Normalization makes the answer independent of how a payee or an amount is
// written (the app's user types them by hand), never of what they are. Three
// choices differ from the first proposal, for that reason:
//
//   - The letter is dropped only from a WebMoney purse (one letter and
//     exactly 12 digits), not from any letter followed by digits: for other
//     payees, such as account numbers A12345 and B12345, the letter may be
//     the only difference. Dropping it follows E-num, which asks for the
//     purse number; it assumes, as WebMoney does, that the 12 digits name
//     the purse and the letter only its currency.
//   - '-' is removed like a space: it only groups digits (card numbers,
//     account numbers, questions typed as 4817-2203). Any other punctuation,
//     and every non-ASCII character (homoglyphs of Latin letters), is
//     refused, so the gateway cannot confirm a payee its normalization
//     would have to guess at.
//   - An amount needs a digit before the separator (",5" is refused), so
//     normalization never lengthens a value and every normalized value is
//     valid input again.
//
// The currency is not part of the derivation (E-num's URI has none): an
// answer binds the payee and the number. Where a payee can receive several
// currencies, the currency is confirmed only by what the page shows and by
// the challenge's binding to the stashed request, not by the answer; an
// operator who needs it in the answer can make it part of the payee string
// (for example "USD" + account) on both sides.
//
// # Use by the gateway
//
// The gateway computes the expected answers of every device of the user, and
// for time-based suites of every time step in its window. Everything that
// does not depend on the device or the step is done once:
//
//	p, err := payment.Prepare(payee, amount) // once per challenge; err: no payment mode for this payee/amount
//	for _, d := range devices {
//		ps, err := payment.PaymentSuite(d.Suite) // once per device (cacheable with the device)
//		if err != nil { continue }             // S or C suite: cannot answer payment questions
//		in, _ := p.Input(ocra.Input{Question: q, PINHash: d.PINHash})
//		for _, t := range steps {              // just one pass for suites without T
//			in.Timestamp, in.HasTimestamp = t, d.Suite.TimeStep() > 0
//			a, err := ps.Compute(d.Key, in)    // no allocation beyond the result
//			...
//		}
//	}
//
// [Payment.Answer] and [Answer] do the same for one answer. A payment
// challenge must accept only payment answers: accepting the authorization
// answer as well would undo the binding.
//
// # Question URIs
//
// The gateway shows the question with a QR code of an E-num question URI
// ([URI], [ParseURI]):
//
//	enum:login?challenge=48172203
//	enum:payment?challenge=48172203&purse=Z123456789012&amount=10.00
//	enum:l?c=48172203                              (short forms)
//	enum:p?c=48172203&p=Z123456789012&a=10.00
//
// The scheme and the mode are case-insensitive; parameter names are
// case-sensitive, full names with full modes and short with short; unknown,
// missing or repeated parameters are errors; at most 512 bytes. The
// challenge may carry spaces and dashes as typed ("4817 2203"), which are
// removed. Purse and amount are kept as written, for the app to show the
// user ("payment of 10.00 to Z123456789012"), and must be valid for
// NormalizePurse and NormalizeAmount.
//
// Errors of this package are [*Error] values matching [ErrInvalid]; errors
// about the OCRA input (a question of the wrong format, a missing PIN) are
// package ocra's.
package payment
