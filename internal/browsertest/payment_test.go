package browsertest

import (
	"bytes"
	"context"
	"image/png"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"

	"github.com/enumgate/enumgate/challenge/ocra/payment"
)

// scanQR photographs the page's QR code and decodes it, as a phone's
// camera would.
func (b *tab) scanQR() string {
	b.t.Helper()
	var shot []byte
	b.call(func(ctx context.Context) error {
		var err error
		shot, err = chromedp.Run(ctx, chromedp.ScreenshotScale(chromedp.CSS(".eg-qr"), 2))
		return err
	})
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		b.t.Fatalf("the QR code's screenshot: %v", err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		b.t.Fatal(err)
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		b.screenshot("qr-unreadable")
		b.t.Fatalf("the page's QR code does not decode: %v", err)
	}
	return res.GetText()
}

// TestPaymentModeTransferFromTheQRCode: a transfer in payment mode. The
// page shows the amount and payee the app asks for and a QR code of the
// enum:payment URI; the app's answer to that URI confirms, the answer to
// the bare question does not.
func TestPaymentModeTransferFromTheQRCode(t *testing.T) {
	t.Parallel()
	b := newTab(t, tabOptions{})
	b.start(transfer)
	if got := b.text(".eg-amount"); got != "RUB 10.00" {
		t.Fatalf("amount shown as %q, want RUB 10.00", got)
	}
	if s := b.choose("enum"); s != 200 {
		t.Fatalf("choosing E-num = %d", s)
	}
	q := b.question()
	if mode := b.attr("#question", "data-mode"); mode != "payment" {
		t.Fatalf("mode = %q, want payment", mode)
	}
	if a, p := b.text(".eg-pay-amount"), b.text(".eg-pay-payee"); a != "10" || p != "123456789012" {
		t.Fatalf("the app is to be given amount %q, payee %q", a, p)
	}
	uri := b.scanQR()
	if uri != b.attr("#question", "data-uri") || !strings.HasPrefix(uri, "enum:payment?") {
		t.Fatalf("QR code = %q, page URI = %q", uri, b.attr("#question", "data-uri"))
	}
	u, err := payment.ParseURI(uri)
	if err != nil || u.Challenge != q || u.Purse != "Z123456789012" || u.Amount != "10.00" {
		t.Fatalf("QR URI %q = %+v, %v", uri, u, err)
	}
	b.screenshot("enum-payment")

	// The authorization answer to the bare question is wrong by design.
	if s := b.answer(plainAnswer(t, q)); s != 422 || b.attr("[data-error]", "data-error") != "wrong_answer" {
		t.Fatalf("the bare question's answer = %d, want 422 wrong_answer", s)
	}
	b.confirmed(b.answer(uriAnswer(t, uri)), "E-num")
}

// TestBackAfterSuccess: Back from the receipt shows the operation as
// confirmed, in green, with when; never "not confirmed, start again".
func TestBackAfterSuccess(t *testing.T) {
	t.Parallel()
	b := newTab(t, tabOptions{})
	b.start(transfer)
	b.choose("enum")
	b.confirmed(b.answer(enumAnswer(t, b.question())), "E-num")
	if s := b.load(chromedp.NavigateBack()); s != 200 {
		t.Fatalf("back after success = %d (page %s)", s, b.path())
	}
	if !strings.HasPrefix(b.path(), "/.enumgate/challenge/") || b.attr("[data-error]", "data-error") != "confirmed" ||
		!strings.Contains(b.text("h1"), "The operation is confirmed") || !strings.Contains(b.text("#eg-error"), "Confirmed at ") {
		b.screenshot("back-after-success")
		t.Fatalf("back after success: %s %q %q", b.path(), b.text("h1"), b.text("#eg-error"))
	}
	if b.exists("#answer") || b.exists(".eg-methods") {
		t.Fatal("the confirmed page still asks for an answer")
	}
}
