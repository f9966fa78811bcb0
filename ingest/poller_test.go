package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"golang.org/x/time/rate"

	"github.com/mashangban/mashangban/model"
)

// scriptSource answers polls from a script; once the script is used up it
// returns an empty batch that keeps the cursor.
type scriptSource struct {
	name, query string
	script      []scriptStep
	calls       []Cursor
}

type scriptStep struct {
	batch Batch
	err   error
}

func (s *scriptSource) Name() string  { return s.name }
func (s *scriptSource) Query() string { return s.query }
func (s *scriptSource) Poll(ctx context.Context, cur Cursor) (Batch, error) {
	s.calls = append(s.calls, cur)
	if len(s.script) == 0 {
		return Batch{Next: cur}, nil
	}
	st := s.script[0]
	s.script = s.script[1:]
	return st.batch, st.err
}

// pagedSource serves a fixed list of posts, size at a time; the cursor is the
// index of the next post.
type pagedSource struct {
	posts []model.Post
	size  int
}

func (s *pagedSource) Name() string  { return "paged" }
func (s *pagedSource) Query() string { return "all" }
func (s *pagedSource) Poll(ctx context.Context, cur Cursor) (Batch, error) {
	i := 0
	if cur != "" {
		var err error
		if i, err = strconv.Atoi(string(cur)); err != nil {
			return Batch{}, err
		}
	}
	j := min(i+s.size, len(s.posts))
	return Batch{Posts: s.posts[i:j], Next: Cursor(strconv.Itoa(j)), More: j < len(s.posts)}, nil
}

type memCursors struct {
	mu      sync.Mutex
	m       map[string][2]string
	loadErr []error // returned by successive Cursor calls
	saves   int
}

func (c *memCursors) Cursor(ctx context.Context, source string) (string, string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.loadErr) > 0 {
		err := c.loadErr[0]
		c.loadErr = c.loadErr[1:]
		return "", "", err
	}
	v, ok := c.m[source]
	if !ok {
		return "", "", fmt.Errorf("source %q: %w", source, ErrNoCursor)
	}
	return v[0], v[1], nil
}

func (c *memCursors) SaveCursor(ctx context.Context, source, query, cursor string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string][2]string{}
	}
	c.m[source] = [2]string{query, cursor}
	c.saves++
	return nil
}

func (c *memCursors) get(source string) [2]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[source]
}

// memPublisher keeps what was durably published; hook runs before each
// publish and may fail it.
type memPublisher struct {
	durable []model.Post
	calls   int
	hook    func(call int, posts []model.Post) error
}

func (p *memPublisher) PublishPosts(ctx context.Context, posts []model.Post) error {
	p.calls++
	if p.hook != nil {
		if err := p.hook(p.calls, posts); err != nil {
			return err
		}
	}
	p.durable = append(p.durable, posts...)
	return nil
}

type memDead struct{ items []Rejected }

func (d *memDead) AddDeadLetter(ctx context.Context, r Rejected) error {
	d.items = append(d.items, r)
	return nil
}

// fakeClock advances on Sleep and stops the poller after stopAfter sleeps.
type fakeClock struct {
	now       time.Time
	sleeps    []time.Duration
	stopAfter int
	cancel    context.CancelFunc
}

func (c *fakeClock) Now() time.Time { return c.now }
func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	if len(c.sleeps) >= c.stopAfter {
		c.cancel()
		return context.Canceled
	}
	return nil
}

type harness struct {
	p       *Poller
	clock   *fakeClock
	pub     *memPublisher
	cursors *memCursors
	dead    *memDead
	logs    *bytes.Buffer
	reg     *prometheus.Registry
	ctx     context.Context
}

// newHarness builds a poller over src whose Run stops after stopAfter sleeps.
// Rand is fixed at 0.5, so the interval is exact and a backoff step of d
// waits 0.75·d.
func newHarness(t *testing.T, src Source, stopAfter int, opts PollerOptions) *harness {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	h := &harness{
		clock:   &fakeClock{now: time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC), stopAfter: stopAfter, cancel: cancel},
		pub:     &memPublisher{},
		cursors: &memCursors{},
		dead:    &memDead{},
		logs:    &bytes.Buffer{},
		reg:     prometheus.NewRegistry(),
		ctx:     ctx,
	}
	opts.Now, opts.Sleep, opts.Rand = h.clock.Now, h.clock.Sleep, func() float64 { return 0.5 }
	logger := slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	p, err := NewPoller(src, h.pub, h.cursors, h.dead, opts, logger, h.reg)
	if err != nil {
		t.Fatal(err)
	}
	h.p = p
	return h
}

func (h *harness) run(t *testing.T) {
	t.Helper()
	if err := h.p.Run(h.ctx); err != nil {
		t.Fatalf("Run = %v", err)
	}
}

func (h *harness) logCount(msg string) int {
	return strings.Count(h.logs.String(), "msg=\""+msg+"\"")
}

func posts(ids ...string) []model.Post {
	out := make([]model.Post, len(ids))
	for i, id := range ids {
		out[i] = model.Post{ID: "replay:" + id, NativeID: id, Channel: model.ChannelReplay, Text: "p" + id}
	}
	return out
}

func postIDs(ps []model.Post) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.NativeID
	}
	return strings.Join(s, ",")
}

func TestPollerHandsOff(t *testing.T) {
	src := &scriptSource{name: "s", query: "q", script: []scriptStep{
		{batch: Batch{Posts: posts("1", "2"), Next: "c2", Duplicates: 3,
			Rejected: []Rejected{{Key: "x", Reason: "bad", Raw: []byte("{")}}}},
	}}
	h := newHarness(t, src, 1, PollerOptions{Interval: 2 * time.Minute})
	h.run(t)
	if postIDs(h.pub.durable) != "1,2" {
		t.Fatalf("published %s", postIDs(h.pub.durable))
	}
	if got := h.cursors.get("s"); got != [2]string{"q", "c2"} {
		t.Fatalf("saved cursor %v", got)
	}
	if len(h.dead.items) != 1 || h.dead.items[0].Source != "s" || string(h.dead.items[0].Raw) != "{" {
		t.Fatalf("dead letters %+v", h.dead.items)
	}
	if len(h.clock.sleeps) != 1 || h.clock.sleeps[0] != 2*time.Minute {
		t.Fatalf("sleeps %v, want the interval", h.clock.sleeps)
	}
	m := h.p.m
	if metricValue(m.fetched) != 2 || metricValue(m.duplicates) != 3 || metricValue(m.deadLetters) != 1 {
		t.Errorf("metrics fetched=%v dups=%v dead=%v", metricValue(m.fetched), metricValue(m.duplicates), metricValue(m.deadLetters))
	}
	if got, want := metricValue(m.lastSuccess), float64(time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC).Unix()); got != want {
		t.Errorf("last success %v, want %v", got, want)
	}
}

func TestPollerErrorClasses(t *testing.T) {
	auth := fmt.Errorf("token: %w", ErrAuth)
	perm := fmt.Errorf("search/topics: %w", ErrPermission)
	transient := fmt.Errorf("502: %w", ErrTransient)
	ok := scriptStep{batch: Batch{Posts: posts("1"), Next: "c1"}}
	opts := PollerOptions{Interval: time.Minute, BackoffMin: time.Second, BackoffMax: 5 * time.Second,
		RateLimitWait: 70 * time.Second, AuthPause: 10 * time.Minute}
	tests := []struct {
		name        string
		script      []scriptStep
		wantSleeps  []time.Duration
		wantHealthy bool
		wantLogs    map[string]int
		wantErrors  map[string]float64
		wantDead    int
		wantBackoff float64 // backoff gauge at the end
	}{
		{
			name:        "rate limited with the platform's wait",
			script:      []scriptStep{{err: &BackoffError{Wait: 90 * time.Second, Cause: ErrRateLimited}}, ok},
			wantSleeps:  []time.Duration{90 * time.Second, time.Minute},
			wantHealthy: true,
			wantLogs:    map[string]int{"rate limited, waiting": 1, "source recovered": 1},
			wantErrors:  map[string]float64{"rate_limited": 1},
		},
		{
			name:        "rate limited without a wait",
			script:      []scriptStep{{err: fmt.Errorf("45011: %w", ErrRateLimited)}, {err: fmt.Errorf("45011: %w", ErrRateLimited)}},
			wantSleeps:  []time.Duration{70 * time.Second, 70 * time.Second},
			wantHealthy: true,
			wantLogs:    map[string]int{"rate limited, waiting": 2},
			wantErrors:  map[string]float64{"rate_limited": 2},
			wantBackoff: 70,
		},
		{
			name: "transient backs off exponentially up to the cap",
			script: []scriptStep{{err: transient}, {err: transient}, {err: transient}, {err: transient},
				{err: transient}, ok},
			// 0.75 × 1s, 2s, 4s, then the 5s cap
			wantSleeps:  []time.Duration{750 * time.Millisecond, 1500 * time.Millisecond, 3 * time.Second, 3750 * time.Millisecond, 3750 * time.Millisecond, time.Minute},
			wantHealthy: true,
			wantLogs:    map[string]int{"poll failed, retrying": 1, "source recovered": 1},
			wantErrors:  map[string]float64{"transient": 5},
		},
		{
			name: "backoff restarts when the failure changes",
			script: []scriptStep{{err: fmt.Errorf("45011: %w", ErrRateLimited)}, {err: fmt.Errorf("45011: %w", ErrRateLimited)},
				{err: transient}, {err: transient}},
			wantSleeps:  []time.Duration{70 * time.Second, 70 * time.Second, 750 * time.Millisecond, 1500 * time.Millisecond},
			wantHealthy: true,
			wantErrors:  map[string]float64{"rate_limited": 2, "transient": 2},
			wantBackoff: 1.5,
		},
		{
			name:        "transient with a retry-after",
			script:      []scriptStep{{err: &BackoffError{Wait: 12 * time.Second, Cause: ErrTransient}}},
			wantSleeps:  []time.Duration{12 * time.Second},
			wantHealthy: true,
			wantErrors:  map[string]float64{"transient": 1},
			wantBackoff: 12,
		},
		{
			name:        "auth pauses and logs once per state change",
			script:      []scriptStep{{err: auth}, {err: auth}, {err: auth}, ok},
			wantSleeps:  []time.Duration{10 * time.Minute, 10 * time.Minute, 10 * time.Minute, time.Minute},
			wantHealthy: true,
			wantLogs:    map[string]int{"source paused: authentication or permission failed; check its credentials": 1, "source healthy again": 1, "poll failed, retrying": 0},
			wantErrors:  map[string]float64{"auth": 3},
		},
		{
			name:        "auth still failing stays unhealthy",
			script:      []scriptStep{{err: auth}, {err: auth}},
			wantSleeps:  []time.Duration{10 * time.Minute, 10 * time.Minute},
			wantHealthy: false,
			wantLogs:    map[string]int{"source paused: authentication or permission failed; check its credentials": 1, "source healthy again": 0},
			wantErrors:  map[string]float64{"auth": 2},
			wantBackoff: 600,
		},
		{
			name:        "permission pauses like auth",
			script:      []scriptStep{{err: perm}},
			wantSleeps:  []time.Duration{10 * time.Minute},
			wantHealthy: false,
			wantErrors:  map[string]float64{"permission": 1},
			wantBackoff: 600,
		},
		{
			name: "malformed body kept once per run and retried",
			script: []scriptStep{{err: &MalformedError{Reason: "unexpected EOF", Raw: []byte(`{"errcode":0,"da`)}},
				{err: &MalformedError{Reason: "unexpected EOF", Raw: []byte(`{"errcode":0,"da`)}}, ok},
			wantSleeps:  []time.Duration{750 * time.Millisecond, 1500 * time.Millisecond, time.Minute},
			wantHealthy: true,
			wantErrors:  map[string]float64{"malformed": 2},
			wantDead:    1,
		},
		{
			name:        "unclassified errors back off like transient ones",
			script:      []scriptStep{{err: errors.New("boom")}},
			wantSleeps:  []time.Duration{750 * time.Millisecond},
			wantHealthy: true,
			wantErrors:  map[string]float64{"other": 1},
			wantBackoff: 0.75,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := &scriptSource{name: "s", query: "q", script: tt.script}
			h := newHarness(t, src, len(tt.wantSleeps), opts)
			h.run(t)
			if fmt.Sprint(h.clock.sleeps) != fmt.Sprint(tt.wantSleeps) {
				t.Errorf("sleeps %v, want %v", h.clock.sleeps, tt.wantSleeps)
			}
			healthy, reason := h.p.Healthy()
			if healthy != tt.wantHealthy || healthy != (reason == "") {
				t.Errorf("healthy = %v (%q), want %v", healthy, reason, tt.wantHealthy)
			}
			if g := metricValue(h.p.m.healthy); (g == 1) != tt.wantHealthy {
				t.Errorf("healthy gauge %v", g)
			}
			for msg, n := range tt.wantLogs {
				if got := h.logCount(msg); got != n {
					t.Errorf("log %q appears %d times, want %d\n%s", msg, got, n, h.logs)
				}
			}
			for cat, n := range tt.wantErrors {
				if got := metricValue(h.p.m.errors.WithLabelValues(cat)); got != n {
					t.Errorf("errors{%s} = %v, want %v", cat, got, n)
				}
			}
			if len(h.dead.items) != tt.wantDead {
				t.Errorf("dead letters %+v, want %d", h.dead.items, tt.wantDead)
			}
			if tt.wantDead > 0 && string(h.dead.items[0].Raw) != `{"errcode":0,"da` {
				t.Errorf("dead letter raw %q", h.dead.items[0].Raw)
			}
			if got := metricValue(h.p.m.backoff); got != tt.wantBackoff {
				t.Errorf("backoff gauge %v, want %v", got, tt.wantBackoff)
			}
		})
	}
}

func TestPollerSavesCursorOnlyAfterPublish(t *testing.T) {
	src := &scriptSource{name: "s", query: "q", script: []scriptStep{
		{batch: Batch{Posts: posts("1", "2"), Next: "c2"}},
		{batch: Batch{Posts: posts("1", "2"), Next: "c2"}},
		{batch: Batch{Posts: posts("1", "2"), Next: "c2"}},
	}}
	h := newHarness(t, src, 3, PollerOptions{})
	h.cursors.m = map[string][2]string{"s": {"q", "c0"}}
	h.pub.hook = func(call int, _ []model.Post) error {
		if call <= 2 {
			if got := h.cursors.get("s"); got[1] != "c0" {
				t.Errorf("cursor moved to %q before the publish succeeded", got[1])
			}
			return errors.New("broker unavailable")
		}
		return nil
	}
	h.run(t)
	if fmt.Sprint(src.calls) != "[c0 c0 c0]" {
		t.Errorf("polled with %v, want the saved cursor each time until the publish succeeds", src.calls)
	}
	if h.pub.calls != 3 || postIDs(h.pub.durable) != "1,2" {
		t.Errorf("publish calls %d durable %s", h.pub.calls, postIDs(h.pub.durable))
	}
	if got := h.cursors.get("s"); got[1] != "c2" {
		t.Errorf("cursor %v after the publish went through", got)
	}
	if got := metricValue(h.p.m.errors.WithLabelValues("publish")); got != 2 {
		t.Errorf("publish errors %v", got)
	}
}

func TestPollerQueryChangeResetsCursor(t *testing.T) {
	src := &scriptSource{name: "s", query: "#马上办#", script: []scriptStep{
		{batch: Batch{Posts: posts("1"), Next: "n1"}},
		{batch: Batch{Next: "n1"}},
		{batch: Batch{Posts: posts("9"), Next: "m1"}},
	}}
	h := newHarness(t, src, 3, PollerOptions{})
	h.cursors.m = map[string][2]string{"s": {"#随手拍#", "old-99"}}
	h.clock.stopAfter = 2
	h.run(t)
	if fmt.Sprint(src.calls) != "[ n1]" {
		t.Fatalf("calls %v: a cursor of another query must not be used", src.calls)
	}
	if got := h.cursors.get("s"); got != [2]string{"#马上办#", "n1"} {
		t.Fatalf("saved %v", got)
	}
	// The query changes while running (configuration reload).
	src.query = "#马上办# 花山区"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h.clock.stopAfter, h.clock.cancel = 3, cancel
	if err := h.p.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(src.calls) != "[ n1 ]" {
		t.Fatalf("calls %v", src.calls)
	}
	if got := h.cursors.get("s"); got != [2]string{"#马上办# 花山区", "m1"} {
		t.Fatalf("saved %v", got)
	}
	if h.logCount("query changed, cursor reset") != 2 {
		t.Errorf("logs:\n%s", h.logs)
	}
}

func TestPollerRestartMidPage(t *testing.T) {
	all := posts("1", "2", "3", "4", "5", "6", "7")
	tests := []struct {
		name string
		// stop is called on the given publish call with the run's cancel
		// function; it returns what the publish returns.
		stopOn int
		stop   func(cancel context.CancelFunc) error
	}{
		{"stopped during a publish that fails", 2, func(cancel context.CancelFunc) error {
			cancel()
			return context.Canceled
		}},
		{"stopped right after a publish succeeded", 2, func(cancel context.CancelFunc) error {
			cancel()
			return nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cursors := &memCursors{}
			var durable []model.Post
			for run := 0; run < 2; run++ {
				ctx, cancel := context.WithCancel(context.Background())
				clock := &fakeClock{now: time.Unix(0, 0), stopAfter: 100, cancel: cancel}
				pub := &memPublisher{}
				if run == 0 {
					pub.hook = func(call int, _ []model.Post) error {
						if call == tt.stopOn {
							return tt.stop(cancel)
						}
						return nil
					}
				} else {
					pub.hook = func(call int, ps []model.Post) error {
						if call == 3 { // everything read: stop the second run
							defer cancel()
						}
						return nil
					}
				}
				p, err := NewPoller(&pagedSource{posts: all, size: 3}, pub, cursors, &memDead{},
					PollerOptions{Now: clock.Now, Sleep: clock.Sleep}, nil, nil)
				if err != nil {
					t.Fatal(err)
				}
				if err := p.Run(ctx); err != nil {
					t.Fatal(err)
				}
				cancel()
				durable = append(durable, pub.durable...)
			}
			if got := postIDs(durable); got != "1,2,3,4,5,6,7" {
				t.Fatalf("durable posts over both runs: %s (want each once)", got)
			}
			if got := cursors.get("paged"); got[1] != "7" {
				t.Fatalf("final cursor %v", got)
			}
		})
	}
}

func TestPollerMoreAndEmptyNext(t *testing.T) {
	src := &scriptSource{name: "s", query: "q", script: []scriptStep{
		{batch: Batch{Posts: posts("1"), Next: "c1", More: true}},
		{batch: Batch{}}, // Next left empty: keeps c1
		{batch: Batch{Posts: posts("2"), Next: "c2"}},
	}}
	h := newHarness(t, src, 3, PollerOptions{Interval: 30 * time.Second, MoreDelay: 2 * time.Second})
	h.run(t)
	if fmt.Sprint(h.clock.sleeps) != "[2s 30s 30s]" {
		t.Errorf("sleeps %v", h.clock.sleeps)
	}
	if fmt.Sprint(src.calls) != "[ c1 c1]" {
		t.Errorf("calls %v", src.calls)
	}
	if h.cursors.saves != 2 {
		t.Errorf("%d cursor saves, want 2 (an unchanged cursor is not written again)", h.cursors.saves)
	}
}

func TestPollerCursorLoadRetried(t *testing.T) {
	src := &scriptSource{name: "s", query: "q"}
	h := newHarness(t, src, 2, PollerOptions{})
	h.cursors.m = map[string][2]string{"s": {"q", "c5"}}
	h.cursors.loadErr = []error{errors.New("database is locked")}
	h.run(t)
	if fmt.Sprint(src.calls) != "[c5]" {
		t.Errorf("calls %v: the poller must not poll before it knows its cursor", src.calls)
	}
	if got := metricValue(h.p.m.errors.WithLabelValues("cursor")); got != 1 {
		t.Errorf("cursor errors %v", got)
	}
}

func TestPollerRateLimiter(t *testing.T) {
	src := &scriptSource{name: "s", query: "q"}
	h := newHarness(t, src, 5, PollerOptions{Interval: time.Second, Rate: rate.Every(10 * time.Second), Burst: 1})
	h.run(t)
	// interval sleep, then the limiter's remaining 9s, and so on
	if fmt.Sprint(h.clock.sleeps) != "[1s 9s 1s 9s 1s]" {
		t.Errorf("sleeps %v", h.clock.sleeps)
	}
	if len(src.calls) != 3 {
		t.Errorf("%d polls", len(src.calls))
	}
}

func TestPollerSharedRegisterer(t *testing.T) {
	reg := prometheus.NewRegistry()
	for _, name := range []string{"a", "b"} {
		if _, err := NewPoller(&scriptSource{name: name}, &memPublisher{}, &memCursors{}, &memDead{}, PollerOptions{}, nil, reg); err != nil {
			t.Fatalf("poller %s: %v", name, err)
		}
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, mf := range mfs {
		if mf.GetName() == "mashangban_ingest_source_healthy" {
			n = len(mf.GetMetric())
		}
	}
	if n != 2 {
		t.Fatalf("healthy series %d, want one per poller", n)
	}
}

// metricValue reads a counter or gauge.
func metricValue(m prometheus.Metric) float64 {
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		panic(err)
	}
	if d.Counter != nil {
		return d.Counter.GetValue()
	}
	return d.Gauge.GetValue()
}

type pacedSource struct{ scriptSource }

func (pacedSource) Rate() rate.Limit { return rate.Every(30 * time.Second) }
func (pacedSource) Burst() int       { return 1 }

func TestPollerUsesSourcePace(t *testing.T) {
	src := &pacedSource{scriptSource{name: "s", query: "q"}}
	h := newHarness(t, src, 4, PollerOptions{Interval: 10 * time.Second})
	h.run(t)
	// the interval, then the rest of the source's 30s pace
	if fmt.Sprint(h.clock.sleeps) != "[10s 20s 10s 20s]" {
		t.Errorf("sleeps %v", h.clock.sleeps)
	}
}

// cancelSource stops the poller from inside Poll, as a shutdown during a
// request does.
type cancelSource struct {
	scriptSource
	cancel context.CancelFunc
}

func (s *cancelSource) Poll(ctx context.Context, cur Cursor) (Batch, error) {
	s.cancel()
	return Batch{}, fmt.Errorf("get: %w", ctx.Err())
}

func TestPollerStopDuringPoll(t *testing.T) {
	src := &cancelSource{scriptSource: scriptSource{name: "s", query: "q"}}
	h := newHarness(t, src, 100, PollerOptions{})
	src.cancel = h.clock.cancel
	h.run(t)
	if len(h.clock.sleeps) != 0 || metricValue(h.p.m.errors.WithLabelValues("other")) != 0 || h.cursors.saves != 0 {
		t.Errorf("a stop was treated as a failure: sleeps %v", h.clock.sleeps)
	}
	if ok, _ := h.p.Healthy(); !ok {
		t.Error("unhealthy after a stop")
	}
}

func TestPollerMoreWithoutProgressWaitsTheInterval(t *testing.T) {
	src := &scriptSource{name: "s", query: "q", script: []scriptStep{
		{batch: Batch{Next: "c1", More: true}},                    // moved: soon
		{batch: Batch{Next: "c1", More: true}},                    // stuck: the interval
		{batch: Batch{Posts: posts("1"), Next: "c1", More: true}}, // posts count as progress
	}}
	h := newHarness(t, src, 3, PollerOptions{Interval: 30 * time.Second, MoreDelay: 2 * time.Second})
	h.run(t)
	if fmt.Sprint(h.clock.sleeps) != "[2s 30s 2s]" {
		t.Errorf("sleeps %v", h.clock.sleeps)
	}
}
