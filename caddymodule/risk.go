package caddymodule

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/enumgate/enumgate/challenge"
	"github.com/enumgate/enumgate/challenge/trust"
	"github.com/enumgate/enumgate/policy"
)

// Risk rules force a confirmation where a rule would otherwise not ask
// (its when conditions, or a trusted payee): the first operation to a
// payee, a day's total above a limit, a client (network or browser) not
// seen lately. They are decided from the shared store, so every gateway
// decides alike, and the page says why it asks.

// forceRule is one parsed force_when condition.
type forceRule struct {
	kind  string        // "new_payee", "daily_total", "new_client"
	limit string        // daily_total: the amount the day's total may reach
	days  time.Duration // new_client: how long a client counts as known
}

// Defaults of force_when.
const defaultClientDays = 30

// parseForce parses one force_when condition.
func parseForce(s string) (forceRule, error) {
	f := strings.Fields(s)
	switch {
	case len(f) == 1 && f[0] == "new_payee":
		return forceRule{kind: "new_payee"}, nil
	case len(f) == 3 && f[0] == "daily_total" && f[1] == ">" && policy.ValidAmount(f[2]):
		return forceRule{kind: "daily_total", limit: f[2]}, nil
	case len(f) >= 1 && len(f) <= 2 && f[0] == "new_client":
		days := defaultClientDays
		if len(f) == 2 {
			n, err := strconv.Atoi(f[1])
			if err != nil || n < 1 || n > 365 {
				return forceRule{}, fmt.Errorf("force_when new_client %s: want a number of days from 1 to 365", f[1])
			}
			days = n
		}
		return forceRule{kind: "new_client", days: time.Duration(days) * 24 * time.Hour}, nil
	}
	return forceRule{}, fmt.Errorf("force_when %q: want new_payee, daily_total > AMOUNT or new_client [DAYS]", s)
}

// provisionRisk parses the rules' force_when and trusted_payees.
func (h *Handler) provisionRisk() error {
	h.force = map[int][]forceRule{}
	for i, r := range h.Protect {
		for _, s := range r.ForceWhen {
			f, err := parseForce(s)
			if err != nil {
				return fmt.Errorf("enumgate: rule %d (%s): %w", i, r.Operation, err)
			}
			h.force[i] = append(h.force[i], f)
		}
		if t := r.TrustedPayees; t != nil && t.UpTo != "" && !policy.ValidAmount(t.UpTo) {
			return fmt.Errorf("enumgate: rule %d (%s): trusted_payees up_to %q is not a plain decimal", i, r.Operation, t.UpTo)
		}
		if (len(r.ForceWhen) > 0 || r.TrustedPayees != nil) && h.trust == nil {
			return fmt.Errorf("enumgate: rule %d (%s): force_when and trusted_payees need a store that keeps them (memory or redis)", i, r.Operation)
		}
		if len(r.ForceWhen) > 0 && r.Payee == "" && r.Amount == "" {
			return fmt.Errorf("enumgate: rule %d (%s): force_when needs the rule to show a payee or an amount", i, r.Operation)
		}
	}
	return nil
}

// clientKeys are the keys the risk memory knows a client by: its network
// (/24 of IPv4, /48 of IPv6) and its browser (a hash of the User-Agent).
func clientKeys(c challenge.Client) []string {
	var keys []string
	if ip := net.ParseIP(c.IP); ip != nil {
		if v4 := ip.To4(); v4 != nil {
			keys = append(keys, "ip:"+(&net.IPNet{IP: v4.Mask(net.CIDRMask(24, 32)), Mask: net.CIDRMask(24, 32)}).String())
		} else {
			keys = append(keys, "ip:"+(&net.IPNet{IP: ip.Mask(net.CIDRMask(48, 128)), Mask: net.CIDRMask(48, 128)}).String())
		}
	}
	sum := sha256.Sum256([]byte(c.UserAgent))
	return append(keys, "ua:"+hex.EncodeToString(sum[:16]))
}

// forced returns why a risk rule of rule index i forces a confirmation of
// this operation ("" if none does). A store that cannot say forces it
// (fail closed).
func (h *Handler) forced(r *http.Request, i int, user string, d policy.Decision) (reason, detail string) {
	rules := h.force[i]
	if len(rules) == 0 {
		return "", ""
	}
	ctx := r.Context()
	now := time.Now()
	for _, f := range rules {
		switch f.kind {
		case "new_payee":
			if d.Payee == "" {
				continue
			}
			seen, err := h.trust.SeenPayee(ctx, user, d.Payee)
			if err != nil || !seen {
				return "new_payee", ""
			}
		case "daily_total":
			amount := d.Amount
			if amount == "" {
				continue
			}
			total, err := h.trust.DailyTotal(ctx, user, d.Currency, now)
			if err != nil {
				return "daily_total", f.limit
			}
			sum, err := trust.AddAmounts(total, amount)
			if err != nil || cmpOver(sum, f.limit) {
				return "daily_total", f.limit
			}
		case "new_client":
			for _, k := range clientKeys(clientOf(r)) {
				seen, err := h.trust.SeenClient(ctx, user, k, f.days, now)
				if err != nil || !seen {
					return "new_client", ""
				}
			}
		}
	}
	return "", ""
}

// reasonPolicyField is the row the page shows for a forced confirmation:
// why we ask, in the customer's language.
func (h *Handler) reasonPolicyField(r *http.Request, reason, detail, currency string) policy.Field {
	cat := h.pages.langs.negotiate(r.Header.Get("Accept-Language"))
	limit := ""
	if detail != "" {
		limit = policy.FormatAmount(detail, currency, cat.lang)
	}
	text := format(cat.text("risk."+reason), []any{"limit", limit}, nil)
	return policy.Field{Name: "enumgate.reason", Label: "why", Value: reason, Display: text}
}

// remember records an operation forwarded to the upstream in the risk
// memory: its payee, its amount in the day's total and, once confirmed,
// the client. It runs after the response, bounded, and never fails the
// request; a failure is logged (the next operation is then confirmed).
func (h *Handler) remember(r *http.Request, user, payee, amount, currency string, confirmed bool) {
	if h.trust == nil || len(h.force) == 0 {
		return
	}
	client := clientOf(r)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		now := time.Now()
		var errs []error
		if payee != "" {
			errs = append(errs, h.trust.MarkPayee(ctx, user, payee, now))
		}
		if amount != "" {
			_, err := h.trust.AddDaily(ctx, user, currency, amount, now)
			errs = append(errs, err)
		}
		if confirmed {
			for _, k := range clientKeys(client) {
				errs = append(errs, h.trust.MarkClient(ctx, user, k, now))
			}
		}
		for _, err := range errs {
			if err != nil {
				h.logger.Warn("risk memory not updated: the next operation is confirmed", zap.Error(err))
				return
			}
		}
	}()
}

// cmpOver reports whether amount a is above b (fail closed: unreadable
// amounts are above).
func cmpOver(a, b string) bool {
	c, err := trust.CompareAmounts(a, b)
	return err != nil || c > 0
}
