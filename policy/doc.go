// Package policy decides which HTTP requests enumgate protects and how.
//
// An operator writes rules (in the Caddyfile:
// `protect transfer POST /transfer /api/transfers*`); [Compile] validates
// them once into a [Policy]; [Policy.Match] picks the rule for a request's
// method and path; [Compiled.EvaluateRequest] (or [Compiled.Evaluate])
// decides from the already read, bounded body whether the request is
// protected and extracts the amount and payee shown on the confirmation page.
//
// The package is pure: it imports no Caddy and does no I/O, and a compiled
// [Policy] is immutable and safe for concurrent use.
//
// # Security stance
//
// This package is a security boundary. Wherever a request can be read in
// more than one way by the upstream application, it chooses the reading that
// protects more:
//
//   - Paths are compared case-insensitively after cleaning, with path
//     parameters, backslashes, one extra round of percent-decoding, NUL
//     truncation, Windows trailing dots, format extensions and PHP front
//     controllers considered as alternative readings (see [Policy.Match] for
//     the exact rules). A rule matches if any reading matches.
//   - Methods are compared case-insensitively, and a rule that lists GET also
//     matches HEAD, because most frameworks run GET handlers for HEAD.
//   - A condition whose field is missing, duplicated, present in a look-alike
//     spelling, of the wrong type, or whose body cannot be parsed, fails
//     closed: the request is protected (see [Compiled.EvaluateRequest]).
//
// Over-protection costs the user one confirmation; under-protection lets
// money move unconfirmed. The package errs towards the former.
package policy
