package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"
)

// Parse builds the configuration for a command: defaults, then the file named
// by --config (if any), then the environment, then the flags that were given.
// It validates the result and reports every problem of the file, the
// environment and the whole at once. Remaining positional arguments are
// returned.
func Parse(name string, args []string, lookup func(string) (string, bool), stderr io.Writer) (Config, []string, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		file, dataDir, roles, brokers, dbURL, rulesDir, listen, logLevel, logFormat string
		saslMechanism, saslUsername                                                 string
		migrate, demo, kafkaTLS                                                     bool
		lifecycle                                                                   bool
		tlsCert, tlsKey                                                             string
	)
	fs.StringVar(&file, "config", "", "YAML configuration file")
	fs.StringVar(&dataDir, "data.dir", "", "data directory for the embedded default (SQLite file, in-process log, rules)")
	fs.StringVar(&roles, "roles", "", "comma-separated stages to run: ingest,classify,dispatch")
	fs.StringVar(&brokers, "kafka.brokers", "", "comma-separated Kafka brokers (host:port); empty: in-process log")
	fs.BoolVar(&kafkaTLS, "kafka.tls", false, "connect to the Kafka brokers with TLS")
	fs.StringVar(&saslMechanism, "kafka.sasl.mechanism", "", "Kafka SASL mechanism: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 (password from MSB_KAFKA_SASL_PASSWORD[_FILE])")
	fs.StringVar(&saslUsername, "kafka.sasl.username", "", "Kafka SASL user name")
	fs.StringVar(&dbURL, "db.url", "", "database URL: postgres://... or sqlite:PATH; empty: SQLite in the data dir")
	fs.BoolVar(&migrate, "db.migrate", false, "migrate an old database schema at start instead of refusing it")
	fs.StringVar(&rulesDir, "rules.dir", "", "directory of routing rule files; empty: <data.dir>/rules")
	fs.StringVar(&listen, "http.listen", "", "HTTP listen address (host:port)")
	fs.BoolVar(&lifecycle, "http.enable-lifecycle", false, "enable POST /-/reload for administrators")
	fs.StringVar(&tlsCert, "http.tls-cert-file", "", "PEM certificate file: serve HTTPS (with --http.tls-key-file)")
	fs.StringVar(&tlsKey, "http.tls-key-file", "", "PEM key file of --http.tls-cert-file")
	fs.StringVar(&logLevel, "log.level", "", "log level: debug, info, warn, error")
	fs.StringVar(&logFormat, "log.format", "", "log format: text, json")
	fs.BoolVar(&demo, "demo", false, "start fake Weibo and WeChat servers with realistic posts and poll them")
	if err := fs.Parse(args); err != nil {
		return Config{}, nil, &Error{Problems: []string{err.Error()}}
	}

	c := Default()
	if file == "" {
		file, _ = lookup("MSB_CONFIG")
	}
	var problems []string
	if file != "" {
		p, err := loadFile(file, &c)
		if err != nil {
			return Config{}, nil, err
		}
		problems = append(problems, p...)
	}
	if err := ApplyEnv(&c, lookup); err != nil {
		var ce *Error
		if !errors.As(err, &ce) {
			return Config{}, nil, err
		}
		problems = append(problems, ce.Problems...)
	}
	fs.Visit(func(f *flag.Flag) {
		if key, ok := flagKeys[f.Name]; ok {
			c.setOrigin(key, "--"+f.Name)
		}
		switch f.Name {
		case "data.dir":
			c.DataDir = dataDir
		case "roles":
			c.Roles = splitList(roles)
		case "kafka.brokers":
			c.Kafka.Brokers = splitList(brokers)
		case "kafka.tls":
			c.Kafka.TLS.Enabled = kafkaTLS
		case "kafka.sasl.mechanism":
			c.Kafka.SASL.Mechanism = saslMechanism
		case "kafka.sasl.username":
			c.Kafka.SASL.Username = saslUsername
		case "db.url":
			c.DB.URL = Secret(dbURL)
		case "db.migrate":
			c.DB.Migrate = migrate
		case "rules.dir":
			c.Rules.Dir = rulesDir
		case "http.listen":
			c.HTTP.Listen = listen
		case "http.enable-lifecycle":
			c.HTTP.EnableLifecycle = lifecycle
		case "http.tls-cert-file":
			c.HTTP.TLSCertFile = tlsCert
		case "http.tls-key-file":
			c.HTTP.TLSKeyFile = tlsKey
		case "log.level":
			c.Log.Level = logLevel
		case "log.format":
			c.Log.Format = logFormat
		case "demo":
			c.Demo = demo
		}
	})
	if _, set := c.origins["examples"]; !set && c.DB.URL != "" {
		c.Examples = false
	}
	if err := c.Validate(); err != nil {
		var ce *Error
		if !errors.As(err, &ce) {
			return Config{}, nil, err
		}
		problems = append(problems, ce.Problems...)
	}
	if len(problems) > 0 {
		return Config{}, nil, &Error{Problems: problems}
	}
	return c, fs.Args(), nil
}

// flagKeys are the settings the flags set.
var flagKeys = map[string]string{
	"data.dir": "data_dir", "roles": "roles", "kafka.brokers": "kafka.brokers", "kafka.tls": "kafka.tls.enabled",
	"kafka.sasl.mechanism": "kafka.sasl.mechanism", "kafka.sasl.username": "kafka.sasl.username",
	"db.url": "db.url", "db.migrate": "db.migrate", "rules.dir": "rules.dir", "http.listen": "http.listen",
	"log.level": "log.level", "log.format": "log.format", "demo": "demo",
	"http.enable-lifecycle": "http.enable_lifecycle", "http.tls-cert-file": "http.tls_cert_file", "http.tls-key-file": "http.tls_key_file",
}

// Describe renders the effective configuration for the log, secrets redacted.
func (c Config) Describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "data_dir=%s roles=%s db=%s rules=%s http=%s", c.DataDir, strings.Join(c.Roles, ","), redactURL(c.DBURL()), c.RulesDir(), c.HTTP.Listen)
	if c.HTTP.TLSCertFile != "" {
		b.WriteString(" http_tls=on")
	}
	if c.HTTP.EnableLifecycle {
		b.WriteString(" lifecycle=on")
	}
	fmt.Fprintf(&b, " departments=%d office=%d admin=%d", len(c.Dispatch.Departments), len(c.Access.Office), len(c.Access.Admin))
	if len(c.Kafka.Brokers) > 0 {
		fmt.Fprintf(&b, " kafka=%s session_timeout=%s", strings.Join(c.Kafka.Brokers, ","), c.Kafka.SessionTimeout)
		if c.Kafka.TLS.Enabled {
			b.WriteString(" kafka_tls=on")
		}
		if s := c.Kafka.SASL; s.Mechanism != "" {
			fmt.Fprintf(&b, " kafka_sasl=%s kafka_user=%s", s.Mechanism, s.Username)
		}
	} else {
		b.WriteString(" log=in-process")
	}
	if c.ReplayExamples() {
		b.WriteString(" sources=examples")
	}
	return b.String()
}

// redactURL hides a password in a database URL: in its user info and in
// query parameters (pgx takes password= and sslpassword= there too).
func redactURL(u string) string {
	u, query, hasQuery := strings.Cut(u, "?")
	at := strings.LastIndex(u, "@")
	scheme := strings.Index(u, "://")
	if at >= 0 && scheme >= 0 && at > scheme {
		creds := u[scheme+3 : at]
		if i := strings.Index(creds, ":"); i >= 0 {
			u = u[:scheme+3] + creds[:i] + ":<secret>" + u[at:]
		}
	}
	if !hasQuery {
		return u
	}
	params := strings.Split(query, "&")
	for i, kv := range params {
		k, _, _ := strings.Cut(kv, "=")
		if uk, err := url.QueryUnescape(k); err == nil {
			k = uk
		}
		if lk := strings.ToLower(k); strings.Contains(lk, "password") || strings.Contains(lk, "secret") {
			params[i] = k + "=<secret>"
		}
	}
	return u + "?" + strings.Join(params, "&")
}
