package caddymodule

import (
	"errors"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyevents"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/enumgate/enumgate/challenge"
)

// stepObserver turns each step of a confirmation into Prometheus counters (in
// Caddy's registry, served at the admin endpoint's /metrics) and an event
// of Caddy's events app (so operators subscribe with Caddy's own config).
// Labels are bounded: event kinds, the operator's operation names,
// methods and refusal reasons; never user ids, codes or amounts.
type stepObserver struct {
	events   *caddyevents.App
	ctx      caddy.Context
	steps    *prometheus.CounterVec
	refusals *prometheus.CounterVec
	logger   *zap.Logger
}

// newStepObserver registers the metrics in ctx's registry and finds the
// events app.
func newStepObserver(ctx caddy.Context, logger *zap.Logger) (*stepObserver, error) {
	o := &stepObserver{ctx: ctx, logger: logger}
	o.steps = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "enumgate", Name: "challenge_events_total",
		Help: "Steps of confirmations: issued, begun, sent failed, wrong answer, confirmed, delivered, not delivered, exhausted, locked, cancelled, limited.",
	}, []string{"event", "operation", "method"})
	o.refusals = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "enumgate", Name: "refused_requests_total",
		Help: "Protected requests refused before a challenge: ambiguous_operation, cross_site, too_many_pending, body_too_large, unauthenticated.",
	}, []string{"reason", "operation"})
	if reg := ctx.GetMetricsRegistry(); reg != nil {
		for _, c := range []prometheus.Collector{o.steps, o.refusals} {
			if err := reg.Register(c); err != nil {
				var are prometheus.AlreadyRegisteredError
				if !errors.As(err, &are) {
					return nil, err
				}
			}
		}
	}
	if ev, err := ctx.App("events"); err == nil {
		o.events, _ = ev.(*caddyevents.App)
	}
	return o, nil
}

// step records one engine event.
func (o *stepObserver) step(e challenge.Event) {
	if o == nil {
		return
	}
	o.steps.WithLabelValues(string(e.Kind), e.Operation, string(e.Method)).Inc()
	if o.events != nil {
		data := map[string]any{"challenge_id": e.ChallengeID, "user": e.User, "operation": e.Operation, "method": string(e.Method),
			"time": e.Time, "amount": e.Amount, "currency": e.Currency, "payee": e.Payee, "reason": e.Reason,
			"client_ip": e.ClientIP, "user_agent": e.UserAgent}
		if e.Kind == challenge.EventWrongAnswer {
			data["attempts_left"] = e.AttemptsLeft
		}
		o.events.Emit(o.ctx, "enumgate_"+string(e.Kind), data)
	}
}

// refusal records a protected request refused before a challenge.
func (o *stepObserver) refusal(reason, operation, user string) {
	if o == nil {
		return
	}
	o.refusals.WithLabelValues(reason, operation).Inc()
	if o.events != nil {
		o.events.Emit(o.ctx, "enumgate_refused", map[string]any{"reason": reason, "operation": operation, "user": user})
	}
}
