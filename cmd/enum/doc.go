// Command enum is the E-num app for the user's device: it stores device keys
// enrolled from the enumgate gateway and answers the gateway's questions with
// OCRA (RFC 6287). It can also be used as a raw OCRA calculator.
//
// Usage:
//
//	enum enroll URI                    store the device key of an enrolment URI
//	enum list                          list enrolled accounts: ISSUER ACCOUNT SUITE
//	enum answer [--account A] QUESTION print the answer number to a question
//	enum answer [--account A] --payee PURSE --amount AMOUNT QUESTION
//	                                   print the answer to a payment question
//	enum answer [--account A] QUESTION-URI
//	                                   answer enum:login?... or enum:payment?...
//	enum ocra --suite SUITE --key HEX --question Q [--counter N]
//	          [--pin PIN | --pin-hash HEX] [--session HEX] [--timestamp HEX] [--mutual]
//	          [--payee PURSE --amount AMOUNT]
//	                                   compute one OCRA response
//	enum pin set|change|remove|status [--wipe-after 3|5|10]
//	                                   protect the device keys with a PIN
//	enum unlink ACCOUNT                delete an account's key
//	enum web [--listen ADDR]           serve the E-num web app (package enumapp)
//
// Each subcommand prints its usage with -h. Exit status: 0 on success, 2 for
// bad input (unknown flag, bad value, missing input, unknown account, ...), 1
// for other failures (such as an unreadable devices file); errors are one line
// on standard error, starting with "enum: ".
//
// # Enrolment URI
//
// The gateway gives the user a URI (usually as a QR code) of the form
//
//	enumgate://enroll?secret=BASE32&suite=OCRA-1%3AHOTP-SHA256-8%3AQN08&issuer=ISSUER&account=ACCOUNT
//
// secret is the key in base32 without padding (case-insensitive, 16 to 256
// bytes); suite is optional and defaults to OCRA-1:HOTP-SHA256-8:QN08; issuer
// and account are required. Unknown or repeated parameters are errors. The
// format is defined, built and parsed by package
// github.com/enumgate/enumgate/challenge/ocra/enroll.
//
// # Storage
//
// Enrolled keys are kept in devices.json in the directory $ENUM_CONFIG_DIR
// or, if that is unset, in the "enum" directory of os.UserConfigDir (for
// example ~/.config/enum on Linux). The directory is created with mode 0700,
// the file has mode 0600 and is replaced atomically (temporary file, then
// rename). Enrolling the same issuer and account again replaces the key.
//
// # PIN
//
// enum pin set seals every key (AES-256-GCM) under a key derived from a
// PIN with argon2id; enum answer and enum enroll then need the PIN: from
// $ENUM_PIN, else typed at the terminal without echo, else one line of
// standard input (the new PIN of set and change: $ENUM_NEW_PIN or the
// same way). Every try is counted on disk before it is checked; a right PIN
// resets the count and the --wipe-after'th (3, 5 or 10; default 5) wrong
// PIN in a row wipes every account and the PIN. enum unlink deletes one
// account's key. enum web serves the browser version of this app.
//
// # answer
//
// The account is selected with --account, either ACCOUNT or ISSUER:ACCOUNT;
// it may be omitted when exactly one account is enrolled. Suites with a
// timestamp use the current time. Suites that need a counter, a PIN or session
// information cannot be answered from the stored key alone: use enum ocra.
// Spaces and dashes in the question ("4817 2203", "4817-2203") are ignored.
//
// A plain QUESTION gets the authorization answer. In payment mode the answer
// also depends on the payee and the amount (package
// github.com/enumgate/enumgate/challenge/ocra/payment), so it confirms that
// one transfer only; give them with --payee and --amount as shown next to
// the question, or give the question URI of the gateway's QR code instead of
// the question:
//
//	enum:login?challenge=Q                          enum:l?c=Q
//	enum:payment?challenge=Q&purse=P&amount=A       enum:p?c=Q&p=P&a=A
//
// The answer alone is printed on standard output; what is confirmed is
// printed on standard error first: "login", or "payment of A to P" with the
// amount and payee as written.
//
// # ocra
//
// --counter is decimal (0 to 2^64-1). --timestamp is the T value as
// hexadecimal time-steps, as in RFC 6287's examples (e.g. 132d0b6 for T1M);
// with a T suite it defaults to the current time. --key, --pin-hash and
// --session are hexadecimal. --mutual marks a question that is the
// concatenation of two questions (mutual challenge-response, RFC 6287 §7.3).
// Inputs the suite needs are required and inputs it does not use are errors.
// --payee and --amount compute the payment-mode response: the suite gets the
// session component S064 and the session information is the payment's.
package main
