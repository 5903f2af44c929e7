package demo

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"
)

// Bounds on phone messages.
const (
	maxInboxBody  = 16 << 10 // bytes of a POST /phone/inbox body
	maxAddressLen = 254      // bytes of to
	maxTextLen    = 4096     // bytes of text
	maxFieldLen   = 256      // bytes of every other field
	phoneShown    = 5        // messages shown per address on /phone
)

// inboxMessage is what the gateway's webhook sender posts.
type inboxMessage struct {
	Method      string `json:"method"`
	To          string `json:"to"`
	Text        string `json:"text"`
	Code        string `json:"code"`
	User        string `json:"user"`
	Operation   string `json:"operation"`
	ChallengeID string `json:"challenge_id"`
}

// phoneMessage is one element of GET /phone/messages.
type phoneMessage struct {
	To   string `json:"to"`
	Text string `json:"text"`
	Code string `json:"code"`
	At   string `json:"at"`
}

// decodeInbox decodes and checks a POST /phone/inbox body: a JSON object
// with to and text required, every field a bounded string. Unknown
// members are ignored.
func decodeInbox(body []byte) (message, error) {
	var in inboxMessage
	if err := json.Unmarshal(body, &in); err != nil {
		return message{}, errors.New("body must be a JSON object of strings")
	}
	m := message{
		Method: strings.TrimSpace(in.Method), To: strings.TrimSpace(in.To), Text: in.Text,
		Code: strings.TrimSpace(in.Code), User: in.User, Operation: in.Operation, ChallengeID: in.ChallengeID,
	}
	switch {
	case m.To == "":
		return message{}, errors.New("to is required")
	case strings.TrimSpace(m.Text) == "":
		return message{}, errors.New("text is required")
	case len(m.To) > maxAddressLen || !printable(m.To):
		return message{}, errors.New("to must be a phone number or e-mail address")
	case len(m.Text) > maxTextLen:
		return message{}, errors.New("text is too long")
	}
	for _, f := range []string{m.Method, m.Code, m.User, m.Operation, m.ChallengeID} {
		if len(f) > maxFieldLen || !printable(f) {
			return message{}, errors.New("method, code, user, operation and challenge_id must be short printable strings")
		}
	}
	return m, nil
}

// inbox serves POST /phone/inbox: it stores a message and answers 204.
func (a *App) inbox(w http.ResponseWriter, r *http.Request) error {
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); !isJSONType(ct) {
		return writeJSON(w, http.StatusUnsupportedMediaType,
			apiError{Error: "unsupported_media_type", Message: "send application/json"})
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxInboxBody))
	if err != nil {
		return writeJSON(w, http.StatusBadRequest, apiError{Error: "bad_request", Message: "body must be at most 16 KiB"})
	}
	m, err := decodeInbox(body)
	if err != nil {
		return writeJSON(w, http.StatusBadRequest, apiError{Error: "bad_request", Message: err.Error()})
	}
	m.At = a.now()
	a.state.addMessage(m)
	a.logger.Debug("phone message received",
		zap.String("method", m.Method), zap.String("user", m.User), zap.String("operation", m.Operation))
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// queryAddress returns the to parameter, turning a leading space back
// into the "+" an unescaped query string decodes into one.
func queryAddress(r *http.Request) string {
	raw := r.URL.Query().Get("to")
	to := strings.TrimSpace(raw)
	if to != "" && strings.HasPrefix(raw, " ") && !strings.HasPrefix(to, "+") {
		to = "+" + to
	}
	return to
}

// messages serves GET /phone/messages?to=ADDRESS: JSON, newest first.
func (a *App) messages(w http.ResponseWriter, r *http.Request) error {
	to := queryAddress(r)
	if to == "" {
		return writeJSON(w, http.StatusBadRequest, apiError{Error: "bad_request", Message: "to is required, e.g. ?to=%2B79000000001"})
	}
	msgs := a.state.messages(to)
	out := make([]phoneMessage, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, phoneMessage{To: m.To, Text: m.Text, Code: m.Code, At: m.At.UTC().Format(time.RFC3339)})
	}
	return writeJSON(w, http.StatusOK, out)
}

// phoneBox is one address's section of the phone page.
type phoneBox struct {
	Label    string
	Address  string
	Messages []message
}

// phonePage serves GET /phone: recent messages for every demo address,
// then any others, refreshed every 3 seconds.
func (a *App) phonePage(w http.ResponseWriter, r *http.Request) error {
	var boxes []phoneBox
	known := map[string]bool{}
	for _, u := range Users {
		for _, addr := range []struct{ label, to string }{{"SMS", u.Phone}, {"E-mail", u.Email}} {
			known[strings.ToLower(addr.to)] = true
			msgs := a.state.messages(addr.to)
			boxes = append(boxes, phoneBox{Label: u.ID + " · " + addr.label, Address: addr.to, Messages: msgs[:min(len(msgs), phoneShown)]})
		}
	}
	var others []message
	for _, m := range a.state.messages("") {
		if !known[strings.ToLower(m.To)] && len(others) < phoneShown {
			others = append(others, m)
		}
	}
	if len(others) > 0 {
		boxes = append(boxes, phoneBox{Label: "Other addresses", Messages: others})
	}
	return a.render(w, http.StatusOK, "phone", page{Title: "Messages", Phone: true, Refresh: 3, Data: boxes})
}
