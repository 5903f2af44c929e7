package caddymodule_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddytest"
)

func TestCaddyfileAdaptsToJSON(t *testing.T) {
	caddytest.AssertAdapt(t, `{
	enumgate {
		secret {env.ENUMGATE_SECRET}
		store memory {
			max_challenges 1000
			max_bytes 1MiB
			max_pending_per_user 5
			max_bytes_per_user off
		}
		users file users.json
		sms webhook https://sms.example/send
		question_length 6
		code_length 8
		resend_cooldown 30s
		time_window 2
	}
}
pay.example.com {
	basic_auth {
		alice $2a$10$E2wh62HZ3ZZgnmYoRIyfHeU.9lx3jQ3rCTiP2FaE.NYiLSitn2zhe
	}
	reverse_proxy 127.0.0.1:9080
	enumgate {
		user {http.auth.user.id}
		session {http.request.cookie.sid}
		protect transfer POST /transfer /api/transfers* {
			when amount > 1000
			amount amount
			payee to
			methods enum sms
			ttl 2m
			max_attempts 5
		}
		protect new_correspondent /correspondents
		methods enum email
		ttl 5m
		max_attempts 3
		max_body 32KiB
		prefix /.confirm/
		login_url /login
	}
}
`, "caddyfile", `{
	"apps": {
		"enumgate": {
			"store": {
				"backend": "memory",
				"max_bytes": 1048576,
				"max_bytes_per_user": -1,
				"max_challenges": 1000,
				"max_pending_per_user": 5
			},
			"secret": "{env.ENUMGATE_SECRET}",
			"users": {
				"path": "users.json",
				"source": "file"
			},
			"sms": {
				"sender": "webhook",
				"url": "https://sms.example/send"
			},
			"question_length": 6,
			"code_length": 8,
			"resend_cooldown": 30000000000,
			"time_window": 2
		},
		"http": {
			"servers": {
				"srv0": {
					"listen": [
						":443"
					],
					"routes": [
						{
							"match": [
								{
									"host": [
										"pay.example.com"
									]
								}
							],
							"handle": [
								{
									"handler": "subroute",
									"routes": [
										{
											"handle": [
												{
													"handler": "authentication",
													"providers": {
														"http_basic": {
															"accounts": [
																{
																	"password": "$2a$10$E2wh62HZ3ZZgnmYoRIyfHeU.9lx3jQ3rCTiP2FaE.NYiLSitn2zhe",
																	"username": "alice"
																}
															],
															"hash": {
																"algorithm": "bcrypt"
															},
															"hash_cache": {}
														}
													}
												},
												{
													"handler": "enumgate",
													"login_url": "/login",
													"max_attempts": 3,
													"max_body": 32768,
													"methods": [
														"enum",
														"email"
													],
													"prefix": "/.confirm/",
													"protect": [
														{
															"amount": "amount",
															"http_methods": [
																"POST"
															],
															"max_attempts": 5,
															"methods": [
																"enum",
																"sms"
															],
															"operation": "transfer",
															"paths": [
																"/transfer",
																"/api/transfers*"
															],
															"payee": "to",
															"ttl": 120000000000,
															"when": [
																"amount \u003e 1000"
															]
														},
														{
															"operation": "new_correspondent",
															"paths": [
																"/correspondents"
															]
														}
													],
													"session": "{http.request.cookie.sid}",
													"ttl": 300000000000,
													"user": "{http.auth.user.id}"
												},
												{
													"handler": "reverse_proxy",
													"upstreams": [
														{
															"dial": "127.0.0.1:9080"
														}
													]
												}
											]
										}
									]
								}
							],
							"terminal": true
						}
					]
				}
			}
		}
	}
}`)
}

func TestBadCaddyfilesAreClearErrors(t *testing.T) {
	tests := []struct {
		name, handler, global, want string
	}{
		{"unknown subdirective", "colour red", "", "unknown enumgate subdirective \"colour\""},
		{"protect without path", "protect transfer POST", "", "at least one path"},
		{"protect with a lower-case word", "protect transfer post /transfer", "", "neither an upper-case HTTP method"},
		{"bad ttl", "ttl soon", "", "invalid duration"},
		{"max_attempts out of range", "max_attempts 99", "", "from 1 to 20"},
		{"bad when", "protect t POST /t {\n when amount >\n }", "", "when needs a field"},
		{"unknown protect option", "protect t POST /t {\n colour red\n }", "", "unknown protect option"},
		{"unknown global option", "", "colour red", "unknown enumgate global option"},
		{"unknown store", "", "store floppy", "floppy"},
		{"bad code length", "", "code_length 3", "from 4 to 10"},
		{"bad operation name", "protect Transfer! POST /t", "", "protect Transfer!"},
		{"bad condition", "protect t POST /t {\n when amount ~ 5\n }", "", "protect t"},
		{"bad path pattern", "protect t POST /t/%zz", "", "protect t"},
		{"bad confirmation method", "protect t POST /t {\n methods pigeon\n }", "", "pigeon"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cf := "{\n\tenumgate {\n\t\tsecret 0123456789abcdef\n\t\tusers file x.json\n\t\t" + tt.global + "\n\t}\n}\n:8080 {\n\tenumgate {\n\t\t" + tt.handler + "\n\t}\n}\n"
			_, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(cf), nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("adapt error = %v, want one containing %q", err, tt.want)
			}
			if !strings.Contains(err.Error(), "Caddyfile:") {
				t.Errorf("error %q names no line", err)
			}
		})
	}
}

// TestInvalidConfigFailsValidation runs what `caddy validate` runs.
func TestInvalidConfigFailsValidation(t *testing.T) {
	users := usersFile(t)
	tests := []struct {
		name, global, handler, want string
	}{
		{"short secret", "secret short\n users file " + users, "protect t POST /t", "at least 16 bytes"},
		{"no users", "secret 0123456789abcdef0123", "protect t POST /t", "users is required"},
		{"missing users file", "secret 0123456789abcdef0123\n users file /nonexistent.json", "protect t POST /t", "nonexistent.json"},
		{"bad path", "secret 0123456789abcdef0123\n users file " + users, "protect t POST /t /x\\y /ok\n protect u POST nope", "neither an upper-case"},
		{"unknown method", "secret 0123456789abcdef0123\n users file " + users, "methods enum pigeon", "pigeon"},
		{"bad prefix", "secret 0123456789abcdef0123\n users file " + users, "prefix /x", "prefix"},
		{"a literal user", "secret 0123456789abcdef0123\n users file " + users, "user alice\n protect t POST /t", `user "alice" has no placeholder`},
		{"sms offered without an sms sender", "secret 0123456789abcdef0123\n users file " + users, "methods enum sms\n protect t POST /t", "offers sms, but the global enumgate block has no sms sender"},
		{"a rule offering e-mail without a sender", "secret 0123456789abcdef0123\n users file " + users, "protect t POST /t {\n methods email\n }", "protect t methods offers email"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cf := "{\n\tadmin off\n\tenumgate {\n\t\t" + tt.global + "\n\t}\n}\n:0 {\n\tenumgate {\n\t\t" + tt.handler + "\n\t}\n}\n"
			raw, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(cf), nil)
			if err == nil {
				var cfg caddy.Config
				if err = json.Unmarshal(raw, &cfg); err != nil {
					t.Fatal(err)
				}
				err = caddy.Validate(&cfg)
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// TestInvalidJSONRulesFailValidation checks rules that come as JSON (no
// Caddyfile to catch them) are refused at provision time, naming the rule.
func TestInvalidJSONRulesFailValidation(t *testing.T) {
	users := usersFile(t)
	tests := []struct {
		name, rule, want string
	}{
		{"bad operation name", `{"operation": "Transfer!", "paths": ["/t"]}`, `rule 0 ("Transfer!")`},
		{"bad condition", `{"operation": "t", "paths": ["/t"], "when": ["amount ~ 5"]}`, "rule 0 (t)"},
		{"no path", `{"operation": "t"}`, "rule 0 (t)"},
		{"bad confirmation method", `{"operation": "t", "paths": ["/t"], "methods": ["pigeon"]}`, "rule 0 (t)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := `{"admin": {"disabled": true}, "apps": {
				"enumgate": {"secret": "0123456789abcdef0123", "users": {"source": "file", "path": "` + users + `"}},
				"http": {"servers": {"s": {"listen": ["127.0.0.1:0"], "routes": [{"handle": [
					{"handler": "enumgate", "protect": [` + tt.rule + `]}]}]}}}}}`
			var cfg caddy.Config
			if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
				t.Fatal(err)
			}
			err := caddy.Validate(&cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}
