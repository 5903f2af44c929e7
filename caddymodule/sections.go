package caddymodule

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/enumgate/enumgate/challenge"
	"github.com/enumgate/enumgate/challenge/trust"
	"github.com/enumgate/enumgate/policy"
)

// Protected sections (E-num's "login with additional confirmation"): the
// first request in a section is held and confirmed like an operation and
// replayed; the confirmation opens a grant bound to the user and the
// session binding, kept in the shared store, so the section stays open
// for a while on every gateway. It ends at its time, when the session
// binding changes, or when the customer ends it in the account.

// Bounds of a section's grant.
const (
	DefaultGrant = 10 * time.Minute
	minGrant     = time.Minute
	maxGrant     = 24 * time.Hour
)

// sectionOpPrefix starts the operation name of a section's confirmation.
const sectionOpPrefix = "section_"

// Events of sections and of the policy's decisions beyond a challenge.
const (
	EventSectionGranted   challenge.EventKind = "section_granted"
	EventSectionEnded     challenge.EventKind = "section_ended"
	EventTrustedForwarded challenge.EventKind = "trusted_forwarded"
	EventPolicyForwarded  challenge.EventKind = "policy_forwarded"
	EventForced           challenge.EventKind = "confirmation_forced"
)

// provisionSections compiles the sections.
func (h *Handler) provisionSections() error {
	if len(h.Sections) == 0 {
		h.sections = nil
		return nil
	}
	rules := make([]policy.Rule, 0, len(h.Sections))
	seen := map[string]bool{}
	for i := range h.Sections {
		s := &h.Sections[i]
		if s.Grant == 0 {
			s.Grant = caddy.Duration(DefaultGrant)
		}
		if g := time.Duration(s.Grant); g < minGrant || g > maxGrant {
			return fmt.Errorf("enumgate: section %s: grant %s out of range %s..%s", s.Name, g, minGrant, maxGrant)
		}
		if seen[s.Name] {
			return fmt.Errorf("enumgate: section %s is defined twice", s.Name)
		}
		seen[s.Name] = true
		rules = append(rules, policy.Rule{Operation: s.Name, HTTPMethods: s.HTTPMethods, Paths: s.Paths, Confirm: s.Methods,
			TTL: time.Duration(s.TTL), MaxAttempts: s.MaxAttempts})
	}
	p, err := policy.CompileWith(rules, policy.Options{Methods: methodNames()})
	if err != nil {
		return fmt.Errorf("enumgate: protect_section: %w", err)
	}
	if h.trust == nil {
		return errors.New("enumgate: protect_section needs a store that keeps grants (memory or redis)")
	}
	h.sections = p
	return nil
}

// grantSession is the keyed hash of a session binding a grant is bound to.
func (h *Handler) grantSession(session string) []byte {
	m := hmac.New(sha256.New, h.grantKey)
	m.Write([]byte(session))
	return m.Sum(nil)
}

// section serves a request in section s: forwarded at once while the
// user's grant for this session is open, else held for confirmation.
func (h *Handler) section(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler, s *policy.Compiled) error {
	who := h.subject(r)
	if who.User == "" {
		h.warnNoUser(sectionOpPrefix+s.Rule.Operation, r.URL.Path)
		if h.LoginURL != "" && wantsHTML(r) {
			http.Redirect(w, r, h.LoginURL, http.StatusSeeOther)
			return nil
		}
		return h.fail(w, r, "unauthenticated")
	}
	_, open, err := h.trust.Granted(r.Context(), who.User, h.grantSession(who.Session), s.Rule.Operation, time.Now())
	if err != nil {
		h.logger.Warn("section grants unavailable: the section stays closed", zap.String("section", s.Rule.Operation), zap.Error(err))
		return h.fail(w, r, "unavailable")
	}
	if open {
		return next.ServeHTTP(w, r)
	}
	if h.crossSite(r) {
		h.refused(r, "cross_site", sectionOpPrefix+s.Rule.Operation, who.User, "")
		return h.fail(w, r, "cross_site")
	}
	body, err := h.readBody(w, r)
	if err != nil {
		return h.bodyError(w, r, err)
	}
	methods, ttl, attempts := h.ruleSettings(s)
	c, err := h.engine.Issue(r.Context(), challenge.Request{
		Subject: who, Operation: sectionOpPrefix + s.Rule.Operation, Methods: methods, TTL: ttl, MaxAttempts: attempts,
		ReturnTo: sameOriginReferer(r), Reason: "protected section",
		Stash: stashOf(r, body),
	})
	if err != nil {
		return h.engineError(w, r, err, "")
	}
	return h.challengeIssued(w, r, who, c)
}

// sectionOf returns the section a confirmed operation opens, if it is one.
func (h *Handler) sectionOf(operation string) (*Section, bool) {
	name, ok := strings.CutPrefix(operation, sectionOpPrefix)
	if !ok {
		return nil, false
	}
	for i := range h.Sections {
		if h.Sections[i].Name == name {
			return &h.Sections[i], true
		}
	}
	return nil, false
}

// openSection opens the grant a confirmed section challenge earned, for
// the session that answered it (the challenge is bound to it). A grant
// that cannot be stored is logged: the customer confirms again next time.
func (h *Handler) openSection(r *http.Request, conf *challenge.Confirmation, s *Section) {
	who := h.subject(r)
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return
	}
	now := time.Now()
	g := trust.Grant{ID: base64.RawURLEncoding.EncodeToString(b[:]), User: conf.User, Session: h.grantSession(who.Session),
		Section: s.Name, Created: now, Until: now.Add(time.Duration(s.Grant)), ChallengeID: conf.Challenge.ID}
	if err := h.trust.Grant(r.Context(), g); err != nil {
		h.logger.Error("section grant not stored: the customer confirms again next time", zap.String("section", s.Name), zap.Error(err))
		return
	}
	c := clientOf(r)
	h.observe(challenge.Event{Kind: EventSectionGranted, Time: now, ChallengeID: conf.Challenge.ID, User: conf.User,
		Operation: sectionOpPrefix + s.Name, Method: conf.Method, Detail: "until " + g.Until.UTC().Format(time.RFC3339),
		ClientIP: c.IP, UserAgent: c.UserAgent})
}
