package caddymodule

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/enumgate/enumgate/challenge"
)

// notice is what a form POST of the challenge page found, carried to the
// GET it redirects to (POST/redirect/GET): a code, and for waits the time
// until when.
type notice struct {
	code  string    // "wrong_answer", "sent", "resend_too_soon", "sms_limit", "answer_digits", "method_required", "locked"
	until time.Time // sms_limit, locked: when the wait ends
}

// noticeCodes are the notices a page may show.
var noticeCodes = map[string]bool{
	"wrong_answer": true, "sent": true, "resend_too_soon": true, "sms_limit": true,
	"answer_digits": true, "method_required": true, "locked": true, "email_limit": true,
}

// noticeFor turns an engine error of a form POST into the notice the page
// shows after the redirect. found is false for errors that end the page
// (unknown challenge, service down): those are answered at once.
func noticeFor(err error, now time.Time) (n notice, found bool) {
	var (
		we *challenge.WrongAnswerError
		ce *challenge.CooldownError
		se *challenge.SMSLimitError
		le *challenge.LockedError
		ae *challenge.AlreadyConfirmedError
	)
	switch {
	case errors.As(err, &ae):
		return notice{}, true // the page shows the confirmation's state
	case errors.As(err, &le):
		return notice{code: "locked", until: le.Until}, true
	case errors.As(err, &se):
		if se.Method == challenge.MethodEmail {
			return notice{code: "email_limit", until: now.Add(se.Wait)}, true
		}
		return notice{code: "sms_limit", until: now.Add(se.Wait)}, true
	case errors.As(err, &we):
		return notice{code: "wrong_answer"}, true
	case errors.As(err, &ce):
		return notice{code: "resend_too_soon"}, true
	case errors.Is(err, challenge.ErrMalformed):
		return notice{code: "answer_digits"}, true
	case errors.Is(err, challenge.ErrMethodRequired):
		return notice{code: "method_required"}, true
	}
	return notice{}, false
}

// noticeTag binds a notice to the challenge and the session, so a link
// made by someone else cannot put words on the customer's page.
func (h *Handler) noticeTag(id string, who challenge.Subject, code, arg string) string {
	return h.engine.FormToken("notice\x00"+id+"\x00"+code+"\x00"+arg, who)[:22]
}

// noticeQuery is the query that carries n to the page ("" for none).
func (h *Handler) noticeQuery(n notice, id string, who challenge.Subject) string {
	if n.code == "" {
		return ""
	}
	arg := "0"
	if !n.until.IsZero() {
		arg = strconv.FormatInt(n.until.Unix(), 10)
	}
	return "?n=" + n.code + "." + arg + "." + h.noticeTag(id, who, n.code, arg)
}

// readNotice reads and checks the page's notice, if any.
func (h *Handler) readNotice(r *http.Request, id string, who challenge.Subject) (notice, bool) {
	raw := r.URL.Query().Get("n")
	if raw == "" || len(raw) > 64 {
		return notice{}, false
	}
	parts := strings.Split(raw, ".")
	if len(parts) != 3 || !noticeCodes[parts[0]] {
		return notice{}, false
	}
	if subtle.ConstantTimeCompare([]byte(parts[2]), []byte(h.noticeTag(id, who, parts[0], parts[1]))) != 1 {
		return notice{}, false
	}
	sec, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || sec < 0 {
		return notice{}, false
	}
	n := notice{code: parts[0]}
	if sec > 0 {
		n.until = time.Unix(sec, 0)
	}
	return n, true
}

// setNotice shows n on the challenge page (call after setChallenge) and
// returns the page's status.
func (d *pageData) setNotice(n notice) int {
	switch n.code {
	case "sent":
		if d.Sends() {
			d.Notice = d.firstText("notice.sent."+string(d.C.Method), "notice.sent.code")
		}
		return http.StatusOK
	case "wrong_answer":
		d.setError("wrong_answer", "", d.C.AttemptsLeft)
		return http.StatusUnprocessableEntity
	case "resend_too_soon":
		d.setError("resend_too_soon", "", 0)
		return http.StatusTooManyRequests
	case "sms_limit":
		d.setError("sms_limit", "", 0)
		if s := secondsUntil(n.until); s > 0 {
			d.ErrorHTML = d.TH("error.sms_limit_wait", "time", countdown(s))
		}
		return http.StatusTooManyRequests
	case "email_limit":
		d.setError("email_limit", "", 0)
		if s := secondsUntil(n.until); s > 0 {
			d.ErrorHTML = d.TH("error.email_limit_wait", "time", countdown(s))
		}
		return http.StatusTooManyRequests
	case "answer_digits":
		d.setError("bad_request", "error.answer_digits", 0)
		return http.StatusBadRequest
	case "method_required":
		d.setError("method_required", "", 0)
		return http.StatusConflict
	}
	return http.StatusOK
}
