// Package config is mashangban's process configuration: one YAML file, then
// environment variables, then command-line flags, each overriding the one
// before, validated as a whole before anything starts.
//
// With no configuration at all the result is the embedded default: an SQLite
// file and an in-process log under the data directory, the default rule set
// written out into that directory, the example posts replayed, and HTTP on
// localhost.
//
// It is not for the routing rules: those live in rule files (package rules)
// and are reloaded while the daemon runs; this configuration is read once.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Secret is a credential. It prints as <secret> everywhere (fmt, slog, JSON,
// YAML) so that it cannot end up in a log by accident; Reveal gives the value.
type Secret string

func (s Secret) String() string { return s.redacted() }

// GoString keeps %#v from printing the value.
func (s Secret) GoString() string { return s.redacted() }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.redacted()) }

// MarshalText implements encoding.TextMarshaler (used by JSON and YAML encoders).
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.redacted()), nil }

// Reveal returns the secret's value, for the one place that sends it.
func (s Secret) Reveal() string { return string(s) }

func (s Secret) redacted() string {
	if s == "" {
		return ""
	}
	return "<secret>"
}

// Duration is a time.Duration written as a Go duration string ("90s", "24h").
type Duration time.Duration

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// UnmarshalYAML accepts a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: bad duration %q (want e.g. \"90s\", \"24h\")", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// Roles a process can run.
const (
	RoleIngest   = "ingest"
	RoleClassify = "classify"
	RoleDispatch = "dispatch"
)

// AllRoles is the default: every stage in one process.
var AllRoles = []string{RoleIngest, RoleClassify, RoleDispatch}

// Config is the whole process configuration.
type Config struct {
	// DataDir holds the SQLite file, the in-process log, the default rule set
	// and caches when nothing else is configured.
	DataDir string   `yaml:"data_dir"`
	Roles   []string `yaml:"roles"`
	Log     Log      `yaml:"log"`
	HTTP    HTTP     `yaml:"http"`
	Kafka   Kafka    `yaml:"kafka"`
	DB      DB       `yaml:"db"`
	Rules   Rules    `yaml:"rules"`
	// Sources are the platforms to poll. With none configured (and no file at
	// all), the example posts shipped with mashangban are replayed.
	Sources  []Source `yaml:"sources"`
	Dispatch Dispatch `yaml:"dispatch"`
	Replies  Replies  `yaml:"replies"`
	// Demo starts in-process fake Weibo and WeChat servers with a stream of
	// realistic posts and points the pollers and repliers at them.
	Demo bool `yaml:"demo"`
}

// Log configures the process log.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text, json
}

// HTTP configures the HTTP server (API, health, metrics, reload).
type HTTP struct {
	Listen string `yaml:"listen"`
}

// Kafka configures the posts and decisions logs on Kafka. No brokers means
// the in-process log in the data directory.
type Kafka struct {
	Brokers           []string `yaml:"brokers"`
	TopicPrefix       string   `yaml:"topic_prefix"`
	Partitions        int      `yaml:"partitions"`
	ReplicationFactor int      `yaml:"replication_factor"`
	GroupPrefix       string   `yaml:"group_prefix"`
}

// DB configures the store. An empty URL means the SQLite file in the data directory.
type DB struct {
	URL Secret `yaml:"url"` // may carry a password
	// Migrate lets run bring an old schema up to date instead of refusing it.
	Migrate bool `yaml:"migrate"`
}

// Rules configures the routing rule files.
type Rules struct {
	// Dir holds the rule files. Empty means <data_dir>/rules, written from the
	// built-in default rule set on first start and then the user's to edit.
	Dir string `yaml:"dir"`
}

// Source is one platform to poll. Which fields apply depends on Type.
type Source struct {
	Name     string   `yaml:"name"`
	Type     string   `yaml:"type"` // replay, weibo-mobile, weibo-open, wechat-miniprogram
	Interval Duration `yaml:"interval"`
	BaseURL  string   `yaml:"base_url"` // platform API root; tests and --demo point it at fakes

	File string `yaml:"file"` // replay: JSON Lines file

	Topic       string   `yaml:"topic"`        // weibo-mobile, weibo-open (search/topics): the hashtag without #
	Cookie      Secret   `yaml:"cookie"`       // weibo-mobile: logged-in m.weibo.cn cookie
	AccessToken Secret   `yaml:"access_token"` // weibo-open
	Endpoints   []string `yaml:"endpoints"`    // weibo-open: mentions, search_topics

	AppID      string `yaml:"app_id"`     // wechat-miniprogram
	AppSecret  Secret `yaml:"app_secret"` // wechat-miniprogram
	Env        string `yaml:"env"`        // wechat-miniprogram: cloud environment ID
	Collection string `yaml:"collection"` // wechat-miniprogram: submissions collection
	MarkRead   bool   `yaml:"mark_read"`  // wechat-miniprogram: set a read flag on fetched records
}

// Dispatch configures cases, deadlines and the department API.
type Dispatch struct {
	// RepeatWindow is how far back an open case is looked for when a post may
	// repeat it.
	RepeatWindow  Duration     `yaml:"repeat_window"`
	ClockInterval Duration     `yaml:"clock_interval"`
	RemindBefore  Duration     `yaml:"remind_before"`
	Departments   []Department `yaml:"departments"`
}

// Department is an API identity: a department's token or a supervisor's.
type Department struct {
	ID string `yaml:"id"`
	// Name is how replies and reports name the department (default: its
	// name in the rule files, else the ID).
	Name  string `yaml:"name"`
	Token Secret `yaml:"token"`
	// Supervisor sees every assignment and routes triage.
	Supervisor bool `yaml:"supervisor"`
}

// Replies configures the repliers that answer citizens.
type Replies struct {
	Weibo  WeiboReplies  `yaml:"weibo"`
	WeChat WeChatReplies `yaml:"wechat"`
}

// WeiboReplies: comments on posts through the Open API.
type WeiboReplies struct {
	Enabled     bool   `yaml:"enabled"`
	BaseURL     string `yaml:"base_url"`
	AccessToken Secret `yaml:"access_token"`
}

// WeChatReplies: subscribe messages, falling back to the submission's record.
type WeChatReplies struct {
	Enabled    bool   `yaml:"enabled"`
	BaseURL    string `yaml:"base_url"`
	AppID      string `yaml:"app_id"`
	AppSecret  Secret `yaml:"app_secret"`
	Env        string `yaml:"env"`
	Collection string `yaml:"collection"`
	TemplateID string `yaml:"template_id"`
	Page       string `yaml:"page"`
}

// Source types.
const (
	SourceReplay      = "replay"
	SourceWeiboMobile = "weibo-mobile"
	SourceWeiboOpen   = "weibo-open"
	SourceWeChat      = "wechat-miniprogram"
)

// Default returns the embedded-default configuration.
func Default() Config {
	return Config{
		DataDir: "mashangban-data",
		Roles:   slices.Clone(AllRoles),
		Log:     Log{Level: "info", Format: "text"},
		HTTP:    HTTP{Listen: "127.0.0.1:8080"},
		Kafka:   Kafka{TopicPrefix: "mashangban.", Partitions: 6, ReplicationFactor: 1, GroupPrefix: "mashangban."},
		Dispatch: Dispatch{
			RepeatWindow:  Duration(7 * 24 * time.Hour),
			ClockInterval: Duration(time.Minute),
			RemindBefore:  Duration(2 * time.Hour),
		},
	}
}

// Error is every problem found in a configuration, reported together.
type Error struct {
	Problems []string
}

func (e *Error) Error() string {
	if len(e.Problems) == 1 {
		return "invalid configuration: " + e.Problems[0]
	}
	return "invalid configuration:\n  " + strings.Join(e.Problems, "\n  ")
}

// LoadFile reads a YAML configuration file over defaults. Unknown keys are errors.
func LoadFile(path string, into *Config) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return &Error{Problems: []string{fmt.Sprintf("config file: %v", err)}}
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(into); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // an empty file is the defaults
		}
		return &Error{Problems: []string{fmt.Sprintf("%s: %s", path, strings.TrimPrefix(err.Error(), "yaml: "))}}
	}
	return nil
}

// envKeys are the environment overrides. Each key also has a KEY_FILE form
// for secrets mounted as files (Docker and Kubernetes secrets).
var envKeys = []string{
	"MSB_DATA_DIR", "MSB_ROLES", "MSB_LOG_LEVEL", "MSB_LOG_FORMAT", "MSB_HTTP_LISTEN",
	"MSB_KAFKA_BROKERS", "MSB_DB_URL", "MSB_DB_MIGRATE", "MSB_RULES_DIR",
}

// ApplyEnv overrides c from the environment (lookup is os.LookupEnv in production).
// Source secrets come from MSB_SOURCE_<NAME>_<FIELD> (name upper-cased, '-' as
// '_'), e.g. MSB_SOURCE_WEIBO_COOKIE or MSB_SOURCE_WEIBO_COOKIE_FILE.
func ApplyEnv(c *Config, lookup func(string) (string, bool)) error {
	var problems []string
	get := func(key string) (string, bool) {
		if v, ok := lookup(key); ok {
			return v, true
		}
		if path, ok := lookup(key + "_FILE"); ok {
			b, err := os.ReadFile(path)
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s_FILE: %v", key, err))
				return "", false
			}
			return strings.TrimRight(string(b), "\r\n"), true
		}
		return "", false
	}
	boolVal := func(key, v string) bool {
		b, err := strconv.ParseBool(v)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %q is not true or false", key, v))
		}
		return b
	}
	for _, key := range envKeys {
		v, ok := get(key)
		if !ok {
			continue
		}
		switch key {
		case "MSB_DATA_DIR":
			c.DataDir = v
		case "MSB_ROLES":
			c.Roles = splitList(v)
		case "MSB_LOG_LEVEL":
			c.Log.Level = v
		case "MSB_LOG_FORMAT":
			c.Log.Format = v
		case "MSB_HTTP_LISTEN":
			c.HTTP.Listen = v
		case "MSB_KAFKA_BROKERS":
			c.Kafka.Brokers = splitList(v)
		case "MSB_DB_URL":
			c.DB.URL = Secret(v)
		case "MSB_DB_MIGRATE":
			c.DB.Migrate = boolVal(key, v)
		case "MSB_RULES_DIR":
			c.Rules.Dir = v
		}
	}
	for i := range c.Sources {
		s := &c.Sources[i]
		prefix := "MSB_SOURCE_" + strings.ToUpper(strings.ReplaceAll(s.Name, "-", "_")) + "_"
		for field, dst := range map[string]*Secret{"COOKIE": &s.Cookie, "ACCESS_TOKEN": &s.AccessToken, "APP_SECRET": &s.AppSecret} {
			if v, ok := get(prefix + field); ok {
				*dst = Secret(v)
			}
		}
	}
	for key, dst := range map[string]*Secret{
		"MSB_REPLIES_WEIBO_ACCESS_TOKEN": &c.Replies.Weibo.AccessToken,
		"MSB_REPLIES_WECHAT_APP_SECRET":  &c.Replies.WeChat.AppSecret,
	} {
		if v, ok := get(key); ok {
			*dst = Secret(v)
		}
	}
	for i := range c.Dispatch.Departments {
		d := &c.Dispatch.Departments[i]
		key := "MSB_DEPARTMENT_" + strings.ToUpper(strings.NewReplacer("-", "_", ".", "_").Replace(d.ID)) + "_TOKEN"
		if v, ok := get(key); ok {
			d.Token = Secret(v)
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return &Error{Problems: problems}
	}
	return nil
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Validate checks the configuration as a whole and reports every problem,
// each naming its setting.
func (c *Config) Validate() error {
	var p []string
	add := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }

	if c.DataDir == "" {
		add("data_dir: must not be empty")
	}
	if len(c.Roles) == 0 {
		add("roles: at least one of %s", strings.Join(AllRoles, ", "))
	}
	seenRole := map[string]bool{}
	for _, r := range c.Roles {
		if !slices.Contains(AllRoles, r) {
			add("roles: unknown role %q (want %s)", r, strings.Join(AllRoles, ", "))
		}
		if seenRole[r] {
			add("roles: %q given twice", r)
		}
		seenRole[r] = true
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		add("log.level: %q is not one of debug, info, warn, error", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		add("log.format: %q is not one of text, json", c.Log.Format)
	}
	if c.HTTP.Listen != "" {
		if _, _, err := net.SplitHostPort(c.HTTP.Listen); err != nil {
			add("http.listen: %q is not host:port", c.HTTP.Listen)
		}
	}
	for _, b := range c.Kafka.Brokers {
		if _, _, err := net.SplitHostPort(b); err != nil {
			add("kafka.brokers: %q is not host:port", b)
		}
	}
	if len(c.Kafka.Brokers) > 0 {
		if c.Kafka.Partitions < 1 {
			add("kafka.partitions: must be at least 1")
		}
		if c.Kafka.ReplicationFactor < 1 {
			add("kafka.replication_factor: must be at least 1")
		}
	}
	if u := c.DB.URL.Reveal(); u != "" && !hasAnyPrefix(u, "postgres://", "postgresql://", "sqlite:", "file:") {
		add("db.url: must start with postgres://, postgresql://, sqlite: or file: (got a %q URL)", scheme(u))
	}
	if c.Dispatch.RepeatWindow <= 0 {
		add("dispatch.repeat_window: must be positive")
	}
	if c.Dispatch.ClockInterval <= 0 {
		add("dispatch.clock_interval: must be positive")
	}
	if c.Dispatch.RemindBefore < 0 {
		add("dispatch.remind_before: must not be negative")
	}
	seenDept := map[string]bool{}
	for i, d := range c.Dispatch.Departments {
		where := fmt.Sprintf("dispatch.departments[%d]", i)
		if d.ID == "" {
			add("%s.id: must not be empty", where)
		}
		if seenDept[d.ID] {
			add("%s.id: %q given twice", where, d.ID)
		}
		seenDept[d.ID] = true
		if len(d.Token.Reveal()) < 16 {
			add("%s.token: must be at least 16 characters (set it in the file or MSB_DEPARTMENT_<ID>_TOKEN[_FILE])", where)
		}
	}
	seenSrc := map[string]bool{}
	for i, s := range c.Sources {
		where := fmt.Sprintf("sources[%d]", i)
		if s.Name != "" {
			where = fmt.Sprintf("sources[%q]", s.Name)
		}
		if s.Name == "" {
			add("%s.name: must not be empty", where)
		}
		if seenSrc[s.Name] {
			add("%s.name: given twice", where)
		}
		seenSrc[s.Name] = true
		if s.Interval < 0 {
			add("%s.interval: must not be negative", where)
		}
		need := func(field, val string) {
			if val == "" {
				add("%s.%s: required for type %q", where, field, s.Type)
			}
		}
		switch s.Type {
		case SourceReplay:
			need("file", s.File)
		case SourceWeiboMobile:
			need("topic", s.Topic)
			if !c.Demo {
				need("cookie", s.Cookie.Reveal())
			}
		case SourceWeiboOpen:
			if !c.Demo {
				need("access_token", s.AccessToken.Reveal())
			}
			for _, e := range s.Endpoints {
				if e != "mentions" && e != "search_topics" {
					add("%s.endpoints: unknown endpoint %q (want mentions, search_topics)", where, e)
				}
				if e == "search_topics" && s.Topic == "" {
					add("%s.topic: required for endpoint search_topics", where)
				}
			}
		case SourceWeChat:
			need("env", s.Env)
			need("collection", s.Collection)
			if !c.Demo {
				need("app_id", s.AppID)
				need("app_secret", s.AppSecret.Reveal())
			}
		case "":
			add("%s.type: required (one of replay, weibo-mobile, weibo-open, wechat-miniprogram)", where)
		default:
			add("%s.type: unknown source type %q (want replay, weibo-mobile, weibo-open, wechat-miniprogram)", where, s.Type)
		}
	}
	if w := c.Replies.Weibo; w.Enabled && !c.Demo && w.AccessToken == "" {
		add("replies.weibo.access_token: required when replies.weibo.enabled")
	}
	if w := c.Replies.WeChat; w.Enabled && !c.Demo {
		if w.AppID == "" || w.AppSecret == "" {
			add("replies.wechat.app_id, replies.wechat.app_secret: required when replies.wechat.enabled")
		}
		if w.TemplateID == "" {
			add("replies.wechat.template_id: required when replies.wechat.enabled")
		}
	}
	if len(p) > 0 {
		return &Error{Problems: p}
	}
	return nil
}

// CheckDataDir makes sure the data directory exists and is writable.
func (c *Config) CheckDataDir() error {
	if err := os.MkdirAll(c.DataDir, 0o755); err != nil {
		return &Error{Problems: []string{fmt.Sprintf("data_dir: cannot create %q: %v", c.DataDir, unwrapPath(err))}}
	}
	f, err := os.CreateTemp(c.DataDir, ".write-check-*")
	if err != nil {
		return &Error{Problems: []string{fmt.Sprintf("data_dir: %q is not writable: %v", c.DataDir, unwrapPath(err))}}
	}
	name := f.Name()
	f.Close()
	os.Remove(name)
	return nil
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// DBURL is the store URL, defaulting to the SQLite file in the data directory.
func (c *Config) DBURL() string {
	if u := c.DB.URL.Reveal(); u != "" {
		return u
	}
	return "sqlite:" + filepath.Join(c.DataDir, "mashangban.db")
}

// RulesDir is the rule directory, defaulting to <data_dir>/rules.
func (c *Config) RulesDir() string {
	if c.Rules.Dir != "" {
		return c.Rules.Dir
	}
	return filepath.Join(c.DataDir, "rules")
}

// HasRole reports whether the process runs the role.
func (c *Config) HasRole(r string) bool { return slices.Contains(c.Roles, r) }

func hasAnyPrefix(s string, prefixes ...string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

func scheme(u string) string {
	if i := strings.Index(u, ":"); i > 0 {
		return u[:i]
	}
	return "schemeless"
}
