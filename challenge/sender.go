package challenge

import (
	"context"
	"strings"
	"unicode/utf8"
)

// Message is one SMS or e-mail the engine asks a Sender to deliver.
type Message struct {
	// Method is MethodSMS or MethodEmail.
	Method Method
	// To is the destination: an E.164 phone number or an e-mail address.
	To string
	// Code is the one-time code or E-num answer the user must type.
	Code string
	// Text is a ready-made message: what is confirmed and the code, in
	// Lang when the gateway has messages in it, else in English. Senders
	// may use their own template with the other fields instead.
	Text string
	// User is the user's id.
	User string
	// Operation is the operation being confirmed.
	Operation string
	// ChallengeID is the challenge the code belongs to.
	ChallengeID string
	// Amount is the operation's amount as the upstream receives it (a
	// plain decimal), if the operation shows one.
	Amount string
	// Currency is the amount's currency code, if known.
	Currency string
	// Payee is the payee as the page shows it (masked where the rule
	// masks it), if the operation shows one.
	Payee string
	// Lang is the language tag of the page that asked for the message
	// ("" if unknown); Text is in that language.
	Lang string
	// Subject is a subject line for e-mail in Lang ("" if the caller
	// gave none; senders then use their own).
	Subject string
}

// Sender delivers codes. Send must not retry on its own in a way that
// could deliver (and bill) a message twice; the engine reports a failure
// to the user, who may resend after the cooldown or choose another method.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// MaskPhone hides all but the country prefix and the last two digits of a
// phone number: "+79000000012" becomes "+7•••••12".
func MaskPhone(p string) string {
	if len(p) < 6 {
		return "•••••"
	}
	return p[:2] + "•••••" + p[len(p)-2:]
}

// MaskEmail hides all but the first character of the local part:
// "alice@x.org" becomes "a•••@x.org".
func MaskEmail(e string) string {
	at := strings.LastIndexByte(e, '@')
	if at <= 0 {
		return "•••"
	}
	_, n := utf8.DecodeRuneInString(e)
	return e[:n] + "•••" + e[at:]
}
