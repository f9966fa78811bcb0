// Package app wires mashangban's stages into one embeddable application:
// store, logs, classifier, dispatcher, pollers, repliers and the HTTP server.
// cmd/mashangban calls Run; integration tests start it in-process.
//
// It is not for behaviour of its own: every decision is made in the packages
// it wires; app only orders their start and their shutdown.
//
// Start order: data dir, store (schema checked), posts and decisions logs,
// rule set, dispatcher, HTTP, then the consumers downstream-first (dispatch,
// classify) and the pollers last. Shutdown is the reverse: pollers stop
// first, the consumers get a short drain, then HTTP closes, then the logs
// and the store. A message whose handler was interrupted is delivered again
// after a restart; the store's unique keys make that harmless.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mashangban/mashangban/classify"
	"github.com/mashangban/mashangban/config"
	"github.com/mashangban/mashangban/dispatch"
	"github.com/mashangban/mashangban/ingest"
	"github.com/mashangban/mashangban/model"
	"github.com/mashangban/mashangban/store"
	"github.com/mashangban/mashangban/stream"
)

// Options are what the caller of Run provides besides the configuration.
type Options struct {
	Logger *slog.Logger
	// Reload receives a value for each SIGHUP: reload the rule files.
	Reload <-chan struct{}
	// Started, if set, is called once the app serves HTTP and every stage runs.
	Started func(a *App)
	// Sources are added to the configured ones (tests).
	Sources []ingest.Source
	// Repliers replace the configured repliers of their channel (tests).
	Repliers []ingest.Replier
	// Now is the clock of the dispatcher (tests); nil means time.Now.
	Now func() time.Time
	// DrainTimeout bounds the graceful drain at shutdown; zero means 5s,
	// negative means no drain (an abrupt stop, for tests).
	DrainTimeout time.Duration
}

// App is a running mashangban.
type App struct {
	cfg     config.Config
	logger  *slog.Logger
	metrics *metrics

	store   *store.Store
	log     stream.Log
	rules   *classify.Manager
	disp    *dispatch.Dispatcher
	api     http.Handler
	pollers []*ingest.Poller
	checks  []check
	addr    string

	// published and consumed count the posts and decisions this process put
	// on and took off the logs, for the drain at shutdown.
	postsPublished, postsDone         atomic.Int64
	decisionsPublished, decisionsDone atomic.Int64
}

// Addr is the address the HTTP server listens on.
func (a *App) Addr() string { return a.addr }

// Store is the app's store (tests read cases through it).
func (a *App) Store() *store.Store { return a.store }

// Run starts every configured stage and blocks until ctx is done, then shuts
// down in reverse order. Errors at start name the setting at fault.
func Run(ctx context.Context, cfg config.Config, opts Options) (err error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.DrainTimeout == 0 {
		opts.DrainTimeout = 5 * time.Second
	}
	reg := prometheus.NewRegistry()
	a := &App{cfg: cfg, logger: opts.Logger, metrics: newMetrics(reg)}
	a.logger.Info("starting mashangban", "config", cfg.Describe())

	var closers []func()
	defer func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}()

	if err := cfg.CheckDataDir(); err != nil {
		return err
	}
	if cfg.Demo {
		var stopDemo func()
		cfg, stopDemo, err = startDemo(ctx, cfg, a.logger)
		if err != nil {
			return err
		}
		closers = append(closers, stopDemo)
		a.cfg = cfg
	}
	st, err := openStore(ctx, cfg, a.logger)
	if err != nil {
		return err
	}
	closers = append(closers, func() { st.Close() })
	a.store = st
	a.checks = append(a.checks, check{"store", st.Ping})

	lg, err := openLog(ctx, cfg, a.logger, reg)
	if err != nil {
		return err
	}
	closers = append(closers, func() { lg.Close() })
	a.log = lg
	a.checks = append(a.checks, check{"log", lg.Ping})

	if cfg.HasRole(config.RoleClassify) {
		m, err := openRules(ctx, cfg, a.logger, reg)
		if err != nil {
			return err
		}
		closers = append(closers, func() { m.Close() })
		a.rules = m
	}

	var dispatchRunners []func(context.Context) error
	if cfg.HasRole(config.RoleDispatch) {
		d, err := newDispatcher(cfg, st, a.logger, reg, opts.Now)
		if err != nil {
			return err
		}
		a.disp = d
		a.api = d.API()
		// Every dispatcher on this database learns the configured tokens (hashed).
		if len(cfg.Dispatch.Departments) > 0 {
			if err := d.SaveTokens(ctx); err != nil {
				return fmt.Errorf("dispatch.departments: %w", err)
			}
		}
		repliers, err := a.repliers(cfg, opts.Repliers, reg)
		if err != nil {
			return err
		}
		dispatchRunners = append(dispatchRunners,
			func(ctx context.Context) error { return d.RunClock(ctx, cfg.Dispatch.ClockInterval.D()) },
			func(ctx context.Context) error { return d.RunSender(ctx, repliers) },
			func(ctx context.Context) error {
				return lg.Consume(ctx, stream.TopicDecisions, cfg.Kafka.GroupPrefix+"dispatch", a.handleDecision)
			},
		)
	}

	if cfg.HasRole(config.RoleIngest) {
		sources, intervals, err := a.sources(cfg, reg)
		if err != nil {
			return err
		}
		sources = append(sources, opts.Sources...)
		for _, src := range sources {
			p, err := a.newPoller(src, intervals[src.Name()], reg)
			if err != nil {
				return err
			}
			a.pollers = append(a.pollers, p)
		}
		a.checks = append(a.checks, check{"sources", a.sourcesHealthy})
	}

	ln, err := net.Listen("tcp", cfg.HTTP.Listen)
	if err != nil {
		return fmt.Errorf("http.listen: cannot listen on %q: %w", cfg.HTTP.Listen, err)
	}
	a.addr = ln.Addr().String()
	srv := &http.Server{Handler: a.handler(reg), ReadHeaderTimeout: 10 * time.Second}
	httpDone := make(chan error, 1)
	go func() { httpDone <- srv.Serve(ln) }()
	a.logger.Info("serving HTTP", "addr", a.addr)

	// Each tier gets its own context so that shutdown can stop them in order.
	dispatchCtx, stopDispatch := context.WithCancel(context.WithoutCancel(ctx))
	classifyCtx, stopClassify := context.WithCancel(context.WithoutCancel(ctx))
	ingestCtx, stopIngest := context.WithCancel(ctx)
	defer stopDispatch()
	defer stopClassify()
	defer stopIngest()

	failed := make(chan error, 16)
	var dispatchWG, classifyWG, ingestWG sync.WaitGroup
	start := func(wg *sync.WaitGroup, ctx context.Context, name string, fn func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(ctx); err != nil && ctx.Err() == nil {
				failed <- fmt.Errorf("%s: %w", name, err)
			}
		}()
	}
	for _, fn := range dispatchRunners {
		start(&dispatchWG, dispatchCtx, "dispatch", fn)
	}
	if a.rules != nil {
		start(&classifyWG, classifyCtx, "classify", func(ctx context.Context) error {
			return lg.Consume(ctx, stream.TopicPosts, cfg.Kafka.GroupPrefix+"classify", a.handlePost)
		})
		start(&classifyWG, classifyCtx, "rules", func(ctx context.Context) error { return a.rules.Watch(ctx, opts.Reload) })
	}
	for _, p := range a.pollers {
		start(&ingestWG, ingestCtx, "ingest", p.Run)
	}
	if opts.Started != nil {
		opts.Started(a)
	}

	var runErr error
	select {
	case <-ctx.Done():
		a.logger.Info("shutting down")
	case runErr = <-failed:
		a.logger.Error("a stage failed, shutting down", "error", runErr)
	case err := <-httpDone:
		runErr = fmt.Errorf("http: %w", err)
	}

	stopIngest()
	ingestWG.Wait()
	a.drain(opts.DrainTimeout)
	stopClassify()
	classifyWG.Wait()
	stopDispatch()
	dispatchWG.Wait()
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		a.logger.Warn("http shutdown", "error", err)
	}
	a.logger.Info("stopped")
	return runErr
}

// drain waits, up to timeout, until every post and decision this process
// published has been handled, so a graceful stop leaves nothing in flight.
// A process that does not run the consuming role does not wait for it.
func (a *App) drain(timeout time.Duration) {
	if timeout < 0 {
		return
	}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		postsLeft := a.rules != nil && a.postsDone.Load() < a.postsPublished.Load()
		decisionsLeft := a.disp != nil && a.decisionsDone.Load() < a.decisionsPublished.Load()
		if !postsLeft && !decisionsLeft {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	a.logger.Warn("drain timed out; the rest is handled after restart")
}

func (a *App) sourcesHealthy(ctx context.Context) error {
	var bad []string
	for _, p := range a.pollers {
		if ok, why := p.Healthy(); !ok {
			bad = append(bad, why)
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("unhealthy sources: %v", bad)
	}
	return nil
}

// cases lists the newest cases for the local read-only endpoint.
func (a *App) cases(ctx context.Context, limit int) ([]model.Case, error) {
	return a.store.ListCases(ctx, store.CaseFilter{Limit: limit})
}
