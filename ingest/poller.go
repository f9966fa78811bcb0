package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"golang.org/x/time/rate"

	"github.com/mashangban/mashangban/model"
)

// Publisher hands posts on to the posts log. It returns nil only once every
// post is durable (the app adapts stream.Log: key = post ID, value = JSON).
type Publisher interface {
	PublishPosts(ctx context.Context, posts []model.Post) error
}

// CursorStore keeps each source's cursor together with the query it belongs
// to. Cursor returns an error matching ErrNoCursor when none was saved.
type CursorStore interface {
	Cursor(ctx context.Context, source string) (query, cursor string, err error)
	SaveCursor(ctx context.Context, source, query, cursor string) error
}

// DeadLetters records items that will never become posts.
type DeadLetters interface {
	AddDeadLetter(ctx context.Context, r Rejected) error
}

// Paced is implemented by sources that know their platform's poll quota.
// NewPoller uses it when PollerOptions.Rate is zero.
type Paced interface {
	Rate() rate.Limit
	Burst() int
}

// PollerOptions tune a Poller; zero values take the defaults shown.
type PollerOptions struct {
	// Interval between polls when the source has nothing more (1m), spread
	// by ±Jitter (0.1 = ±10%).
	Interval time.Duration
	Jitter   float64
	// MoreDelay is the pause before polling again when a batch said More (1s).
	MoreDelay time.Duration
	// Rate and Burst limit polls of this source (the platform's quota); a
	// zero Rate takes the source's own (Paced), else no limit beyond the
	// interval.
	Rate  rate.Limit
	Burst int
	// BackoffMin and BackoffMax bound the exponential backoff after
	// transient failures (1s, 5m).
	BackoffMin, BackoffMax time.Duration
	// RateLimitWait is the wait after a rate-limit signal that does not say
	// how long (60s).
	RateLimitWait time.Duration
	// AuthPause is how long a source that failed authentication or
	// permission is left alone before it is checked again (10m).
	AuthPause time.Duration
	// HandOffTimeout bounds saving the cursor after a publish went through,
	// which is finished even when the poller is being stopped (10s).
	HandOffTimeout time.Duration

	// Now, Sleep and Rand replace the clock, the wait and the jitter source
	// in tests. Sleep returns ctx.Err() when ctx ends first.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	Rand  func() float64
}

func (o *PollerOptions) defaults() {
	if o.Interval <= 0 {
		o.Interval = time.Minute
	}
	if o.Jitter < 0 || o.Jitter >= 1 {
		o.Jitter = 0
	} else if o.Jitter == 0 {
		o.Jitter = 0.1
	}
	if o.MoreDelay <= 0 {
		o.MoreDelay = time.Second
	}
	if o.Burst <= 0 {
		o.Burst = 1
	}
	if o.BackoffMin <= 0 {
		o.BackoffMin = time.Second
	}
	if o.BackoffMax <= 0 {
		o.BackoffMax = 5 * time.Minute
	}
	if o.BackoffMax < o.BackoffMin {
		o.BackoffMax = o.BackoffMin
	}
	if o.RateLimitWait <= 0 {
		o.RateLimitWait = time.Minute
	}
	if o.AuthPause <= 0 {
		o.AuthPause = 10 * time.Minute
	}
	if o.HandOffTimeout <= 0 {
		o.HandOffTimeout = 10 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Sleep == nil {
		o.Sleep = sleep
	}
	if o.Rand == nil {
		o.Rand = rand.Float64
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Error categories of the poller's own hand-off steps; source errors use Class.
const (
	categoryCursor     = "cursor"
	categoryPublish    = "publish"
	categoryDeadLetter = "dead_letter"
)

// Poller runs one source: poll, dead-letter the rejects, publish, save the
// cursor, wait, again.
//
// Ordering invariant: the cursor is saved only after PublishPosts returned
// nil for every post the batch carried, so a crash or stop at any point
// re-reads from the last saved cursor (posts may be published twice, never
// skipped; the posts log is keyed by post ID so repeats merge downstream).
type Poller struct {
	src     Source
	pub     Publisher
	cursors CursorStore
	dead    DeadLetters
	opts    PollerOptions
	log     *slog.Logger
	lim     *rate.Limiter
	m       pollerMetrics

	mu      sync.Mutex
	healthy bool
	reason  string
	status  PollerStatus // for Status, updated after each step

	// Loop state, owned by Run's goroutine.
	loaded    bool   // the saved cursor was read
	query     string // query the cursor belongs to
	cur       Cursor
	persisted bool   // (query, cur) is what the store holds
	failures  int    // consecutive failed steps
	streak    int    // consecutive failures of the current category
	lastClass string // category of the last failure, "" after a success
}

// NewPoller returns a poller for src. reg may be nil (no metrics exported);
// several pollers may share one registerer.
func NewPoller(src Source, pub Publisher, cursors CursorStore, dead DeadLetters, opts PollerOptions, logger *slog.Logger, reg prometheus.Registerer) (*Poller, error) {
	if src == nil || pub == nil || cursors == nil || dead == nil {
		return nil, errors.New("ingest: poller needs a source, publisher, cursor store and dead letters")
	}
	if ps, ok := src.(Paced); ok && opts.Rate == 0 {
		opts.Rate, opts.Burst = ps.Rate(), ps.Burst()
	}
	opts.defaults()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m := newPollerMetrics(reg, src.Name())
	lim := rate.NewLimiter(rate.Inf, opts.Burst)
	if opts.Rate > 0 {
		lim = rate.NewLimiter(opts.Rate, opts.Burst)
	}
	m.healthy.Set(1)
	return &Poller{
		src: src, pub: pub, cursors: cursors, dead: dead, opts: opts,
		log: logger.With("component", "ingest", "source", src.Name()),
		lim: lim, m: m, healthy: true,
	}, nil
}

// Name is the source's name.
func (p *Poller) Name() string { return p.src.Name() }

// Healthy reports whether the source is usable; when it is not (failed
// authentication or permission), reason says why. For /readyz.
func (p *Poller) Healthy() (bool, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.healthy, p.reason
}

// PollerStatus is what a poller tells /readyz: how many steps in a row have
// failed, when the last one succeeded and the class of the last failure
// (a fixed category, never an error text, which may quote a platform's
// answer).
type PollerStatus struct {
	Healthy        bool      `json:"healthy"`
	Failures       int       `json:"consecutive_failures"`
	LastSuccess    time.Time `json:"last_success,omitzero"`
	LastError      time.Time `json:"last_error,omitzero"`
	LastErrorClass string    `json:"last_error_class,omitempty"`
}

// Status reports the poller's recent outcome.
func (p *Poller) Status() PollerStatus {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.status
	st.Healthy = p.healthy
	return st
}

// Run polls until ctx is done, then returns nil. It never stops on a source
// or hand-off error: those are retried with the backoff of their class.
// When ctx ends, a publish that returned nil still gets its cursor saved;
// anything earlier is abandoned and read again on the next start.
func (p *Poller) Run(ctx context.Context) error {
	p.log.Info("poller started", "query", p.src.Query(), "interval", p.opts.Interval)
	defer p.log.Info("poller stopped")
	for ctx.Err() == nil {
		if d := p.reserve(); d > 0 {
			if p.opts.Sleep(ctx, d) != nil {
				break
			}
		}
		wait := p.step(ctx)
		if ctx.Err() != nil || p.opts.Sleep(ctx, wait) != nil {
			break
		}
	}
	return nil
}

// reserve takes a token from the source's rate limiter and returns how long
// to wait for it.
func (p *Poller) reserve() time.Duration {
	now := p.opts.Now()
	return p.lim.ReserveN(now, 1).DelayFrom(now)
}

// step runs one poll and hand-off and returns the wait before the next one.
func (p *Poller) step(ctx context.Context) time.Duration {
	if !p.loaded {
		q, c, err := p.cursors.Cursor(ctx, p.src.Name())
		switch {
		case errors.Is(err, ErrNoCursor):
			p.query, p.cur, p.persisted = p.src.Query(), "", false
		case err != nil:
			if ctx.Err() != nil {
				return 0
			}
			return p.fail(ctx, categoryCursor, fmt.Errorf("load cursor: %w", err))
		default:
			p.query, p.cur, p.persisted = q, Cursor(c), true
		}
		p.loaded = true
	}
	if q := p.src.Query(); q != p.query {
		p.log.Info("query changed, cursor reset", "old_query", p.query, "query", q, "old_cursor", string(p.cur))
		p.query, p.cur, p.persisted = q, "", false
	}

	b, err := p.src.Poll(ctx, p.cur)
	if err != nil {
		if ctx.Err() != nil {
			return 0
		}
		return p.fail(ctx, Class(err), err)
	}
	for _, r := range b.Rejected {
		if r.Source == "" {
			r.Source = p.src.Name()
		}
		if err := p.dead.AddDeadLetter(ctx, r); err != nil {
			if ctx.Err() != nil {
				return 0
			}
			return p.fail(ctx, categoryDeadLetter, fmt.Errorf("dead letter %q: %w", r.Key, err))
		}
		p.m.deadLetters.Inc()
		p.log.Warn("item rejected", "key", r.Key, "reason", r.Reason)
	}
	if len(b.Posts) > 0 {
		if err := p.pub.PublishPosts(ctx, b.Posts); err != nil {
			if ctx.Err() != nil {
				return 0
			}
			return p.fail(ctx, categoryPublish, fmt.Errorf("publish %d posts: %w", len(b.Posts), err))
		}
	}
	// The posts are durable: record the progress even if the poller is being
	// stopped, so they are not read again on the next start.
	prev, next := p.cur, b.Next
	if next == "" {
		next = p.cur // a source that does not move its cursor may leave Next empty
	}
	if next != p.cur || !p.persisted {
		hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.opts.HandOffTimeout)
		err := p.cursors.SaveCursor(hctx, p.src.Name(), p.query, string(next))
		cancel()
		if err != nil {
			return p.fail(ctx, categoryCursor, fmt.Errorf("save cursor: %w", err))
		}
		p.cur, p.persisted = next, true
	}
	moved := next != prev || len(b.Posts) > 0 || len(b.Rejected) > 0
	p.succeed(b)
	if b.More && moved {
		return p.opts.MoreDelay
	}
	return p.jittered(p.opts.Interval)
}

func (p *Poller) succeed(b Batch) {
	p.m.lastSuccess.Set(float64(p.opts.Now().UnixNano()) / 1e9)
	p.m.fetched.Add(float64(len(b.Posts)))
	p.m.duplicates.Add(float64(b.Duplicates))
	p.m.backoff.Set(0)
	if p.lastClass != "" {
		p.log.Info("source recovered", "after_failures", p.failures, "last_error_class", p.lastClass)
	}
	p.setHealthy(true, "")
	p.failures, p.streak, p.lastClass = 0, 0, ""
	p.mu.Lock()
	p.status.Failures, p.status.LastSuccess = 0, p.opts.Now()
	p.mu.Unlock()
	p.log.Debug("polled", "posts", len(b.Posts), "rejected", len(b.Rejected), "duplicates", b.Duplicates, "more", b.More)
}

// fail records a failed step and returns the wait its class asks for.
func (p *Poller) fail(ctx context.Context, category string, err error) time.Duration {
	p.failures++
	p.mu.Lock()
	p.status.Failures, p.status.LastErrorClass, p.status.LastError = p.failures, category, p.opts.Now()
	p.mu.Unlock()
	p.m.errors.WithLabelValues(category).Inc()
	changed := category != p.lastClass
	p.lastClass = category
	if changed {
		p.streak = 0
	}
	p.streak++

	var wait time.Duration
	var be *BackoffError
	hinted := errors.As(err, &be) && be.Wait > 0
	switch category {
	case "rate_limited":
		wait = p.opts.RateLimitWait
		if hinted {
			wait = be.Wait
		}
		p.log.Warn("rate limited, waiting", "wait", wait, "error", err)
	case "auth", "permission":
		wait = p.opts.AuthPause
		p.setHealthy(false, err.Error())
	default:
		wait = p.backoff(p.streak)
		if hinted {
			wait = be.Wait
		}
		if category == "malformed" && changed {
			p.keepMalformed(ctx, err)
		}
		if changed {
			p.log.Warn("poll failed, retrying", "error_class", category, "wait", wait, "error", err)
		} else {
			p.log.Debug("poll failed again, retrying", "error_class", category, "failures", p.failures, "wait", wait, "error", err)
		}
	}
	p.m.backoff.Set(wait.Seconds())
	return wait
}

// maxMalformedRaw bounds the body kept for a malformed response (an error
// page can be large; its start is what tells what went wrong).
const maxMalformedRaw = 64 << 10

// keepMalformed stores the body of a response that could not be read at all.
// Only the first of a run of such failures is kept: the same broken answer
// repeated on every retry would otherwise flood the dead letters.
func (p *Poller) keepMalformed(ctx context.Context, err error) {
	r := Rejected{Source: p.src.Name(), Reason: err.Error()}
	var me *MalformedError
	if errors.As(err, &me) {
		r.Raw = me.Raw
		if len(r.Raw) > maxMalformedRaw {
			r.Reason += fmt.Sprintf(" (body cut from %d bytes)", len(r.Raw))
			r.Raw = r.Raw[:maxMalformedRaw]
		}
	}
	if derr := p.dead.AddDeadLetter(ctx, r); derr != nil {
		p.log.Warn("could not keep malformed response", "error", derr)
		return
	}
	p.m.deadLetters.Inc()
}

func (p *Poller) setHealthy(ok bool, reason string) {
	p.mu.Lock()
	was := p.healthy
	p.healthy, p.reason = ok, reason
	p.mu.Unlock()
	if ok == was {
		return
	}
	if ok {
		p.m.healthy.Set(1)
		p.log.Info("source healthy again")
		return
	}
	p.m.healthy.Set(0)
	p.log.Error("source paused: authentication or permission failed; check its credentials",
		"recheck_in", p.opts.AuthPause, "error", reason)
}

// backoff is capped exponential backoff with equal jitter for the n-th
// consecutive failure: a wait in [d/2, d] where d = min(max, min·2^(n-1)).
func (p *Poller) backoff(n int) time.Duration {
	d := float64(p.opts.BackoffMin) * math.Pow(2, float64(max(n-1, 0)))
	d = min(d, float64(p.opts.BackoffMax))
	return time.Duration(d/2 + p.opts.Rand()*d/2)
}

func (p *Poller) jittered(d time.Duration) time.Duration {
	f := 1 + p.opts.Jitter*(2*p.opts.Rand()-1)
	return time.Duration(float64(d) * f)
}

type pollerMetrics struct {
	lastSuccess prometheus.Gauge
	fetched     prometheus.Counter
	duplicates  prometheus.Counter
	deadLetters prometheus.Counter
	backoff     prometheus.Gauge
	healthy     prometheus.Gauge
	errors      *prometheus.CounterVec
}

func newPollerMetrics(reg prometheus.Registerer, source string) pollerMetrics {
	// Each poller registers its own series, told apart by the constant
	// source label, so several pollers share a registerer.
	f := promauto.With(reg)
	src := prometheus.Labels{"source": source}
	opts := func(name, help string) prometheus.Opts {
		return prometheus.Opts{Namespace: "mashangban", Subsystem: "ingest", Name: name, Help: help, ConstLabels: src}
	}
	m := pollerMetrics{
		lastSuccess: f.NewGauge(prometheus.GaugeOpts(opts("last_success_timestamp_seconds",
			"Time of the source's last successful poll and hand-off."))),
		fetched: f.NewCounter(prometheus.CounterOpts(opts("posts_fetched_total",
			"Posts fetched and published, by source."))),
		duplicates: f.NewCounter(prometheus.CounterOpts(opts("duplicates_skipped_total",
			"Items a source dropped as already read (repeated or reordered pages)."))),
		deadLetters: f.NewCounter(prometheus.CounterOpts(opts("dead_letters_total",
			"Items and responses kept as dead letters, by source."))),
		backoff: f.NewGauge(prometheus.GaugeOpts(opts("backoff_seconds",
			"Current wait imposed by the last failure (0 when healthy)."))),
		healthy: f.NewGauge(prometheus.GaugeOpts(opts("source_healthy",
			"1 when the source is usable, 0 while paused after an authentication or permission failure."))),
		errors: f.NewCounterVec(prometheus.CounterOpts(opts("errors_total",
			"Failed polls by source and category (rate_limited, transient, auth, permission, malformed, gone, other, cursor, publish, dead_letter).")),
			[]string{"category"}),
	}
	return m
}
