package senders_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"strings"

	"github.com/caddyserver/caddy/v2"
	gosmtp "github.com/emersion/go-smtp"

	"github.com/enumgate/enumgate/caddymodule/senders"
)

// printSession prints the envelope and the MIME structure of what it
// receives.
type printSession struct{}

func (printSession) Reset()                                 {}
func (printSession) Logout() error                          { return nil }
func (printSession) Mail(string, *gosmtp.MailOptions) error { return nil }
func (printSession) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	fmt.Println("rcpt:", to)
	return nil
}
func (printSession) Data(r io.Reader) error {
	msg, err := mail.ReadMessage(r)
	if err != nil {
		return err
	}
	mediaType, params, _ := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	var parts []string
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for p, err := mr.NextPart(); err == nil; p, err = mr.NextPart() {
		parts = append(parts, p.Header.Get("Content-Type"))
	}
	fmt.Println("language:", msg.Header.Get("Content-Language"))
	fmt.Printf("%s: %s\n", mediaType, strings.Join(parts, ", "))
	return nil
}

// A notification goes out as text plus HTML through the SMTP sender,
// used as a Mailer. The server here is a real one on loopback.
func ExampleSMTP_SendMail() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	srv := gosmtp.NewServer(gosmtp.BackendFunc(func(*gosmtp.Conn) (gosmtp.Session, error) { return printSession{}, nil }))
	srv.Domain = "localhost"
	srv.ErrorLog = log.New(io.Discard, "", 0)
	go srv.Serve(ln) //nolint:errcheck
	defer srv.Close()

	s := &senders.SMTP{Address: ln.Addr().String(), From: "Bank <noreply@bank.example>", TLS: "none"}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	if err := s.Provision(ctx); err != nil {
		log.Fatal(err)
	}
	if err := s.Validate(); err != nil {
		log.Fatal(err)
	}
	defer s.Cleanup()

	var mailer senders.Mailer = s
	err = mailer.SendMail(context.Background(), senders.Mail{
		To:      []string{"Alice <alice@example.test>"},
		Subject: "Transfer confirmed",
		Text:    "Your transfer of 100.00 RUB to Z•••34 was confirmed.\n\nNot you? Call us.",
		Lang:    "en",
	})
	fmt.Println("error:", err)
	// Output:
	// rcpt: alice@example.test
	// language: en
	// multipart/alternative: text/plain; charset=utf-8, text/html; charset=utf-8
	// error: <nil>
}
