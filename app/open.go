package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mashangban/mashangban/classify"
	"github.com/mashangban/mashangban/classify/segment"
	"github.com/mashangban/mashangban/config"
	"github.com/mashangban/mashangban/dispatch"
	"github.com/mashangban/mashangban/examples"
	"github.com/mashangban/mashangban/ingest"
	"github.com/mashangban/mashangban/ingest/replay"
	"github.com/mashangban/mashangban/ingest/wechat"
	"github.com/mashangban/mashangban/ingest/weibo"
	"github.com/mashangban/mashangban/model"
	"github.com/mashangban/mashangban/notify"
	"github.com/mashangban/mashangban/reply"
	"github.com/mashangban/mashangban/rules"
	defaultrules "github.com/mashangban/mashangban/rules/default"
	"github.com/mashangban/mashangban/store"
	"github.com/mashangban/mashangban/stream"
	"github.com/mashangban/mashangban/stream/kafka"
	"github.com/mashangban/mashangban/stream/memlog"
)

// openStore opens the database and checks its schema: run refuses an old
// schema unless db.migrate is set.
func openStore(ctx context.Context, cfg config.Config, logger *slog.Logger) (*store.Store, error) {
	st, err := store.Open(ctx, cfg.DBURL(), logger)
	if err != nil {
		return nil, fmt.Errorf("db.url: %w", err)
	}
	if cfg.DB.Migrate {
		if err := st.Migrate(ctx); err != nil {
			st.Close()
			return nil, fmt.Errorf("db.migrate: %w", err)
		}
	} else if err := st.CheckSchema(ctx); err != nil {
		// A brand-new embedded database has nothing to lose: create its schema.
		if cur, _, verr := st.SchemaVersion(ctx); verr == nil && cur == 0 && cfg.DB.URL == "" {
			if err := st.Migrate(ctx); err != nil {
				st.Close()
				return nil, fmt.Errorf("create embedded database: %w", err)
			}
			return st, nil
		}
		st.Close()
		return nil, fmt.Errorf("db.url: %w", err)
	}
	return st, nil
}

// Migrate brings the configured database's schema up to date.
func Migrate(ctx context.Context, cfg config.Config) (from, to int, err error) {
	if err := cfg.CheckDataDir(); err != nil {
		return 0, 0, err
	}
	st, err := store.Open(ctx, cfg.DBURL(), slog.New(slog.DiscardHandler))
	if err != nil {
		return 0, 0, fmt.Errorf("db.url: %w", err)
	}
	defer st.Close()
	from, _, err = st.SchemaVersion(ctx)
	if err != nil {
		return 0, 0, err
	}
	if err := st.Migrate(ctx); err != nil {
		return from, 0, err
	}
	to, _, err = st.SchemaVersion(ctx)
	return from, to, err
}

// openLog opens the posts and decisions logs: Kafka when brokers are
// configured, else the in-process log in the data directory.
func openLog(ctx context.Context, cfg config.Config, logger *slog.Logger, reg prometheus.Registerer) (stream.Log, error) {
	if len(cfg.Kafka.Brokers) == 0 {
		l, err := memlog.Open(filepath.Join(cfg.DataDir, "log"), memlog.Options{Logger: logger, Registerer: reg})
		if err != nil {
			return nil, fmt.Errorf("data_dir: in-process log: %w", err)
		}
		return l, nil
	}
	if err := dialAny(ctx, cfg.Kafka.Brokers); err != nil {
		return nil, fmt.Errorf("kafka.brokers: %w", err)
	}
	tlsConfig, err := cfg.Kafka.TLSConfig()
	if err != nil {
		return nil, err
	}
	var sasl *kafka.SASL
	if s := cfg.Kafka.SASL; s.Mechanism != "" {
		sasl = &kafka.SASL{Mechanism: s.Mechanism, Username: s.Username, Password: s.Password.Reveal()}
	}
	l, err := kafka.Open(ctx, kafka.Options{
		Brokers:           cfg.Kafka.Brokers,
		TopicPrefix:       cfg.Kafka.TopicPrefix,
		Partitions:        cfg.Kafka.Partitions,
		ReplicationFactor: cfg.Kafka.ReplicationFactor,
		Topics:            []string{stream.TopicPosts, stream.TopicDecisions},
		SessionTimeout:    cfg.Kafka.SessionTimeout.D(),
		HeartbeatInterval: cfg.Kafka.HeartbeatInterval.D(),
		RebalanceTimeout:  cfg.Kafka.RebalanceTimeout.D(),
		TLS:               tlsConfig,
		SASL:              sasl,
		Logger:            logger,
		Registerer:        reg,
	})
	if err != nil {
		return nil, fmt.Errorf("kafka.brokers: %w", err)
	}
	return l, nil
}

// openRules loads the rule set. With no rules.dir configured and no rules
// directory yet, the built-in rule set is written out for the user to edit.
func openRules(ctx context.Context, cfg config.Config, logger *slog.Logger, reg prometheus.Registerer) (*classify.Manager, error) {
	dir := cfg.RulesDir()
	if cfg.Rules.Dir == "" {
		if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
			wrote, err := defaultrules.WriteTo(dir)
			if err != nil {
				return nil, fmt.Errorf("data_dir: %w", err)
			}
			logger.Info("wrote the built-in rule set", "dir", dir, "files", len(wrote))
		}
	}
	m, err := classify.Open(ctx, classify.Options{
		RulesDir:   dir,
		Logger:     logger,
		Registerer: reg,
		// The segmenter's dictionary is kept prebuilt in the data directory,
		// so only the first start pays for parsing it.
		NewSegmenter: func(words []string) (classify.Segmenter, error) {
			return segment.NewCached(filepath.Join(cfg.DataDir, "cache"), words)
		},
	})
	if err != nil {
		return nil, fmt.Errorf("rules.dir: %w", err)
	}
	return m, nil
}

func newDispatcher(cfg config.Config, st *store.Store, departments, categories func() map[string]string, logger *slog.Logger, reg prometheus.Registerer, now func() time.Time) (*dispatch.Dispatcher, error) {
	depts := departmentAuths(cfg)
	targets := map[string]notify.Target{}
	for _, d := range cfg.Dispatch.Departments {
		if d.Notify != nil {
			targets[d.ID] = notify.Target{URL: d.Notify.URL.Reveal(), Format: d.Notify.Format, MentionedMobiles: d.Notify.MentionedMobileList}
		}
	}
	texts, err := reply.Load(cfg.Replies.TemplatesDir)
	if err != nil {
		return nil, err
	}
	if cfg.Replies.TemplatesDir != "" {
		logger.Info("reply templates loaded", "dir", cfg.Replies.TemplatesDir)
	}
	return dispatch.New(st, dispatch.Options{
		RepeatWindow:    cfg.Dispatch.RepeatWindow.D(),
		ReminderLead:    cfg.Dispatch.RemindBefore.D(),
		Departments:     depts,
		DepartmentNames: departments,
		CategoryNames:   categories,
		Texts:           texts,
		PublicBaseURL:   cfg.Public.BaseURL,
		Notify:          targets,
		CaseURL:         cfg.Dispatch.CaseURL,
		Now:             now,
	}, logger, reg), nil
}

// departmentAuths are the configured departments as the dispatcher knows them.
func departmentAuths(cfg config.Config) []dispatch.DepartmentAuth {
	var depts []dispatch.DepartmentAuth
	for _, d := range cfg.Dispatch.Departments {
		depts = append(depts, dispatch.DepartmentAuth{ID: d.ID, Name: d.Name, Token: d.Token.Reveal(), Supervisor: d.Supervisor})
	}
	return depts
}

// ruleNames returns the department and category names of the current rule
// set, by ID: the classifier's, which follows reloads, or in a process that
// does not classify, the rule files read once at start.
func ruleNames(cfg config.Config, m *classify.Manager, logger *slog.Logger) (departments, categories func() map[string]string) {
	if m != nil {
		var mu sync.Mutex
		var version string
		var cur names
		get := func() names {
			e := m.Engine()
			if e == nil {
				return names{}
			}
			rs := e.Tree().RuleSet()
			mu.Lock()
			defer mu.Unlock()
			if rs.Version != version || cur.departments == nil {
				cur, version = namesOf(rs), rs.Version
			}
			return cur
		}
		return func() map[string]string { return get().departments }, func() map[string]string { return get().categories }
	}
	rs, err := rules.Load(cfg.RulesDir())
	if err != nil {
		logger.Warn("names: cannot read the rule files; replies name departments from the configuration only",
			"dir", cfg.RulesDir(), "error", err)
		return nil, nil
	}
	n := namesOf(rs)
	return func() map[string]string { return n.departments }, func() map[string]string { return n.categories }
}

type names struct{ departments, categories map[string]string }

func namesOf(rs *rules.RuleSet) names {
	n := names{departments: make(map[string]string, len(rs.Departments)), categories: make(map[string]string, len(rs.Categories))}
	for _, d := range rs.Departments {
		n.departments[d.ID] = d.Name
	}
	for _, c := range rs.Categories {
		n.categories[c.ID] = c.Name
	}
	return n
}

// sources builds the configured sources. With none configured (and
// examples on, as with the embedded database), the example posts shipped
// with mashangban are written to the data directory and replayed, so a
// fresh install shows cases at once.
func (a *App) sources(cfg config.Config, reg prometheus.Registerer) ([]ingest.Source, map[string]time.Duration, error) {
	if cfg.ReplayExamples() {
		p := filepath.Join(cfg.DataDir, "examples", "posts.jsonl")
		if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return nil, nil, fmt.Errorf("data_dir: %w", err)
			}
			if err := os.WriteFile(p, examples.Posts, 0o644); err != nil {
				return nil, nil, fmt.Errorf("data_dir: %w", err)
			}
		}
		cfg.Sources = []config.Source{{Name: "examples", Type: config.SourceReplay, File: p, Interval: config.Duration(5 * time.Second)}}
	}
	var out []ingest.Source
	intervals := map[string]time.Duration{}
	for _, s := range cfg.Sources {
		src, err := a.newSource(s, reg)
		if err != nil {
			return nil, nil, fmt.Errorf("sources[%q]: %w", s.Name, err)
		}
		out = append(out, src)
		intervals[src.Name()] = s.Interval.D()
	}
	return out, intervals, nil
}

func (a *App) newSource(s config.Source, reg prometheus.Registerer) (ingest.Source, error) {
	logger := a.logger.With("component", "ingest", "source", s.Name)
	switch s.Type {
	case config.SourceReplay:
		return replay.New(replay.Options{Name: s.Name, Path: s.File})
	case config.SourceWeiboMobile:
		return weibo.NewMobile(weibo.MobileOptions{Name: s.Name, Topic: s.Topic, Cookie: s.Cookie.Reveal(), BaseURL: s.BaseURL, Logger: logger, Registerer: reg})
	case config.SourceWeiboOpen:
		opt := weibo.OpenOptions{Name: s.Name, AccessToken: s.AccessToken.Reveal(), BaseURL: s.BaseURL, Logger: logger, Registerer: reg}
		for _, e := range s.Endpoints {
			switch e {
			case "mentions":
				opt.Mentions = true
			case "search_topics":
				opt.Topic = s.Topic
			}
		}
		if len(s.Endpoints) == 0 {
			opt.Mentions = true
		}
		return weibo.NewOpen(opt)
	case config.SourceWeChat:
		c, err := wechat.NewClient(wechat.ClientOptions{BaseURL: s.BaseURL, AppID: s.AppID, AppSecret: s.AppSecret.Reveal()})
		if err != nil {
			return nil, err
		}
		opt := wechat.SourceOptions{Name: s.Name, Env: s.Env, Collection: s.Collection, Logger: logger}
		if s.MarkRead {
			opt.MarkRead = "msb_read"
		}
		return wechat.NewSource(c, opt)
	}
	return nil, fmt.Errorf("unknown source type %q", s.Type)
}

// newRepliers builds one replier per channel: the configured platform repliers,
// and the log replier for everything else, so a reply is never stuck for
// want of a channel.
func (a *App) newRepliers(cfg config.Config, extra []reply.Replier, reg prometheus.Registerer) (map[model.Channel]reply.Replier, error) {
	logger := a.logger.With("component", "reply")
	out := map[model.Channel]reply.Replier{
		model.ChannelReplay: dispatch.LogReplier{Logger: logger},
	}
	if w := cfg.Replies.Weibo; w.Enabled {
		r, err := weibo.NewReplier(weibo.ReplierOptions{AccessToken: w.AccessToken.Reveal(), BaseURL: w.BaseURL, Logger: logger, Registerer: reg})
		if err != nil {
			return nil, fmt.Errorf("replies.weibo: %w", err)
		}
		out[model.ChannelWeibo] = r
	} else {
		out[model.ChannelWeibo] = dispatch.LogReplier{Logger: logger}
	}
	if w := cfg.Replies.WeChat; w.Enabled {
		c, err := wechat.NewClient(wechat.ClientOptions{BaseURL: w.BaseURL, AppID: w.AppID, AppSecret: w.AppSecret.Reveal()})
		if err != nil {
			return nil, fmt.Errorf("replies.wechat: %w", err)
		}
		r, err := wechat.NewReplier(c, wechat.ReplierOptions{Env: w.Env, Collection: w.Collection, TemplateID: w.TemplateID, Page: w.Page})
		if err != nil {
			return nil, fmt.Errorf("replies.wechat: %w", err)
		}
		out[model.ChannelWeChat] = r
	} else {
		out[model.ChannelWeChat] = dispatch.LogReplier{Logger: logger}
	}
	for _, r := range extra {
		out[r.Channel()] = r
	}
	return out, nil
}

// dialAny checks that at least one broker accepts a TCP connection, so an
// unreachable cluster is reported as such rather than as a protocol error.
func dialAny(ctx context.Context, addrs []string) error {
	var d net.Dialer
	var firstErr error
	for _, a := range addrs {
		dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		c, err := d.DialContext(dctx, "tcp", a)
		cancel()
		if err == nil {
			c.Close()
			return nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return fmt.Errorf("cannot reach any broker of %v: %w", addrs, firstErr)
}
