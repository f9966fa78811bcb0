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
	"maps"
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
	"github.com/mashangban/mashangban/privacy"
	"github.com/mashangban/mashangban/reply"
	"github.com/mashangban/mashangban/store"
	"github.com/mashangban/mashangban/stream"
)

// Options are what the caller of Run provides besides the configuration.
type Options struct {
	Logger *slog.Logger
	// Reload receives a value for each SIGHUP: reload the rule files and,
	// with ReloadConfig, the access credentials.
	Reload <-chan struct{}
	// ReloadConfig reads the configuration again as at start (file, then
	// environment, then flags). On each reload its departments and access
	// credentials replace the running ones; nil: they are read at start only.
	ReloadConfig func() (config.Config, error)
	// Started, if set, is called once the app serves HTTP and every stage runs.
	Started func(a *App)
	// Sources are added to the configured ones (tests).
	Sources []ingest.Source
	// Repliers replace the configured repliers of their channel (tests).
	Repliers []reply.Replier
	// Now is the clock of the dispatcher (tests); nil means time.Now.
	Now func() time.Time
	// DrainTimeout bounds the graceful drain at shutdown; zero means 5s,
	// negative means no drain (an abrupt stop, for tests).
	DrainTimeout time.Duration
	// HTTPLimits replaces the HTTP server's timeouts (tests); zero fields
	// take DefaultHTTPLimits.
	HTTPLimits HTTPLimits
}

// HTTPLimits bound what one HTTP client can hold: a client that sends its
// headers or body slowly, reads the answer slowly or keeps an idle
// connection open is cut off, so a few slow clients cannot take the
// server's connections.
type HTTPLimits struct {
	ReadHeader, Read, Write, Idle time.Duration
	MaxHeaderBytes                int
}

// DefaultHTTPLimits are the HTTP server's limits.
var DefaultHTTPLimits = HTTPLimits{
	ReadHeader:     10 * time.Second,
	Read:           30 * time.Second,
	Write:          60 * time.Second,
	Idle:           120 * time.Second,
	MaxHeaderBytes: 64 << 10,
}

func (l HTTPLimits) withDefaults() HTTPLimits {
	d := DefaultHTTPLimits
	if l.ReadHeader > 0 {
		d.ReadHeader = l.ReadHeader
	}
	if l.Read > 0 {
		d.Read = l.Read
	}
	if l.Write > 0 {
		d.Write = l.Write
	}
	if l.Idle > 0 {
		d.Idle = l.Idle
	}
	if l.MaxHeaderBytes > 0 {
		d.MaxHeaderBytes = l.MaxHeaderBytes
	}
	return d
}

// App is a running mashangban.
type App struct {
	cfg     config.Config
	logger  *slog.Logger
	reg     *prometheus.Registry
	closers []func()

	store    *store.Store
	log      stream.Log
	rules    *classify.Manager
	classify *classify.Stage
	disp     *dispatch.Dispatcher
	dispatch *dispatch.Stage
	repliers map[model.Channel]reply.Replier
	pollers  []*ingest.Poller
	checks   []check
	stages   map[string]*stageProgress // consuming stages, for /readyz
	creds    atomic.Pointer[credentials]
	routes   []Route
	ln       net.Listener
	srv      *http.Server
	addr     string

	// published and consumed count the posts and decisions this process put
	// on and took off the logs, for the drain at shutdown.
	postsPublished, postsDone         atomic.Int64
	decisionsPublished, decisionsDone atomic.Int64
}

// Addr is the address the HTTP server listens on.
func (a *App) Addr() string { return a.addr }

// Store is the app's store (tests read cases through it).
func (a *App) Store() *store.Store { return a.store }

// Run builds every configured stage, runs them until ctx is done, then shuts
// down in reverse order. Errors at start name the setting at fault.
func Run(ctx context.Context, cfg config.Config, opts Options) error {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	// Phone and ID numbers in post texts, author names, raw bodies and the
	// errors that quote them never reach a log line.
	opts.Logger = privacy.Logger(opts.Logger)
	if opts.DrainTimeout == 0 {
		opts.DrainTimeout = 5 * time.Second
	}
	a, err := build(ctx, cfg, opts)
	defer a.close()
	if err != nil {
		return err
	}
	return a.run(ctx, opts)
}

// build opens and constructs every part the configured roles need, in
// start order, without starting anything that consumes or polls. What it
// opened is closed by close, also after an error.
func build(ctx context.Context, cfg config.Config, opts Options) (a *App, err error) {
	reg := prometheus.NewRegistry()
	registerProcessMetrics(reg)
	a = &App{cfg: cfg, logger: opts.Logger, reg: reg, stages: map[string]*stageProgress{}}
	a.logger.Info("starting mashangban", "config", cfg.Describe())
	if problems := a.cfg.ReadTokenFiles(); len(problems) > 0 {
		return a, &config.Error{Problems: problems}
	}
	cfg = a.cfg
	a.creds.Store(newCredentials(cfg))
	for _, d := range cfg.Dispatch.Departments {
		if d.Supervisor {
			a.logger.Warn("dispatch.departments[].supervisor is deprecated: the department's token is an office credential; move it to access.office", "department", d.ID)
		}
	}

	if err := cfg.CheckDataDir(); err != nil {
		return a, err
	}
	if cfg.Demo {
		var stopDemo func()
		if a.cfg, stopDemo, err = startDemo(ctx, cfg, a.logger); err != nil {
			return a, err
		}
		a.closers = append(a.closers, stopDemo)
		cfg = a.cfg
	}
	if a.store, err = openStore(ctx, cfg, a.logger); err != nil {
		return a, err
	}
	a.closers = append(a.closers, func() { a.store.Close() })
	a.checks = append(a.checks, check{"store", a.store.Ping})

	if a.log, err = openLog(ctx, cfg, a.logger, reg); err != nil {
		return a, err
	}
	a.closers = append(a.closers, func() { a.log.Close() })
	a.checks = append(a.checks, check{"log", a.log.Ping})

	if cfg.HasRole(config.RoleClassify) {
		if a.rules, err = openRules(ctx, cfg, a.logger, reg); err != nil {
			return a, err
		}
		a.closers = append(a.closers, func() { a.rules.Close() })
		progress := newStageProgress(func() int64 { return a.postsPublished.Load() - a.postsDone.Load() })
		a.stages["classify"] = progress
		a.classify = classify.NewStage(a.rules, a.log, a.store, a.logger, reg, func(published bool) {
			if published {
				a.decisionsPublished.Add(1)
			}
			a.postsDone.Add(1)
			progress.mark()
		})
	}
	if cfg.HasRole(config.RoleDispatch) {
		if err := a.buildDispatch(ctx, opts.Repliers, opts.Now); err != nil {
			return a, err
		}
	}
	if cfg.HasRole(config.RoleIngest) {
		if err := a.buildIngest(opts.Sources); err != nil {
			return a, err
		}
	}
	ln, err := net.Listen("tcp", cfg.HTTP.Listen)
	if err != nil {
		return a, fmt.Errorf("http.listen: cannot listen on %q: %w", cfg.HTTP.Listen, err)
	}
	a.closers = append(a.closers, func() { ln.Close() })
	a.ln, a.addr = ln, ln.Addr().String()
	if cfg.HTTP.TLSCertFile == "" {
		if tcp, ok := ln.Addr().(*net.TCPAddr); ok && !tcp.IP.IsLoopback() {
			a.logger.Warn("HTTP listens beyond this machine without TLS: tokens and personal data cross the network in clear; set http.tls_cert_file and http.tls_key_file or put a TLS proxy in front", "addr", a.addr)
		}
	}
	lim := opts.HTTPLimits.withDefaults()
	a.srv = &http.Server{
		Handler:           a.handler(reg),
		ReadHeaderTimeout: lim.ReadHeader,
		ReadTimeout:       lim.Read,
		WriteTimeout:      lim.Write,
		IdleTimeout:       lim.Idle,
		MaxHeaderBytes:    lim.MaxHeaderBytes,
	}
	return a, nil
}

// buildDispatch builds the dispatcher, its stage and its repliers. Every
// dispatcher on one database learns the configured tokens (hashed).
func (a *App) buildDispatch(ctx context.Context, extra []reply.Replier, now func() time.Time) error {
	departments, categories := ruleNames(a.cfg, a.rules, a.logger)
	d, err := newDispatcher(a.cfg, a.store, departments, categories, a.logger, a.reg, now)
	if err != nil {
		return fmt.Errorf("replies.templates_dir: %w", err)
	}
	a.disp = d
	// Always, also with no departments: the stored tokens of departments
	// no longer configured are removed.
	if err := d.SaveTokens(ctx); err != nil {
		return fmt.Errorf("dispatch.departments: %w", err)
	}
	if a.repliers, err = a.newRepliers(a.cfg, extra, a.reg); err != nil {
		return err
	}
	progress := newStageProgress(func() int64 { return a.decisionsPublished.Load() - a.decisionsDone.Load() })
	a.stages["dispatch"] = progress
	maps.Copy(a.repliers, d.Notifiers()) // departments' notice webhooks
	a.dispatch = d.NewStage(a.reg, func() { a.decisionsDone.Add(1); progress.mark() })
	return nil
}

// buildIngest builds one poller per source, all publishing through one
// LogPublisher.
func (a *App) buildIngest(extra []ingest.Source) error {
	sources, intervals, err := a.sources(a.cfg, a.reg)
	if err != nil {
		return err
	}
	pub := ingest.NewLogPublisher(a.log, a.store, a.logger, a.reg, func(n int) { a.postsPublished.Add(int64(n)) })
	for _, src := range append(sources, extra...) {
		p, err := ingest.NewPoller(src, pub, cursorStore{a.store}, ingest.StoreDeadLetters{Store: a.store},
			ingest.PollerOptions{Interval: intervals[src.Name()]}, a.logger, a.reg)
		if err != nil {
			return err
		}
		a.pollers = append(a.pollers, p)
	}
	return nil
}

func (a *App) close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
}

// run serves HTTP, starts the stages downstream-first and blocks until ctx
// is done or a stage fails; then it stops them upstream-first: pollers, a
// drain, classify, dispatch, HTTP. Each tier has its own context so that
// shutdown can stop them in that order.
func (a *App) run(ctx context.Context, opts Options) error {
	httpDone := make(chan error, 1)
	tlsOn := a.cfg.HTTP.TLSCertFile != ""
	go func() {
		if tlsOn {
			httpDone <- a.srv.ServeTLS(a.ln, a.cfg.HTTP.TLSCertFile, a.cfg.HTTP.TLSKeyFile)
			return
		}
		httpDone <- a.srv.Serve(a.ln)
	}()
	a.logger.Info("serving HTTP", "addr", a.addr, "tls", tlsOn)

	dispatchT := newTier(context.WithoutCancel(ctx))
	classifyT := newTier(context.WithoutCancel(ctx))
	ingestT := newTier(ctx)
	defer dispatchT.stop()
	defer classifyT.stop()
	defer ingestT.stop()

	failed := make(chan error, 16)
	group := a.cfg.Kafka.GroupPrefix
	// A reload request reloads the credentials first, then the rules.
	rulesHup := make(chan struct{}, 1)
	dispatchT.start(failed, "reload", func(ctx context.Context) error {
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-opts.Reload:
				_ = a.reloadAccess(ctx, opts.ReloadConfig)
				select {
				case rulesHup <- struct{}{}:
				default:
				}
			}
		}
	})
	if a.disp != nil {
		dispatchT.start(failed, "dispatch", func(ctx context.Context) error { return a.disp.RunClock(ctx, a.cfg.Dispatch.ClockInterval.D()) })
		dispatchT.start(failed, "dispatch", func(ctx context.Context) error { return a.disp.RunSender(ctx, a.repliers) })
		dispatchT.start(failed, "dispatch", func(ctx context.Context) error {
			return a.log.Consume(ctx, stream.TopicDecisions, group+"dispatch", a.dispatch.Handle)
		})
	}
	if a.classify != nil {
		classifyT.start(failed, "classify", func(ctx context.Context) error {
			return a.log.Consume(ctx, stream.TopicPosts, group+"classify", a.classify.Handle)
		})
		classifyT.start(failed, "rules", func(ctx context.Context) error { return a.rules.Watch(ctx, rulesHup) })
	}
	for _, p := range a.pollers {
		ingestT.start(failed, "ingest", p.Run)
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
	ingestT.stop()
	a.drain(opts.DrainTimeout)
	classifyT.stop()
	dispatchT.stop()
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.srv.Shutdown(shutCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		a.logger.Warn("http shutdown", "error", err)
	}
	a.logger.Info("stopped")
	return runErr
}

// tier is a group of goroutines stopped together.
type tier struct {
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func newTier(parent context.Context) *tier {
	ctx, cancel := context.WithCancel(parent)
	return &tier{ctx: ctx, cancel: cancel}
}

// start runs fn in the tier; an error while the tier is not being stopped
// is sent on failed, named.
func (t *tier) start(failed chan<- error, name string, fn func(context.Context) error) {
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		if err := fn(t.ctx); err != nil && t.ctx.Err() == nil {
			failed <- fmt.Errorf("%s: %w", name, err)
		}
	}()
}

// stop cancels the tier and waits for its goroutines.
func (t *tier) stop() {
	t.cancel()
	t.wg.Wait()
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
