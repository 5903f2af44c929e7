package caddymodule

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyevents"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/enumgate/enumgate/challenge"
	"github.com/enumgate/enumgate/challenge/store"
	"github.com/enumgate/enumgate/challenge/store/observed"
)

// The collectors of every config. They are made once per process and
// registered in each config's registry (Caddy makes a new one per config
// load), so counters run on across reloads and a reload never registers
// a metric twice.
var (
	stepsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "enumgate", Name: "challenge_events_total",
		Help: "Steps of confirmations: issued, begun, sent failed, wrong answer, confirmed, delivered, not delivered, exhausted, locked, cancelled, limited.",
	}, []string{"event", "operation", "method"})
	refusalsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "enumgate", Name: "refused_requests_total",
		Help: "Protected requests refused before a challenge: ambiguous_operation, cross_site, too_many_pending, body_too_large, unauthenticated.",
	}, []string{"reason", "operation"})
	lockoutsTotal = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "enumgate", Name: "lockouts_total",
		Help: "Users locked after too many consecutive failed confirmations.",
	})
	codesSentTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "enumgate", Name: "codes_sent_total",
		Help: "Codes (SMS, e-mail) the channel's sender accepted.",
	}, []string{"channel"})
	codesFailedTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "enumgate", Name: "codes_failed_total",
		Help: "Codes (SMS, e-mail) the channel's sender failed to send (refunded; the code never works).",
	}, []string{"channel"})
	codeSendSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "enumgate", Name: "code_send_duration_seconds",
		Help:    "Time the channel's sender took to accept or fail a code.",
		Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"channel"})
	storeOpsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "enumgate", Name: "store_operations_total",
		Help: "Challenge store calls by operation and result: ok, refused (a decision: not found, locked, a limit), error (the store failed).",
	}, []string{"op", "result"})
	storeSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "enumgate", Name: "store_operation_duration_seconds",
		Help:    "Latency of challenge store calls by operation.",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .5, 2.5},
	}, []string{"op"})
)

// stepObserver turns each step of a confirmation into Prometheus metrics
// (in Caddy's registry, served at the admin endpoint's /metrics) and an
// event of Caddy's events app (so operators subscribe with Caddy's own
// config). Labels are bounded: event kinds, the operator's operation
// names, methods, channels, store operations and refusal reasons; never
// user ids, challenge ids, codes or amounts.
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
	o := &stepObserver{ctx: ctx, logger: logger, steps: stepsTotal, refusals: refusalsTotal}
	for _, c := range []prometheus.Collector{stepsTotal, refusalsTotal, lockoutsTotal, codesSentTotal, codesFailedTotal,
		codeSendSeconds, storeOpsTotal, storeSeconds} {
		if err := o.register(c, false); err != nil {
			return nil, err
		}
	}
	if ev, err := ctx.App("events"); err == nil {
		o.events, _ = ev.(*caddyevents.App)
	}
	return o, nil
}

// register adds c to the config's registry. A collector registered
// already is kept, or, if replace, replaced by c (a gauge bound to this
// provisioning's store).
func (o *stepObserver) register(c prometheus.Collector, replace bool) error {
	reg := o.ctx.GetMetricsRegistry()
	if reg == nil {
		return nil
	}
	err := reg.Register(c)
	var are prometheus.AlreadyRegisteredError
	switch {
	case err == nil:
		return nil
	case !errors.As(err, &are):
		return fmt.Errorf("enumgate: metrics: %w", err)
	case replace:
		reg.Unregister(are.ExistingCollector)
		return reg.Register(c)
	}
	return nil
}

// pender is a store that counts its own pending challenges exactly (the
// memory store).
type pender interface{ Pending(now time.Time) int }

// wrapStore returns st reporting every call to the store metrics, and
// exports enumgate_challenges_pending: the store's own exact count where
// it has one (scope "store": the memory store), else the count of
// challenges created through this gateway that it has not seen end and
// that have not expired (scope "gateway": Redis; see observed.Pending).
func (o *stepObserver) wrapStore(st store.Store) store.Store {
	opts := observed.Options{Observe: observeStoreCall}
	p, exact := observed.As[pender](st)
	opts.TrackPending = !exact
	w := observed.WrapWith(st, opts)
	scope, pending := "store", func() float64 { return float64(p.Pending(time.Now())) }
	if !exact {
		scope = "gateway"
		pending = func() float64 { n, _ := w.Pending(time.Now()); return float64(n) }
	}
	g := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "enumgate", Name: "challenges_pending",
		Help:        "Pending challenges (created, not confirmed, exhausted, cancelled or expired). scope=store: the whole store, exact (memory store). scope=gateway: those created through this gateway that it has not seen end (Redis).",
		ConstLabels: prometheus.Labels{"scope": scope},
	}, pending)
	if err := o.register(g, true); err != nil {
		o.logger.Warn("enumgate: metrics: pending challenges gauge not registered", zap.Error(err))
	}
	return w
}

// observeStoreCall feeds the store metrics; op is one of observed.Ops.
func observeStoreCall(op string, d time.Duration, err error) {
	s := storeSeriesOf(op)
	s.took.Observe(d.Seconds())
	switch observed.Result(err) {
	case observed.ResultOK:
		s.ok.Inc()
	case observed.ResultRefused:
		s.refused.Inc()
	default:
		s.failed.Inc()
	}
}

// storeSeries are one store operation's series, looked up once: a store
// call then costs one sync.Map read instead of two label lookups.
type storeSeries struct {
	took                prometheus.Observer
	ok, refused, failed prometheus.Counter
}

var storeSeriesByOp sync.Map // op (a few constants) -> *storeSeries

func storeSeriesOf(op string) *storeSeries {
	if s, ok := storeSeriesByOp.Load(op); ok {
		return s.(*storeSeries)
	}
	s := &storeSeries{took: storeSeconds.WithLabelValues(op),
		ok:      storeOpsTotal.WithLabelValues(op, observed.ResultOK),
		refused: storeOpsTotal.WithLabelValues(op, observed.ResultRefused),
		failed:  storeOpsTotal.WithLabelValues(op, observed.ResultError)}
	v, _ := storeSeriesByOp.LoadOrStore(op, s)
	return v.(*storeSeries)
}

// wrapSender returns s counting its codes as channel's (nil stays nil).
func (o *stepObserver) wrapSender(channel string, s challenge.Sender) challenge.Sender {
	if s == nil {
		return nil
	}
	codesSentTotal.WithLabelValues(channel)
	codesFailedTotal.WithLabelValues(channel)
	return countedSender{s: s, sent: codesSentTotal.WithLabelValues(channel),
		failed: codesFailedTotal.WithLabelValues(channel), took: codeSendSeconds.WithLabelValues(channel)}
}

// countedSender counts the codes a sender accepted and failed.
type countedSender struct {
	s            challenge.Sender
	sent, failed prometheus.Counter
	took         prometheus.Observer
}

// Send implements challenge.Sender.
func (c countedSender) Send(ctx context.Context, m challenge.Message) error {
	start := time.Now()
	err := c.s.Send(ctx, m)
	c.took.Observe(time.Since(start).Seconds())
	if err != nil {
		c.failed.Inc()
	} else {
		c.sent.Inc()
	}
	return err
}

// cacheStats is a user directory with an in-process cache (users redis).
type cacheStats interface{ Stats() (hits, misses uint64) }

// watchDirectory exports the user directory's cache hits and misses, if
// it has a cache.
func (o *stepObserver) watchDirectory(dir challenge.Directory) {
	cs, ok := dir.(cacheStats)
	if !ok {
		return
	}
	hits := prometheus.NewCounterFunc(prometheus.CounterOpts{
		Namespace: "enumgate", Name: "user_cache_hits_total",
		Help: "User directory lookups answered by the in-process cache (users redis).",
	}, func() float64 { h, _ := cs.Stats(); return float64(h) })
	misses := prometheus.NewCounterFunc(prometheus.CounterOpts{
		Namespace: "enumgate", Name: "user_cache_misses_total",
		Help: "User directory lookups that went to Redis (users redis).",
	}, func() float64 { _, m := cs.Stats(); return float64(m) })
	for _, c := range []prometheus.Collector{hits, misses} {
		if err := o.register(c, true); err != nil {
			o.logger.Warn("enumgate: metrics: user cache counters not registered", zap.Error(err))
		}
	}
}

// step records one engine event.
func (o *stepObserver) step(e challenge.Event) {
	if o == nil {
		return
	}
	o.steps.WithLabelValues(string(e.Kind), e.Operation, string(e.Method)).Inc()
	switch e.Kind {
	case challenge.EventLocked:
		lockoutsTotal.Inc()
	case challenge.EventRefused:
		o.refusals.WithLabelValues(e.Reason, e.Operation).Inc()
	}
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
