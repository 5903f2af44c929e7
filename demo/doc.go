// Package demo is the payment app the enumgate demo protects: "Demo Bank",
// a Caddy HTTP handler module (http.handlers.enumgate_demo) so that the
// whole demo runs in one Caddy process.
//
// It behaves like an ordinary web app with one addition, the one every
// upstream of enumgate should make: transfers, withdrawals and new
// correspondents are performed only with a valid Enumgate-Confirmed
// header, checked with package confirm: signed by the gateway, fresh, for
// the same user, not seen before, and bound to this very request (method,
// host, path, query and body). Without one the app answers 403
// {"error":"confirmation_required"}; with one that does not fit the
// request, 403 {"error":"not_confirmed"} saying why; either way nothing is
// performed. The receipt says how the operation was confirmed
// (confirmed_by: "enum", "sms" or "email").
//
// The gateway delivers a confirmed request again, with the same
// Enumgate-Confirmed challenge id and `Idempotency-Key: <challenge id>`,
// when the app failed before answering. The app deduplicates: a protected
// operation whose Idempotency-Key it has seen for that user (for an hour;
// at most 100 keys per user and 10000 in all, the oldest forgotten first)
// is not performed again, and gets the first execution's response (same
// status, headers and body, plus `Idempotent-Replayed: true`) if its
// header is a valid confirmation of the same request by the same
// challenge, however old. This check comes before the replay check. A key
// used for another confirmed request gets 422
// {"error":"idempotency_key_reused"}; a malformed key 400; a repeat that
// arrives while the first is still being performed waits for it (up to
// 30s, then 409 {"error":"in_progress"}). A reused header without a key
// is still refused as a replay.
//
// The app reads the logged-in user from the X-Demo-User request header,
// which the gateway sets from basic_auth, and trusts it: listen where only
// the gateway and the local browser reach it (the demo binds 127.0.0.1).
// It also plays the user's phone and mailbox: the gateway's webhook
// sender posts SMS and e-mail messages to /phone/inbox (JSON, answered
// with 204), and /phone shows them.
//
// A demo Caddyfile, gateway and app in one process:
//
//	:8080 {
//		basic_auth {
//			alice <bcrypt hash of "demo">
//			bob   <bcrypt hash of "demo">
//		}
//		enumgate { ... }
//		reverse_proxy 127.0.0.1:9080 {
//			header_up X-Demo-User {http.auth.user.id}
//		}
//	}
//
//	http://:9080 {
//		bind 127.0.0.1
//		enumgate_demo {
//			secret {env.ENUMGATE_SECRET}
//		}
//	}
//
// A secret of the form {env.NAME:DEFAULT} takes DEFAULT when NAME is unset,
// logging a WARN "using the public demo secret: set NAME"; Caddyfile.example
// uses that for its public demo secret.
//
// Endpoints (bank ones need X-Demo-User, else 401; the three POSTs also
// need Enumgate-Confirmed, else 403):
//
//	GET  /                   home page with the three forms
//	POST /transfer           to, amount
//	POST /withdraw           card, amount
//	POST /correspondents     wallet, name
//	GET  /receipt/{id}       the receipt of one of the user's operations
//	GET  /operations         the user's operations (HTML, or JSON)
//	GET  /static/demo.css    the stylesheet
//	POST /phone/inbox        a message from the gateway's webhook sender
//	GET  /phone/messages     ?to=ADDRESS: messages as JSON, newest first
//	GET  /phone              the demo phone: recent messages, refreshed
//
// State (operations, seen challenge ids, phone messages) lives in memory,
// bounded, in a caddy.UsagePool: it survives a config reload (the new
// handler takes the pool entry before the old one lets go) and is dropped
// when no loaded config uses the handler any more, or when the process
// exits.
package demo
