package senders

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// sender is what both modules are, as the tests see them.
type sender interface {
	caddy.Module
	caddy.Provisioner
	caddy.Validator
	caddyfile.Unmarshaler
}

func TestUnmarshalCaddyfile(t *testing.T) {
	t.Setenv("SMTP_PASSWORD", "from-env")
	tests := []struct {
		name  string
		input string
		// want is the module after parsing; nil when parsing must fail.
		want sender
		// parseErr is part of the expected parse error.
		parseErr string
		// validateErr is part of the expected Provision/Validate error.
		validateErr string
	}{
		{
			name: "webhook full",
			input: `webhook https://sms.example/send {
				header Authorization "Bearer {env.SMS_TOKEN}"
				header X-Tenant bank
				body_template ` + "`" + `{"phone": {{json .To}}, "message": {{json .Text}}}` + "`" + `
				content_type application/json
				timeout 5s
			}`,
			want: &Webhook{
				URL:          "https://sms.example/send",
				Headers:      map[string]string{"Authorization": "Bearer {env.SMS_TOKEN}", "X-Tenant": "bank"},
				BodyTemplate: `{"phone": {{json .To}}, "message": {{json .Text}}}`,
				ContentType:  "application/json",
				Timeout:      caddy.Duration(5 * time.Second),
			},
		},
		{
			name:  "webhook url only",
			input: `webhook https://sms.example/send`,
			want:  &Webhook{URL: "https://sms.example/send"},
		},
		{
			name: "webhook form body",
			input: `webhook http://127.0.0.1:9000/sms {
				body_template "to={{urlquery .To}}&text={{urlquery .Text}}"
				content_type application/x-www-form-urlencoded
				timeout 1m
			}`,
			want: &Webhook{
				URL:          "http://127.0.0.1:9000/sms",
				BodyTemplate: "to={{urlquery .To}}&text={{urlquery .Text}}",
				ContentType:  "application/x-www-form-urlencoded",
				Timeout:      caddy.Duration(time.Minute),
			},
		},
		{name: "webhook missing url", input: `webhook`, parseErr: "missing URL"},
		{name: "webhook missing url with block", input: "webhook {\n timeout 5s\n}", parseErr: "missing URL"},
		{name: "webhook two urls", input: `webhook https://a.example https://b.example`, parseErr: "wrong argument count"},
		{name: "webhook bad timeout", input: "webhook https://sms.example {\n timeout soon\n}", parseErr: `invalid timeout "soon"`},
		{name: "webhook zero timeout", input: "webhook https://sms.example {\n timeout 0s\n}", parseErr: "must be positive"},
		{name: "webhook timeout without value", input: "webhook https://sms.example {\n timeout\n}", parseErr: "wrong argument count"},
		{name: "webhook timeout two values", input: "webhook https://sms.example {\n timeout 1s 2s\n}", parseErr: "wrong argument count"},
		{name: "webhook unknown subdirective", input: "webhook https://sms.example {\n retries 3\n}", parseErr: `unrecognized subdirective "retries"`},
		{name: "webhook bad template", input: "webhook https://sms.example {\n body_template \"{{json .To\"\n}", parseErr: "invalid body_template"},
		{name: "webhook header without value", input: "webhook https://sms.example {\n header Authorization\n}", parseErr: "wrong argument count"},
		{name: "webhook bad header name", input: "webhook https://sms.example {\n header \"X Bad\" v\n}", parseErr: "invalid header name"},
		{name: "webhook duplicate header", input: "webhook https://sms.example {\n header X-A 1\n header x-a 2\n}", parseErr: "duplicate header"},
		{name: "webhook bad content type", input: "webhook https://sms.example {\n content_type ;;\n}", parseErr: "invalid content_type"},
		{
			name:        "webhook template not json",
			input:       "webhook https://sms.example {\n body_template \"to={{.To}}\"\n}",
			want:        &Webhook{URL: "https://sms.example", BodyTemplate: "to={{.To}}"},
			validateErr: "valid JSON",
		},
		{
			name:        "webhook ftp url",
			input:       `webhook ftp://sms.example/send`,
			want:        &Webhook{URL: "ftp://sms.example/send"},
			validateErr: "http or https",
		},

		{
			name: "smtp full",
			input: `smtp smtp.example:587 {
				from "Bank <noreply@bank.example>"
				username u
				password {env.SMTP_PASSWORD}
				tls starttls
				subject "Your confirmation code"
				timeout 10s
			}`,
			want: &SMTP{
				Address:  "smtp.example:587",
				From:     "Bank <noreply@bank.example>",
				Username: "u",
				Password: "{env.SMTP_PASSWORD}",
				TLS:      "starttls",
				Subject:  "Your confirmation code",
				Timeout:  caddy.Duration(10 * time.Second),
			},
		},
		{
			name: "smtp implicit with test roots",
			input: `smtp 127.0.0.1:465 {
				from noreply@bank.example
				tls implicit
				tls_server_name smtp.test
				tls_ca_file smtp_test.go
			}`,
			want: &SMTP{
				Address:       "127.0.0.1:465",
				From:          "noreply@bank.example",
				TLS:           "implicit",
				TLSServerName: "smtp.test",
				TLSCAFile:     "smtp_test.go",
			},
			validateErr: "no PEM", // the file parses as Caddyfile but holds no certificate
		},
		{
			name:  "smtp none to localhost",
			input: "smtp localhost:25 {\n from noreply@bank.example\n tls none\n}",
			want:  &SMTP{Address: "localhost:25", From: "noreply@bank.example", TLS: "none"},
		},
		{
			name:        "smtp none to remote host",
			input:       "smtp smtp.example:25 {\n from noreply@bank.example\n tls none\n}",
			want:        &SMTP{Address: "smtp.example:25", From: "noreply@bank.example", TLS: "none"},
			validateErr: "only allowed for a loopback server",
		},
		{
			name:        "smtp missing from",
			input:       `smtp smtp.example:587`,
			want:        &SMTP{Address: "smtp.example:587"},
			validateErr: "from is required",
		},
		{name: "smtp missing address", input: "smtp {\n from a@b.example\n}", parseErr: "missing server address"},
		{name: "smtp two addresses", input: `smtp a.example:25 b.example:25`, parseErr: "wrong argument count"},
		{name: "smtp unknown tls", input: "smtp smtp.example:587 {\n tls ssl\n}", parseErr: `unknown tls mode "ssl"`},
		{name: "smtp bad timeout", input: "smtp smtp.example:587 {\n timeout 10\n}", parseErr: "invalid timeout"},
		{name: "smtp unknown subdirective", input: "smtp smtp.example:587 {\n insecure_skip_verify\n}", parseErr: `unrecognized subdirective "insecure_skip_verify"`},
		{name: "smtp from without value", input: "smtp smtp.example:587 {\n from\n}", parseErr: "wrong argument count"},
		{name: "smtp password two values", input: "smtp smtp.example:587 {\n password a b\n}", parseErr: "wrong argument count"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got sender = new(Webhook)
			if strings.HasPrefix(tt.input, "smtp") {
				got = new(SMTP)
			}
			err := got.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tt.input))
			if tt.parseErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.parseErr) {
					t.Fatalf("parse error = %v, want one containing %q", err, tt.parseErr)
				}
				if !strings.Contains(err.Error(), "Testfile:") {
					t.Errorf("parse error %q has no position", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("parsed\n%#v\nwant\n%#v", got, tt.want)
			}

			_, err = provision(t, got)
			switch {
			case tt.validateErr == "" && err != nil:
				t.Fatalf("provision: %v", err)
			case tt.validateErr != "" && (err == nil || !strings.Contains(err.Error(), tt.validateErr)):
				t.Fatalf("provision error = %v, want one containing %q", err, tt.validateErr)
			}
		})
	}
}

// TestUnmarshalModule parses senders the way the enumgate app's Caddyfile
// parser does: from inside its options block, via caddyfile.UnmarshalModule.
func TestUnmarshalModule(t *testing.T) {
	d := caddyfile.NewTestDispenser(`
	enumgate {
		sms webhook https://sms.example/send {
			header Authorization "Bearer {env.SMS_TOKEN}"
			timeout 5s
		}
		email smtp smtp.example:587 {
			from "Bank <noreply@bank.example>"
		}
		ttl 5m
	}`)
	got := map[string]caddyfile.Unmarshaler{}
	var rest []string
	d.Next() // enumgate
	for d.NextBlock(0) {
		switch opt := d.Val(); opt {
		case "sms", "email":
			if !d.NextArg() {
				t.Fatal("no sender name")
			}
			mod, err := caddyfile.UnmarshalModule(d, "enumgate.senders."+d.Val())
			if err != nil {
				t.Fatalf("%s: %v", opt, err)
			}
			got[opt] = mod
		default:
			rest = append(rest, opt)
			d.RemainingArgs()
		}
	}

	wantSMS := &Webhook{
		URL:     "https://sms.example/send",
		Headers: map[string]string{"Authorization": "Bearer {env.SMS_TOKEN}"},
		Timeout: caddy.Duration(5 * time.Second),
	}
	if !reflect.DeepEqual(got["sms"], wantSMS) {
		t.Errorf("sms = %#v", got["sms"])
	}
	wantEmail := &SMTP{Address: "smtp.example:587", From: "Bank <noreply@bank.example>"}
	if !reflect.DeepEqual(got["email"], wantEmail) {
		t.Errorf("email = %#v", got["email"])
	}
	if !reflect.DeepEqual(rest, []string{"ttl"}) {
		t.Errorf("parent parser saw %q after the senders, want [ttl]", rest)
	}
}

func TestModuleInfo(t *testing.T) {
	for id, want := range map[string]caddy.Module{
		"enumgate.senders.webhook": new(Webhook),
		"enumgate.senders.smtp":    new(SMTP),
	} {
		info, err := caddy.GetModule(id)
		if err != nil {
			t.Fatalf("%s not registered: %v", id, err)
		}
		if got := info.New(); reflect.TypeOf(got) != reflect.TypeOf(want) {
			t.Errorf("%s New() = %T, want %T", id, got, want)
		}
	}
}
