// Package demo is the payment app the enumgate demo protects: "Demo Bank",
// a Caddy HTTP handler module (http.handlers.enumgate_demo) so that the
// whole demo runs in one Caddy process.
//
// It behaves like an ordinary web app that knows nothing about enumgate:
// transfers, withdrawals and new correspondents complete as soon as they
// are posted. The one thing it adds is a report: when a request carries a
// valid Enumgate-Confirmed header (signed by the gateway, for the same
// user, fresh, and not seen before) the receipt says how the operation
// was confirmed. It never refuses an operation for lack of one.
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
// Endpoints (bank ones need X-Demo-User, else 401):
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
