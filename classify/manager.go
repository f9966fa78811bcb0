package classify

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/mashangban/mashangban/classify/gazetteer"
	"github.com/mashangban/mashangban/classify/segment"
	"github.com/mashangban/mashangban/model"
	"github.com/mashangban/mashangban/rules"
)

// Options configure Open.
type Options struct {
	RulesDir string
	// RuleFiles, if set, are loaded in this order instead of RulesDir
	// (rule test files name their rule files).
	RuleFiles  []string
	Logger     *slog.Logger
	Registerer prometheus.Registerer // nil: metrics are not registered
	// ModelFile, if set, overrides the rule set's model file (mashangban
	// eval --model); the rule set's threshold and label mapping still apply,
	// and a rule set without a model section uses the triage threshold and
	// maps labels to categories by id or name.
	ModelFile string
	// ModelOverride is the override threshold used with ModelFile when the
	// rule set has no model section (see rules.ModelRef.Override).
	ModelOverride float64
	// ModelThreshold, if set, replaces the model's confidence threshold.
	ModelThreshold float64
	// NoModel ignores the rule set's model (rules test runs the rules alone).
	NoModel bool
	// Debounce is the quiet time before a file change reloads (default
	// rules.DefaultDebounce).
	Debounce time.Duration
	// NewSegmenter builds the segmenter from the gazetteer's words; default
	// segment.New. Tests pass a shared one to avoid loading gse repeatedly.
	NewSegmenter func(words []string) (Segmenter, error)
}

// Manager serves the current rule set and replaces it on reload: the new
// set is built completely, then swapped in with one atomic store, so a
// Classify call sees either the old set or the new one, never a mixture.
// A reload that fails leaves the previous set serving.
type Manager struct {
	opts   Options
	logger *slog.Logger
	cur    atomic.Pointer[Engine]

	// reloadMu serialises reloads so that a slow build of older files
	// cannot be swapped in after a newer one.
	reloadMu sync.Mutex
	mu       sync.Mutex // guards segKey, seg, lastErr
	segKey   [32]byte   // hash of the words the segmenter was built with
	seg      Segmenter
	lastErr  error
	reloadCh chan struct{}

	decisions     *prometheus.CounterVec
	reloadOK      prometheus.Gauge
	reloadOKTime  prometheus.Gauge
	reloadsFailed prometheus.Counter
	modelInfo     *prometheus.GaugeVec
	modelTrained  prometheus.Gauge
	modelExamples prometheus.Gauge
}

// Open loads, compiles and serves the rule set in opts.RulesDir. An error
// here means there is no rule set to serve at all.
func Open(ctx context.Context, opts Options) (*Manager, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.NewSegmenter == nil {
		opts.NewSegmenter = func(words []string) (Segmenter, error) { return segment.New(words) }
	}
	f := promauto.With(opts.Registerer)
	m := &Manager{
		opts:     opts,
		logger:   opts.Logger.With("component", "classify"),
		reloadCh: make(chan struct{}, 1),
		decisions: f.NewCounterVec(prometheus.CounterOpts{
			Name: "mashangban_classify_decisions_total",
			Help: "Decisions made, by what decided them (route, model, fallback) and the route's name.",
		}, []string{"by", "route"}),
		reloadOK: f.NewGauge(prometheus.GaugeOpts{
			Name: "mashangban_rules_last_reload_successful",
			Help: "Whether the last rule reload succeeded (1) or kept the previous rule set (0).",
		}),
		reloadOKTime: f.NewGauge(prometheus.GaugeOpts{
			Name: "mashangban_rules_last_reload_success_timestamp_seconds",
			Help: "When the rule set was last loaded successfully.",
		}),
		reloadsFailed: f.NewCounter(prometheus.CounterOpts{
			Name: "mashangban_rules_reloads_failed_total",
			Help: "Rule reloads that failed and kept the previous rule set.",
		}),
		modelInfo: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "mashangban_model_info",
			Help: "The learned fallback serving now (1, labelled with its version); absent when the rule set has no model.",
		}, []string{"version"}),
		modelTrained: f.NewGauge(prometheus.GaugeOpts{
			Name: "mashangban_model_trained_timestamp_seconds",
			Help: "When the serving model was trained (0: no model, or a file without a training record).",
		}),
		modelExamples: f.NewGauge(prometheus.GaugeOpts{
			Name: "mashangban_model_training_examples",
			Help: "How many labelled examples the serving model was trained on (0: unknown or no model).",
		}),
	}
	if err := m.Reload(ctx); err != nil {
		return nil, err
	}
	return m, nil
}

// Build loads and compiles a rule directory into an Engine without serving
// it: the CLI (rules test, rules explain, eval) uses it to run the daemon's
// own code.
func Build(ctx context.Context, opts Options) (*Engine, error) {
	m := &Manager{opts: opts, logger: slog.New(slog.DiscardHandler)}
	if opts.Logger != nil {
		m.logger = opts.Logger
	}
	if m.opts.NewSegmenter == nil {
		m.opts.NewSegmenter = func(words []string) (Segmenter, error) { return segment.New(words) }
	}
	return m.build(ctx)
}

// build makes a complete engine from the files as they are now.
func (m *Manager) build(_ context.Context) (*Engine, error) {
	var rs *rules.RuleSet
	var err error
	if len(m.opts.RuleFiles) > 0 {
		rs, err = rules.LoadFiles(m.opts.RuleFiles)
	} else {
		rs, err = rules.Load(m.opts.RulesDir)
	}
	if err != nil {
		return nil, err
	}
	var places []gazetteer.Place
	if rs.Places != "" {
		b, err := os.ReadFile(rs.Places)
		if err != nil {
			return nil, fmt.Errorf("read places file: %w", err)
		}
		if places, err = gazetteer.ParsePlaces(rs.Places, b); err != nil {
			return nil, err
		}
	}
	gz, err := gazetteer.New(places)
	if err != nil {
		return nil, err
	}
	words := gz.Words()
	key := sha256.Sum256([]byte(strings.Join(words, "\n")))
	m.mu.Lock()
	seg := m.seg
	if seg == nil || key != m.segKey {
		// The segmenter is the expensive part (seconds); it is rebuilt only
		// when the place names it must keep whole have changed.
		start := time.Now()
		if seg, err = m.opts.NewSegmenter(words); err != nil {
			m.mu.Unlock()
			return nil, fmt.Errorf("build segmenter: %w", err)
		}
		m.seg, m.segKey = seg, key
		m.logger.Info("segmenter built", "words", len(words), "duration", time.Since(start).Round(time.Millisecond))
	}
	m.mu.Unlock()

	var pred Predictor
	if !m.opts.NoModel {
		file := m.opts.ModelFile
		if file == "" && rs.Model != nil {
			file = rs.Model.File
		}
		if file != "" {
			if rs.Model == nil {
				rs.Model = &rules.ModelRef{File: file, Threshold: rs.Triage.Threshold, Override: m.opts.ModelOverride}
			}
			rs.Model.File = file
			if m.opts.ModelThreshold > 0 {
				rs.Model.Threshold = m.opts.ModelThreshold
			}
			if pred, err = LoadModel(file); err != nil {
				return nil, err
			}
		}
	}
	tree, err := Compile(rs, pred)
	if err != nil {
		return nil, err
	}
	return NewEngine(tree, seg, GazetteerResolver(gz)), nil
}

// SharedSegmenter returns a NewSegmenter that builds one segmenter per set
// of words and hands it out again: the CLI and tests build several engines
// from the same places and should load gse's dictionary once.
func SharedSegmenter() func(words []string) (Segmenter, error) {
	var mu sync.Mutex
	cache := map[[32]byte]Segmenter{}
	return func(words []string) (Segmenter, error) {
		key := sha256.Sum256([]byte(strings.Join(words, "\n")))
		mu.Lock()
		defer mu.Unlock()
		if s, ok := cache[key]; ok {
			return s, nil
		}
		s, err := segment.New(words)
		if err != nil {
			return nil, err
		}
		cache[key] = s
		return s, nil
	}
}

// GazetteerResolver adapts the gazetteer to a Resolver.
func GazetteerResolver(g *gazetteer.Gazetteer) Resolver {
	return func(text string, tokens []string, geo *model.Geo, region string) Resolution {
		r := g.Resolve(text, tokens, geo, region)
		return Resolution{Districts: r.Districts, By: r.By, Places: r.Places}
	}
}

// Reload builds the rule set from the files and swaps it in. On failure
// the previous set keeps serving and the error is returned (POST /-/reload
// shows it to the caller).
func (m *Manager) Reload(ctx context.Context) error {
	m.reloadMu.Lock()
	defer m.reloadMu.Unlock()
	start := time.Now()
	e, err := m.build(ctx)
	m.mu.Lock()
	m.lastErr = err
	m.mu.Unlock()
	if err != nil {
		m.reloadOK.Set(0)
		if m.cur.Load() != nil {
			m.reloadsFailed.Inc()
			m.logger.Error("rule reload failed, previous rule set kept", "dir", m.opts.RulesDir, "version", m.Version(), "error", err)
		}
		return fmt.Errorf("load rules from %s: %w", m.opts.RulesDir, err)
	}
	prev := m.cur.Swap(e)
	m.reloadOK.Set(1)
	m.setModelMetrics(e.Model())
	m.reloadOKTime.Set(float64(time.Now().UnixNano()) / 1e9)
	if prev == nil || prev.tree.Version != e.tree.Version {
		m.logger.Info("rule set loaded", "dir", m.opts.RulesDir, "version", e.tree.Version, "routes", len(e.tree.routes), "model", e.tree.model != nil, "duration", time.Since(start).Round(time.Millisecond))
		if phrase, channel := e.tree.rs.FixedAckDeadline(); phrase != "" {
			m.logger.Warn("the rule set's acknowledgement section promises a fixed deadline instead of each route's; delete that section to send the reply templates' acknowledgement, which states the route's own deadlines (see README, \"What citizens read\")",
				"file", e.tree.rs.AckPos.String(), "channel", channel, "deadline", phrase)
		}
	}
	return nil
}

// setModelMetrics shows the serving model in the metrics (a Manager made by
// Build has none).
func (m *Manager) setModelMetrics(info *ModelInfo) {
	if m.modelInfo == nil {
		return
	}
	m.modelInfo.Reset()
	m.modelTrained.Set(0)
	m.modelExamples.Set(0)
	if info == nil {
		return
	}
	m.modelInfo.WithLabelValues(info.Version).Set(1)
	if t := info.Trained; t != nil {
		m.modelTrained.Set(float64(t.At.Unix()))
		m.modelExamples.Set(float64(t.Examples))
	}
}

// Engine is the engine serving now.
func (m *Manager) Engine() *Engine { return m.cur.Load() }

// Version is the serving rule set's version.
func (m *Manager) Version() string {
	if e := m.cur.Load(); e != nil {
		return e.tree.Version
	}
	return ""
}

// LastError is the error of the last reload, nil if it succeeded.
func (m *Manager) LastError() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lastErr
}

// Classify implements Classifier with the serving rule set and counts the
// decision.
func (m *Manager) Classify(ctx context.Context, p model.Post) model.Decision {
	e := m.cur.Load()
	d := e.Classify(ctx, p)
	by, name := "route", ""
	switch {
	case len(d.Explanation.Routes) > 0:
		name = d.Explanation.Routes[0].Name
	case d.Explanation.Model != nil && !d.Explanation.Fallback:
		by = "model"
	default:
		by, name = "fallback", e.tree.fallback.Name
	}
	m.decisions.WithLabelValues(by, name).Inc()
	return d
}

// RequestReload asks Watch to reload soon (SIGHUP); it never blocks.
func (m *Manager) RequestReload() {
	select {
	case m.reloadCh <- struct{}{}:
	default:
	}
}

// Watch reloads on file changes in the rule directory (and the places
// file's and model file's directories), on every value from hup (SIGHUP)
// and on RequestReload, until ctx is done. Failed reloads are logged and
// keep the previous set; Watch itself fails only if it cannot watch.
func (m *Manager) Watch(ctx context.Context, hup <-chan struct{}) error {
	dirs := []string{m.opts.RulesDir}
	if e := m.cur.Load(); e != nil {
		rs := e.tree.rs
		if rs.Places != "" {
			dirs = append(dirs, filepath.Dir(rs.Places))
		}
		if rs.Model != nil && rs.Model.File != "" {
			dirs = append(dirs, filepath.Dir(rs.Model.File))
		}
	}
	errc := make(chan error, 1)
	go func() {
		errc <- rules.Watch(ctx, dirs, m.opts.Debounce, m.logger, m.RequestReload)
	}()
	for {
		select {
		case <-ctx.Done():
			<-errc
			return nil
		case err := <-errc:
			return err
		case _, ok := <-hup:
			if !ok {
				hup = nil
				continue
			}
			m.logger.Info("reload requested by signal")
			_ = m.Reload(ctx)
		case <-m.reloadCh:
			_ = m.Reload(ctx)
		}
	}
}

// Close releases nothing today; it exists so the app can treat the
// manager like its other resources.
func (m *Manager) Close() error { return nil }
