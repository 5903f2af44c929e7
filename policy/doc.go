// Package policy decides which HTTP requests enumgate protects and how.
//
// An operator writes rules (in the Caddyfile:
// `protect transfer POST /transfer /api/transfers*`); [Compile] validates
// them once into a [Policy]; [Policy.Match] picks the rule for a request's
// method and path; [Compiled.EvaluateRequest] (or [Compiled.Evaluate])
// decides from the already read, bounded body whether the request is
// protected and reads the amount, payee, currency and other fields shown
// on the confirmation page; [FormatAmount] formats the amount for it.
// [Policy.PathMatches], [OverrideMethods] and [Policy.MatchAny] catch
// requests that ask, by a method override, to be treated as a protected
// method.
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
//   - Shown is executed: a field the confirmation page shows is read once,
//     strictly, as any upstream would read it, and shown exactly as the
//     upstream receives it. A protected request whose shown fields cannot
//     be read so (duplicate or look-alike keys, a field both in query and
//     body, a charset other than UTF-8, a value that is not printable or
//     not a plain decimal amount, ...) is refused with an [AmbiguousError],
//     never confirmed with a shorter summary.
//   - A method override (X-HTTP-Method-Override and its kin, or a _method
//     field) naming a protected method protects the request.
//
// Over-protection costs the user one confirmation; under-protection lets
// money move unconfirmed. The package errs towards the former.
package policy
