// Package config is mashangban's process configuration: one YAML file, then
// environment variables, then command-line flags, each overriding the one
// before, validated as a whole before anything starts.
//
// With no configuration at all the result is the embedded default: an SQLite
// file and an in-process log under the data directory, the default rule set
// written out into that directory, the example posts replayed, and HTTP on
// localhost. A configuration file, when given, must not be empty.
//
// Every problem is reported at once, each with where the value came from: the
// file's line and column, the environment variable or the flag.
//
// It is not for the routing rules: those live in rule files (package rules)
// and are reloaded while the daemon runs; this configuration is read once.
package config

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
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

// UnmarshalYAML accepts a Go duration string. Its error is a yaml.TypeError
// so that the decoder goes on and reports the file's other problems too.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil || n.Kind != yaml.ScalarNode {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: bad duration %q (want e.g. \"90s\", \"24h\")", n.Line, n.Value)}}
	}
	*d = Duration(v)
	return nil
}

// String writes the duration without zero units: "168h", "1m30s".
func (d Duration) String() string {
	s := d.D().String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
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
	Access  Access   `yaml:"access"`
	Kafka   Kafka    `yaml:"kafka"`
	DB      DB       `yaml:"db"`
	Rules   Rules    `yaml:"rules"`
	// Sources are the platforms to poll. With none configured (and no file at
	// all), the example posts shipped with mashangban are replayed.
	Sources  []Source `yaml:"sources"`
	Dispatch Dispatch `yaml:"dispatch"`
	Replies  Replies  `yaml:"replies"`
	Public   Public   `yaml:"public"`
	// Examples replays the example posts shipped with mashangban when no
	// sources are configured. Parse turns it off when db.url is set and the
	// setting is not given, so that the examples never reach a production
	// database by default.
	Examples bool `yaml:"examples"`
	// Demo starts in-process fake Weibo and WeChat servers with a stream of
	// realistic posts and points the pollers and repliers at them.
	Demo bool `yaml:"demo"`

	// origins maps a setting's path ("http.listen", "sources[0].type") to
	// where its value came from ("c.yaml:3:11", "MSB_HTTP_LISTEN",
	// "--http.listen"), for error messages.
	origins map[string]string
}

// Log configures the process log.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text, json
}

// HTTP configures the HTTP server (API, health, metrics, reload).
type HTTP struct {
	// Listen is host:port; the default is loopback. Listening on another
	// address without TLS logs a warning at start.
	Listen string `yaml:"listen"`
	// TLSCertFile and TLSKeyFile are a PEM certificate (chain) and key: with
	// both set the server speaks HTTPS only.
	TLSCertFile string `yaml:"tls_cert_file"`
	TLSKeyFile  string `yaml:"tls_key_file"`
	// EnableLifecycle turns on POST /-/reload (for administrators). Off, it
	// answers 403; SIGHUP and the rule-file watch reload regardless.
	EnableLifecycle bool `yaml:"enable_lifecycle"`
	// PublicMetrics serves /metrics without a credential (default: an
	// administrator's token, which Prometheus sends as a bearer token).
	PublicMetrics bool `yaml:"public_metrics"`
	// StallAfter: /readyz says not ready when a stage has work waiting and
	// has made no progress for this long.
	StallAfter Duration `yaml:"stall_after"`
	// SourceFailures: /readyz says not ready when every source has failed
	// this many polls in a row (or is paused for its credentials).
	SourceFailures int `yaml:"source_failures"`
}

// Access holds the credentials of the city office and of administrators.
// Department tokens are in dispatch.departments. A department sees and acts
// on its own cases; the office sees all cases and routes triage; an
// administrator does what the office does and also reloads rules, reads
// dead letters, metrics and readiness details.
type Access struct {
	Office []Credential `yaml:"office"`
	Admin  []Credential `yaml:"admin"`
}

// Credential is a named bearer token. The name is who acted in the audit
// trail. Token or TokenFile (a file holding the token), not both.
type Credential struct {
	Name      string `yaml:"name"`
	Token     Secret `yaml:"token"`
	TokenFile string `yaml:"token_file"`
}

// MinTokenLength is the shortest token accepted.
const MinTokenLength = 16

// Kafka configures the posts and decisions logs on Kafka. No brokers means
// the in-process log in the data directory.
type Kafka struct {
	Brokers           []string `yaml:"brokers"`
	TopicPrefix       string   `yaml:"topic_prefix"`
	Partitions        int      `yaml:"partitions"`
	ReplicationFactor int      `yaml:"replication_factor"`
	GroupPrefix       string   `yaml:"group_prefix"`
	// SessionTimeout is how long a consumer that died without leaving its
	// group (killed, its machine lost) holds its partitions; the brokers'
	// group.min/max.session.timeout.ms bound it (6s and 30m by default).
	SessionTimeout    Duration  `yaml:"session_timeout"`
	HeartbeatInterval Duration  `yaml:"heartbeat_interval"` // at most a third of session_timeout
	RebalanceTimeout  Duration  `yaml:"rebalance_timeout"`  // how long members have to rejoin
	TLS               KafkaTLS  `yaml:"tls"`
	SASL              KafkaSASL `yaml:"sasl"`
}

// KafkaTLS encrypts the connections to the brokers.
type KafkaTLS struct {
	Enabled bool `yaml:"enabled"`
	// CAFile holds the PEM certificates that sign the brokers' certificates;
	// empty means the system's roots, as managed Kafka services need.
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are a PEM client certificate and key, for brokers
	// that authenticate clients by certificate (mutual TLS).
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ServerName is the name the brokers' certificates must carry (default:
	// the host of each broker address).
	ServerName string `yaml:"server_name"`
}

// KafkaSASL authenticates to the brokers.
type KafkaSASL struct {
	Mechanism string `yaml:"mechanism"` // PLAIN, SCRAM-SHA-256, SCRAM-SHA-512; empty: none
	Username  string `yaml:"username"`
	Password  Secret `yaml:"password"`
}

// SASL mechanisms.
const (
	SASLPlain       = "PLAIN"
	SASLScramSHA256 = "SCRAM-SHA-256"
	SASLScramSHA512 = "SCRAM-SHA-512"
)

// DB configures the store. An empty URL means the SQLite file in the data directory.
type DB struct {
	URL Secret `yaml:"url"` // may carry a password
	// Password goes into a postgres:// URL that names a user but no password,
	// so that the URL can live in the file and the password in a secret.
	Password Secret `yaml:"password"`
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
	// CaseURL is the link notices to departments carry, {case_no} replaced
	// by the case number (empty: no link).
	CaseURL string `yaml:"case_url"`
}

// Department is an API identity: a department's token or a supervisor's.
// Names come from the rule set's departments file.
type Department struct {
	ID string `yaml:"id"`
	// Name, optional, overrides the rule set's name of the department in
	// replies, reports and the API.
	Name  string `yaml:"name"`
	Token Secret `yaml:"token"`
	// TokenFile is a file holding the token (instead of Token).
	TokenFile string `yaml:"token_file"`
	// Supervisor makes the token an office credential named by ID: it sees
	// every case and routes triage. Deprecated: use access.office.
	Supervisor bool `yaml:"supervisor"`
	// Notify is the department's webhook for notices (new assignments,
	// reminders, cards). A department may have a webhook and no token.
	Notify *Notify `yaml:"notify"`
}

// Notify is a department's notice webhook.
type Notify struct {
	// URL carries the robot's key: a secret (also MSB_DEPARTMENT_<ID>_NOTIFY_URL[_FILE]).
	URL Secret `yaml:"url"`
	// Format is wecom (企业微信 group robot) or json.
	Format string `yaml:"format"`
	// MentionedMobileList are @-mentioned in the group (wecom; the notices
	// then go as text, the only robot message that mentions by mobile).
	MentionedMobileList []string `yaml:"mentioned_mobile_list"`
}

// Replies configures the repliers that answer citizens.
type Replies struct {
	Weibo  WeiboReplies  `yaml:"weibo"`
	WeChat WeChatReplies `yaml:"wechat"`
	// TemplatesDir holds reply templates (<name>.tmpl) that replace the
	// built-in ones; checked at start like the rule files.
	TemplatesDir string `yaml:"templates_dir"`
}

// Public configures what citizens can open without an account.
type Public struct {
	// BaseURL is where the public case pages are served
	// (<base_url>/c/<case number>); when set, replies carry the case's link.
	BaseURL string `yaml:"base_url"`
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
	// Page is the mini-program page a message opens: "{case}" is replaced by
	// the case number and "{id}" by the submission's ID, e.g.
	// "pages/case/index?no={case}". Empty: the message opens no page.
	Page string `yaml:"page"`
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
		HTTP:    HTTP{Listen: "127.0.0.1:8080", StallAfter: Duration(2 * time.Minute), SourceFailures: 3},
		Kafka: Kafka{
			TopicPrefix: "mashangban.", Partitions: 6, ReplicationFactor: 1, GroupPrefix: "mashangban.",
			SessionTimeout:    Duration(10 * time.Second),
			HeartbeatInterval: Duration(time.Second),
			RebalanceTimeout:  Duration(10 * time.Second),
		},
		Examples: true,
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

// LoadFile reads a YAML configuration file over defaults. Unknown keys are
// errors; an empty file (or one of comments only) is an error. Every problem
// in the file is reported, each with its line.
func LoadFile(path string, into *Config) error {
	problems, err := loadFile(path, into)
	if err != nil {
		return err
	}
	if len(problems) > 0 {
		return &Error{Problems: problems}
	}
	return nil
}

// loadFile decodes path over into and records where each setting is in the
// file. A file that cannot be read or parsed is err; unknown keys and values
// of the wrong type are problems, all of them, and the rest of the file is
// decoded regardless, so that validation can report its problems as well.
func loadFile(path string, into *Config) (problems []string, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{Problems: []string{fmt.Sprintf("config file: %v", err)}}
	}
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		return nil, &Error{Problems: []string{located(path, err.Error())}}
	}
	if len(root.Content) == 0 || root.Content[0].Tag == "!!null" {
		return nil, &Error{Problems: []string{fmt.Sprintf("config file %q is empty", path)}}
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(into); err != nil {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return nil, &Error{Problems: []string{located(path, err.Error())}}
		}
		for _, e := range te.Errors {
			problems = append(problems, located(path, e))
		}
	}
	if into.origins == nil {
		into.origins = map[string]string{}
	}
	positions(path, root.Content[0], "", into.origins)
	return problems, nil
}

// located turns yaml's "yaml: line 3: msg" into "path:3: msg".
func located(path, msg string) string {
	msg = strings.TrimPrefix(msg, "yaml: ")
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if n, after, ok := strings.Cut(rest, ": "); ok {
			if _, err := strconv.Atoi(n); err == nil {
				return fmt.Sprintf("%s:%s: %s", path, n, after)
			}
		}
	}
	return path + ": " + msg
}

// positions records the line and column of every value under n, keyed by
// its setting path ("kafka.brokers[1]").
func positions(path string, n *yaml.Node, key string, out map[string]string) {
	at := func(v *yaml.Node) string { return fmt.Sprintf("%s:%d:%d", path, v.Line, v.Column) }
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			sub := n.Content[i].Value
			if key != "" {
				sub = key + "." + sub
			}
			out[sub] = at(n.Content[i+1])
			positions(path, n.Content[i+1], sub, out)
		}
	case yaml.SequenceNode:
		for i, v := range n.Content {
			sub := fmt.Sprintf("%s[%d]", key, i)
			out[sub] = at(v)
			positions(path, v, sub, out)
		}
	}
}

// setOrigin records that the setting at key (and everything under it) now
// comes from origin.
func (c *Config) setOrigin(key, origin string) {
	if c.origins == nil {
		c.origins = map[string]string{}
	}
	for k := range c.origins {
		if strings.HasPrefix(k, key+".") || strings.HasPrefix(k, key+"[") {
			delete(c.origins, k)
		}
	}
	c.origins[key] = origin
}

// origin is where the setting at key came from, or where its nearest parent
// is in the file: a required field that is missing is reported at its
// section. Empty for defaults.
func (c *Config) origin(key string) string {
	for key != "" {
		if o, ok := c.origins[key]; ok {
			return o
		}
		i := strings.LastIndexAny(key, ".[")
		if i < 0 {
			break
		}
		key = key[:i]
	}
	return ""
}

// envKeys are the environment overrides, each with the setting it sets.
// Each key also has a KEY_FILE form for secrets mounted as files (Docker and
// Kubernetes secrets).
var envKeys = []struct{ env, key string }{
	{"MSB_DATA_DIR", "data_dir"}, {"MSB_ROLES", "roles"}, {"MSB_LOG_LEVEL", "log.level"},
	{"MSB_LOG_FORMAT", "log.format"}, {"MSB_HTTP_LISTEN", "http.listen"},
	{"MSB_KAFKA_BROKERS", "kafka.brokers"}, {"MSB_KAFKA_SESSION_TIMEOUT", "kafka.session_timeout"},
	{"MSB_KAFKA_HEARTBEAT_INTERVAL", "kafka.heartbeat_interval"}, {"MSB_KAFKA_TLS_ENABLED", "kafka.tls.enabled"},
	{"MSB_KAFKA_SASL_MECHANISM", "kafka.sasl.mechanism"}, {"MSB_KAFKA_SASL_USERNAME", "kafka.sasl.username"},
	{"MSB_KAFKA_SASL_PASSWORD", "kafka.sasl.password"},
	{"MSB_DB_URL", "db.url"}, {"MSB_DB_PASSWORD", "db.password"}, {"MSB_DB_MIGRATE", "db.migrate"},
	{"MSB_RULES_DIR", "rules.dir"}, {"MSB_EXAMPLES", "examples"},
	{"MSB_HTTP_ENABLE_LIFECYCLE", "http.enable_lifecycle"}, {"MSB_HTTP_TLS_CERT_FILE", "http.tls_cert_file"},
	{"MSB_HTTP_TLS_KEY_FILE", "http.tls_key_file"}, {"MSB_HTTP_PUBLIC_METRICS", "http.public_metrics"},
}

// ApplyEnv overrides c from the environment (lookup is os.LookupEnv in production).
// Source secrets come from MSB_SOURCE_<NAME>_<FIELD> (name upper-cased, '-' as
// '_'), e.g. MSB_SOURCE_WEIBO_COOKIE or MSB_SOURCE_WEIBO_COOKIE_FILE.
func ApplyEnv(c *Config, lookup func(string) (string, bool)) error {
	var problems []string
	// get returns the value of key or of the file named by key_FILE, and
	// records it as the origin of the setting.
	get := func(key, setting string) (string, bool) {
		if v, ok := lookup(key); ok {
			c.setOrigin(setting, key)
			return v, true
		}
		if path, ok := lookup(key + "_FILE"); ok {
			b, err := os.ReadFile(path)
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s_FILE: %v", key, err))
				return "", false
			}
			c.setOrigin(setting, key+"_FILE")
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
	durationVal := func(key, v string, into *Duration) {
		d, err := time.ParseDuration(v)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: bad duration %q (want e.g. \"90s\", \"24h\")", key, v))
			return
		}
		*into = Duration(d)
	}
	for _, e := range envKeys {
		v, ok := get(e.env, e.key)
		if !ok {
			continue
		}
		switch e.env {
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
		case "MSB_KAFKA_SESSION_TIMEOUT":
			durationVal(e.env, v, &c.Kafka.SessionTimeout)
		case "MSB_KAFKA_HEARTBEAT_INTERVAL":
			durationVal(e.env, v, &c.Kafka.HeartbeatInterval)
		case "MSB_KAFKA_TLS_ENABLED":
			c.Kafka.TLS.Enabled = boolVal(e.env, v)
		case "MSB_KAFKA_SASL_MECHANISM":
			c.Kafka.SASL.Mechanism = v
		case "MSB_KAFKA_SASL_USERNAME":
			c.Kafka.SASL.Username = v
		case "MSB_KAFKA_SASL_PASSWORD":
			c.Kafka.SASL.Password = Secret(v)
		case "MSB_DB_URL":
			c.DB.URL = Secret(v)
		case "MSB_DB_PASSWORD":
			c.DB.Password = Secret(v)
		case "MSB_DB_MIGRATE":
			c.DB.Migrate = boolVal(e.env, v)
		case "MSB_RULES_DIR":
			c.Rules.Dir = v
		case "MSB_EXAMPLES":
			c.Examples = boolVal(e.env, v)
		case "MSB_HTTP_ENABLE_LIFECYCLE":
			c.HTTP.EnableLifecycle = boolVal(e.env, v)
		case "MSB_HTTP_TLS_CERT_FILE":
			c.HTTP.TLSCertFile = v
		case "MSB_HTTP_TLS_KEY_FILE":
			c.HTTP.TLSKeyFile = v
		case "MSB_HTTP_PUBLIC_METRICS":
			c.HTTP.PublicMetrics = boolVal(e.env, v)
		}
	}
	for i := range c.Sources {
		s := &c.Sources[i]
		prefix := "MSB_SOURCE_" + strings.ToUpper(strings.ReplaceAll(s.Name, "-", "_")) + "_"
		for _, f := range []struct {
			env, key string
			dst      *Secret
		}{{"COOKIE", "cookie", &s.Cookie}, {"ACCESS_TOKEN", "access_token", &s.AccessToken}, {"APP_SECRET", "app_secret", &s.AppSecret}} {
			if v, ok := get(prefix+f.env, fmt.Sprintf("sources[%d].%s", i, f.key)); ok {
				*f.dst = Secret(v)
			}
		}
	}
	for _, f := range []struct {
		env, key string
		dst      *Secret
	}{
		{"MSB_REPLIES_WEIBO_ACCESS_TOKEN", "replies.weibo.access_token", &c.Replies.Weibo.AccessToken},
		{"MSB_REPLIES_WECHAT_APP_SECRET", "replies.wechat.app_secret", &c.Replies.WeChat.AppSecret},
	} {
		if v, ok := get(f.env, f.key); ok {
			*f.dst = Secret(v)
		}
	}
	for i := range c.Dispatch.Departments {
		d := &c.Dispatch.Departments[i]
		key := "MSB_DEPARTMENT_" + strings.ToUpper(strings.NewReplacer("-", "_", ".", "_").Replace(d.ID)) + "_TOKEN"
		if v, ok := get(key, fmt.Sprintf("dispatch.departments[%d].token", i)); ok {
			d.Token, d.TokenFile = Secret(v), ""
		}
		nkey := strings.TrimSuffix(key, "_TOKEN") + "_NOTIFY_URL"
		if v, ok := get(nkey, fmt.Sprintf("dispatch.departments[%d].notify.url", i)); ok {
			if d.Notify == nil {
				d.Notify = &Notify{}
			}
			d.Notify.URL = Secret(v)
		}
	}
	// Office and administrator tokens: MSB_ACCESS_OFFICE_<NAME>_TOKEN for a
	// listed credential; MSB_OFFICE_TOKEN and MSB_ADMIN_TOKEN add one named
	// "office" or "admin" when none by that name is listed.
	for _, kind := range []struct {
		section string
		list    *[]Credential
	}{{"office", &c.Access.Office}, {"admin", &c.Access.Admin}} {
		for i := range *kind.list {
			cr := &(*kind.list)[i]
			key := "MSB_ACCESS_" + strings.ToUpper(kind.section) + "_" + envName(cr.Name) + "_TOKEN"
			if v, ok := get(key, fmt.Sprintf("access.%s[%d].token", kind.section, i)); ok {
				cr.Token, cr.TokenFile = Secret(v), ""
			}
		}
		key := "MSB_" + strings.ToUpper(kind.section) + "_TOKEN"
		if !slices.ContainsFunc(*kind.list, func(cr Credential) bool { return cr.Name == kind.section }) {
			if v, ok := get(key, fmt.Sprintf("access.%s[%d].token", kind.section, len(*kind.list))); ok {
				*kind.list = append(*kind.list, Credential{Name: kind.section, Token: Secret(v)})
			}
		}
	}
	problems = append(problems, c.ReadTokenFiles()...)
	if len(problems) > 0 {
		sort.Strings(problems)
		return &Error{Problems: problems}
	}
	return nil
}

func envName(s string) string {
	return strings.ToUpper(strings.NewReplacer("-", "_", ".", "_").Replace(s))
}

// ReadTokenFiles reads every token_file of the departments and access
// credentials into their token, and returns a problem for each file that
// cannot be read or that comes with a token besides. Surrounding white
// space (a trailing newline) is not part of the token.
func (c *Config) ReadTokenFiles() []string {
	var problems []string
	read := func(key string, tok *Secret, file *string) {
		if *file == "" {
			return
		}
		if *tok != "" {
			problems = append(problems, fmt.Sprintf("%s: token and token_file are both set", c.located(key)))
			return
		}
		b, err := os.ReadFile(*file)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s_file: cannot read %q: %v", c.located(key), *file, unwrapPath(err)))
			return
		}
		*tok = Secret(strings.TrimSpace(string(b)))
		*file = ""
	}
	for i := range c.Dispatch.Departments {
		d := &c.Dispatch.Departments[i]
		read(fmt.Sprintf("dispatch.departments[%d].token", i), &d.Token, &d.TokenFile)
	}
	for i := range c.Access.Office {
		cr := &c.Access.Office[i]
		read(fmt.Sprintf("access.office[%d].token", i), &cr.Token, &cr.TokenFile)
	}
	for i := range c.Access.Admin {
		cr := &c.Access.Admin[i]
		read(fmt.Sprintf("access.admin[%d].token", i), &cr.Token, &cr.TokenFile)
	}
	return problems
}

// located is key prefixed with where it was set, if known.
func (c *Config) located(key string) string {
	if o := c.origin(key); o != "" {
		return o + ": " + key
	}
	return key
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

// Bounds of durations. Outside them a setting is a mistake (a unit left
// off, "1ms" for "1m") rather than a choice.
const (
	minPollInterval = time.Second // for a platform's API
	maxPollInterval = 24 * time.Hour
	maxKafkaTimeout = 30 * time.Minute
)

// Validate checks the configuration as a whole and reports every problem,
// each naming its setting and, when it was set, where.
func (c *Config) Validate() error {
	var p []string
	// addAs reports a problem with the setting at key, shown as display.
	addAs := func(key, display, format string, args ...any) {
		msg := display + ": " + fmt.Sprintf(format, args...)
		if o := c.origin(key); o != "" {
			msg = o + ": " + msg
		}
		p = append(p, msg)
	}
	add := func(key, format string, args ...any) { addAs(key, key, format, args...) }
	durationIn := func(key string, d Duration, lo, hi time.Duration) {
		if d.D() < lo || d.D() > hi {
			add(key, "%s is out of range (%s to %s)", d, Duration(lo), Duration(hi))
		}
	}

	if c.DataDir == "" {
		add("data_dir", "must not be empty")
	}
	if len(c.Roles) == 0 {
		add("roles", "at least one of %s", strings.Join(AllRoles, ", "))
	}
	seenRole := map[string]bool{}
	for i, r := range c.Roles {
		key := fmt.Sprintf("roles[%d]", i)
		if !slices.Contains(AllRoles, r) {
			addAs(key, "roles", "unknown role %q (want %s)", r, strings.Join(AllRoles, ", "))
		}
		if seenRole[r] {
			addAs(key, "roles", "%q given twice", r)
		}
		seenRole[r] = true
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		add("log.level", "%q is not one of debug, info, warn, error", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		add("log.format", "%q is not one of text, json", c.Log.Format)
	}
	if c.HTTP.Listen != "" {
		// Port 0 asks the system for a free port.
		if msg := checkAddress(c.HTTP.Listen, 0); msg != "" {
			add("http.listen", "%s", msg)
		}
	}
	for i, b := range c.Kafka.Brokers {
		if msg := checkAddress(b, 1); msg != "" {
			addAs(fmt.Sprintf("kafka.brokers[%d]", i), "kafka.brokers", "%s", msg)
		}
	}
	if len(c.Kafka.Brokers) > 0 {
		if c.Kafka.Partitions < 1 {
			add("kafka.partitions", "must be at least 1")
		}
		if c.Kafka.ReplicationFactor < 1 {
			add("kafka.replication_factor", "must be at least 1")
		}
	}
	durationIn("kafka.session_timeout", c.Kafka.SessionTimeout, time.Second, maxKafkaTimeout)
	if h := c.Kafka.HeartbeatInterval; h <= 0 || h > c.Kafka.SessionTimeout/3 {
		add("kafka.heartbeat_interval", "%s must be positive and at most a third of kafka.session_timeout (%s)", h, c.Kafka.SessionTimeout)
	}
	durationIn("kafka.rebalance_timeout", c.Kafka.RebalanceTimeout, time.Second, maxKafkaTimeout)
	t := c.Kafka.TLS
	if !t.Enabled {
		for _, f := range []struct{ key, val string }{
			{"kafka.tls.ca_file", t.CAFile}, {"kafka.tls.cert_file", t.CertFile},
			{"kafka.tls.key_file", t.KeyFile}, {"kafka.tls.server_name", t.ServerName},
		} {
			if f.val != "" {
				add(f.key, "set, but kafka.tls.enabled is false")
			}
		}
	} else if _, key, err := c.Kafka.tlsConfig(); err != nil {
		add(key, "%v", err)
	}
	switch s := c.Kafka.SASL; s.Mechanism {
	case "":
		if s.Username != "" || s.Password != "" {
			add("kafka.sasl.mechanism", "required with kafka.sasl.username or password (%s, %s or %s)", SASLPlain, SASLScramSHA256, SASLScramSHA512)
		}
	case SASLPlain, SASLScramSHA256, SASLScramSHA512:
		if s.Username == "" {
			add("kafka.sasl.username", "required with kafka.sasl.mechanism")
		}
		if s.Password == "" {
			add("kafka.sasl.password", "required with kafka.sasl.mechanism (set it in the file or MSB_KAFKA_SASL_PASSWORD[_FILE])")
		}
		if s.Mechanism == SASLPlain && !t.Enabled {
			add("kafka.sasl.mechanism", "PLAIN sends the password in clear; set kafka.tls.enabled")
		}
	default:
		add("kafka.sasl.mechanism", "unknown mechanism %q (want %s, %s or %s)", s.Mechanism, SASLPlain, SASLScramSHA256, SASLScramSHA512)
	}
	if u := c.DB.URL.Reveal(); u != "" && !hasAnyPrefix(u, "postgres://", "postgresql://", "sqlite:", "file:") {
		add("db.url", "must start with postgres://, postgresql://, sqlite: or file: (got a %q URL)", scheme(u))
	}
	if c.DB.Password != "" {
		u, err := url.Parse(c.DB.URL.Reveal())
		switch {
		case !hasAnyPrefix(c.DB.URL.Reveal(), "postgres://", "postgresql://"):
			add("db.password", "only for a postgres:// db.url")
		case err != nil || u.User == nil || u.User.Username() == "":
			add("db.password", "db.url must name a user (postgres://USER@host/db)")
		default:
			if _, has := u.User.Password(); has {
				add("db.password", "db.url already carries a password")
			}
		}
	}
	durationIn("dispatch.repeat_window", c.Dispatch.RepeatWindow, time.Minute, 366*24*time.Hour)
	durationIn("dispatch.clock_interval", c.Dispatch.ClockInterval, time.Second, time.Hour)
	durationIn("dispatch.remind_before", c.Dispatch.RemindBefore, 0, 30*24*time.Hour)
	seenDept := map[string]bool{}
	for i, d := range c.Dispatch.Departments {
		where := fmt.Sprintf("dispatch.departments[%d]", i)
		if d.ID == "" {
			add(where+".id", "must not be empty")
		}
		if seenDept[d.ID] {
			add(where+".id", "%q given twice", d.ID)
		}
		seenDept[d.ID] = true
		if n := d.Notify; n != nil {
			if u, err := url.Parse(n.URL.Reveal()); n.URL == "" || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
				// The URL holds the robot's key: not quoted.
				add(where+".notify.url", "must be an http(s) URL (set it in the file or MSB_DEPARTMENT_<ID>_NOTIFY_URL[_FILE])")
			}
			if n.Format != "wecom" && n.Format != "json" {
				add(where+".notify.format", "is %q, want wecom or json", n.Format)
			}
			if len(n.MentionedMobileList) > 0 && n.Format != "wecom" {
				add(where+".notify.mentioned_mobile_list", "is for the wecom format only")
			}
		}
		// A department that only takes notices needs no token.
		if (d.Token != "" || d.TokenFile != "" || d.Notify == nil) && len(d.Token.Reveal()) < MinTokenLength && d.TokenFile == "" {
			add(where+".token", "must be at least %d characters (set it in the file, token_file or MSB_DEPARTMENT_<ID>_TOKEN[_FILE])", MinTokenLength)
		}
	}
	seenName := map[string]bool{}
	for id := range seenDept {
		seenName[id] = true
	}
	for _, kind := range []struct {
		section string
		list    []Credential
	}{{"office", c.Access.Office}, {"admin", c.Access.Admin}} {
		for i, cr := range kind.list {
			where := fmt.Sprintf("access.%s[%d]", kind.section, i)
			if cr.Name == "" {
				add(where+".name", "must not be empty")
			} else if seenName[cr.Name] {
				add(where+".name", "%q is already a department or another credential", cr.Name)
			}
			seenName[cr.Name] = true
			if len(cr.Token.Reveal()) < MinTokenLength && cr.TokenFile == "" {
				add(where+".token", "must be at least %d characters (set it in the file, token_file or MSB_ACCESS_%s_<NAME>_TOKEN[_FILE])", MinTokenLength, strings.ToUpper(kind.section))
			}
		}
	}
	if (c.HTTP.TLSCertFile == "") != (c.HTTP.TLSKeyFile == "") {
		add("http.tls_cert_file", "http.tls_cert_file and http.tls_key_file go together")
	} else if c.HTTP.TLSCertFile != "" {
		if _, err := tls.LoadX509KeyPair(c.HTTP.TLSCertFile, c.HTTP.TLSKeyFile); err != nil {
			add("http.tls_cert_file", "cannot load %q with key %q: %v", c.HTTP.TLSCertFile, c.HTTP.TLSKeyFile, unwrapPath(err))
		}
	}
	durationIn("http.stall_after", c.HTTP.StallAfter, time.Second, 24*time.Hour)
	if c.HTTP.SourceFailures < 1 || c.HTTP.SourceFailures > 1000 {
		add("http.source_failures", "%d is out of range (1 to 1000)", c.HTTP.SourceFailures)
	}
	seenSrc := map[string]bool{}
	for i, s := range c.Sources {
		key := fmt.Sprintf("sources[%d]", i)
		where := key
		if s.Name != "" {
			where = fmt.Sprintf("sources[%q]", s.Name)
		}
		field := func(f, format string, args ...any) { addAs(key+"."+f, where+"."+f, format, args...) }
		if s.Name == "" {
			field("name", "must not be empty")
		}
		if seenSrc[s.Name] {
			field("name", "given twice")
		}
		seenSrc[s.Name] = true
		// A replay file is ours to read as fast as we like; a platform is not.
		lo := minPollInterval
		if s.Type == SourceReplay {
			lo = time.Millisecond
		}
		if s.Interval != 0 && (s.Interval.D() < lo || s.Interval.D() > maxPollInterval) {
			field("interval", "%s is out of range (%s to %s; 0 for the default)", s.Interval, Duration(lo), Duration(maxPollInterval))
		}
		need := func(f, val string) {
			if val == "" {
				field(f, "required for type %q", s.Type)
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
					field("endpoints", "unknown endpoint %q (want mentions, search_topics)", e)
				}
				if e == "search_topics" && s.Topic == "" {
					field("topic", "required for endpoint search_topics")
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
			field("type", "required (one of replay, weibo-mobile, weibo-open, wechat-miniprogram)")
		default:
			field("type", "unknown source type %q (want replay, weibo-mobile, weibo-open, wechat-miniprogram)", s.Type)
		}
	}
	if w := c.Replies.Weibo; w.Enabled && !c.Demo && w.AccessToken == "" {
		add("replies.weibo.access_token", "required when replies.weibo.enabled")
	}
	if b := c.Public.BaseURL; b != "" {
		if u, err := url.Parse(b); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			add("public.base_url", "%q is not an http(s) URL without query (e.g. https://12345.example.gov.cn)", b)
		}
	}
	if p := c.Replies.WeChat.Page; p != "" && (strings.HasPrefix(p, "/") || strings.Contains(p, "://") || strings.ContainsAny(p, " \t\n")) {
		add("replies.wechat.page", "%q is not a mini-program page path (e.g. pages/case/index?no={case})", p)
	}
	if w := c.Replies.WeChat; w.Enabled && !c.Demo {
		if w.AppID == "" || w.AppSecret == "" {
			addAs("replies.wechat", "replies.wechat.app_id, replies.wechat.app_secret", "required when replies.wechat.enabled")
		}
		if w.TemplateID == "" {
			add("replies.wechat.template_id", "required when replies.wechat.enabled")
		}
	}
	if len(p) > 0 {
		return &Error{Problems: p}
	}
	return nil
}

// checkAddress checks a host:port address whose port is at least minPort.
func checkAddress(addr string, minPort int) string {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Sprintf("%q is not host:port", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < minPort || n > 65535 {
		return fmt.Sprintf("%q: port must be a number from %d to 65535", addr, minPort)
	}
	return ""
}

// TLSConfig is the TLS configuration for the brokers, or nil when
// kafka.tls.enabled is false. It reads the CA, certificate and key files.
func (k Kafka) TLSConfig() (*tls.Config, error) {
	c, key, err := k.tlsConfig()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	return c, nil
}

// tlsConfig is TLSConfig with the setting that is at fault.
func (k Kafka) tlsConfig() (*tls.Config, string, error) {
	t := k.TLS
	if !t.Enabled {
		return nil, "", nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, "kafka.tls.ca_file", fmt.Errorf("cannot read %q: %v", t.CAFile, unwrapPath(err))
		}
		c.RootCAs = x509.NewCertPool()
		if !c.RootCAs.AppendCertsFromPEM(pem) {
			return nil, "kafka.tls.ca_file", fmt.Errorf("%q holds no PEM certificate", t.CAFile)
		}
	}
	switch {
	case t.CertFile == "" && t.KeyFile == "":
	case t.CertFile == "":
		return nil, "kafka.tls.cert_file", errors.New("required with kafka.tls.key_file")
	case t.KeyFile == "":
		return nil, "kafka.tls.key_file", errors.New("required with kafka.tls.cert_file")
	default:
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, "kafka.tls.cert_file", fmt.Errorf("cannot load %q with key %q: %v", t.CertFile, t.KeyFile, unwrapPath(err))
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, "", nil
}

// ReplayExamples reports whether the example posts are to be replayed: with
// no sources configured, not in demo mode, and examples on.
func (c *Config) ReplayExamples() bool { return c.Examples && len(c.Sources) == 0 && !c.Demo }

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

// DBURL is the store URL, defaulting to the SQLite file in the data
// directory, with db.password put in.
func (c *Config) DBURL() string {
	if u := c.DB.URL.Reveal(); u != "" {
		if p := c.DB.Password.Reveal(); p != "" {
			if pu, err := url.Parse(u); err == nil && pu.User != nil {
				pu.User = url.UserPassword(pu.User.Username(), p)
				return pu.String()
			}
		}
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
