package confirm_test

import (
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/enumgate/enumgate/confirm"
)

// An upstream payment app refuses a transfer unless the gateway confirmed
// this very request for the logged-in user.
func ExampleVerifier() {
	key := []byte("the confirm key `enumgate confirm-key` printed")
	v := &confirm.Verifier{
		Key:  key,
		User: func(r *http.Request) string { return r.Header.Get("X-User") }, // the logged-in user
	}

	transfer := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := v.Verify(r)
		if err != nil {
			http.Error(w, "not confirmed: "+fmt.Sprint(err), http.StatusForbidden)
			return
		}
		body, _ := io.ReadAll(r.Body) // the confirmed bytes, still there
		fmt.Fprintf(w, "%s by %s: %s", c.Method, c.User, body)
	})

	// What the gateway forwards after alice confirmed by E-num.
	body := "to=Z123456789012&amount=1.00"
	header := confirm.Claims{
		ChallengeID: "n3Vd9cJ0bS1kq2W8xYz4Ab", Operation: "transfer", Method: "enum", User: "alice",
		Time: time.Now(), RequestMethod: "POST", Host: "bank.example", Path: "/transfer",
		BodySHA256: sha256.Sum256([]byte(body)),
	}.Sign(key)

	send := func(body string) {
		r := httptest.NewRequest("POST", "http://bank.example/transfer", strings.NewReader(body))
		r.Header.Set("X-User", "alice")
		r.Header.Set(confirm.Header, header)
		w := httptest.NewRecorder()
		transfer.ServeHTTP(w, r)
		fmt.Print(w.Code, " ", w.Body.String())
		if !strings.HasSuffix(w.Body.String(), "\n") {
			fmt.Println()
		}
	}
	send(body)                     // the confirmed request
	send("to=Z666&amount=9999.00") // the header on another body
	send(body)                     // the same request again
	// Output:
	// 200 enum by alice: to=Z123456789012&amount=1.00
	// 403 not confirmed: Enumgate-Confirmed header is for another request: body differs
	// 403 not confirmed: Enumgate-Confirmed header already used: challenge n3Vd9cJ0bS1kq2W8xYz4Ab
}
