// Package senders holds enumgate's code senders: Caddy guest modules in the
// `enumgate.senders` namespace that deliver a challenge.Message (a one-time
// SMS code or an e-mailed E-num answer) to the user.
//
//   - enumgate.senders.webhook (Webhook) POSTs a templated JSON body to an
//     SMS provider's HTTP API.
//   - enumgate.senders.smtp (SMTP) sends e-mail through an SMTP server, over
//     TLS unless the server is on the loopback interface, reusing a few
//     kept connections: codes as plain text (challenge.Sender), other mail
//     such as notifications as text plus HTML (Mailer, SendMail).
//
// The enumgate app loads them from its `sms` and `email` options; in JSON the
// module is named by the "sender" key:
//
//	"sms":   {"sender": "webhook", "url": "https://sms.example/send", "headers": {"Authorization": "Bearer {env.SMS_TOKEN}"}}
//	"email": {"sender": "smtp", "address": "smtp.example:587", "from": "Bank <noreply@bank.example>"}
//
// In a Caddyfile the app's parser hands the rest of the line (and its block)
// to the module:
//
//	sms webhook https://sms.example/send {
//		header Authorization "Bearer {env.SMS_TOKEN}"
//		body_template `{"phone": {{json .To}}, "message": {{json .Text}}}`
//	}
//	email smtp smtp.example:587 {
//		from "Bank <noreply@bank.example>"
//		username u
//		password {env.SMTP_PASSWORD}
//	}
//
// Senders never retry on their own (every SMS is billed) and never log the
// code or the message text: logs carry the masked destination, the challenge
// id, the outcome and the duration.
package senders

import (
	"github.com/enumgate/enumgate/challenge"
)

// maskTo masks the message's destination for logs, by method.
func maskTo(m challenge.Message) string {
	if m.Method == challenge.MethodEmail {
		return challenge.MaskEmail(m.To)
	}
	return challenge.MaskPhone(m.To)
}
