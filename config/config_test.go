package config

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParseEmbeddedDefault(t *testing.T) {
	c, rest, err := Parse("run", nil, env(nil), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rest) != 0 {
		t.Fatalf("rest = %q", rest)
	}
	if got, want := c.DBURL(), "sqlite:"+filepath.Join("mashangban-data", "mashangban.db"); got != want {
		t.Errorf("DBURL = %q, want %q", got, want)
	}
	if got, want := c.RulesDir(), filepath.Join("mashangban-data", "rules"); got != want {
		t.Errorf("RulesDir = %q, want %q", got, want)
	}
	if len(c.Kafka.Brokers) != 0 || !c.HasRole(RoleIngest) || !c.HasRole(RoleClassify) || !c.HasRole(RoleDispatch) {
		t.Errorf("default config = %+v", c)
	}
	if c.HTTP.Listen != "127.0.0.1:8080" {
		t.Errorf("listen = %q", c.HTTP.Listen)
	}
}

func TestPrecedenceFileEnvFlags(t *testing.T) {
	file := writeFile(t, "c.yaml", "http: {listen: \"127.0.0.1:1111\"}\nrules: {dir: /from/file}\ndb: {url: \"sqlite:/from/file.db\"}\n")
	c, _, err := Parse("run", []string{"--config", file, "--rules.dir", "/from/flag"},
		env(map[string]string{"MSB_HTTP_LISTEN": "127.0.0.1:2222", "MSB_RULES_DIR": "/from/env"}), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTP.Listen != "127.0.0.1:2222" {
		t.Errorf("env should override file: listen = %q", c.HTTP.Listen)
	}
	if c.Rules.Dir != "/from/flag" {
		t.Errorf("flag should override env: rules.dir = %q", c.Rules.Dir)
	}
	if c.DBURL() != "sqlite:/from/file.db" {
		t.Errorf("file value lost: db.url = %q", c.DBURL())
	}
}

func TestSecretsFromFileAndNeverPrinted(t *testing.T) {
	secret := writeFile(t, "cookie", "SUB=abc123secret\n")
	cfgFile := writeFile(t, "c.yaml", "sources:\n  - {name: weibo, type: weibo-mobile, topic: 马上办}\n")
	c, _, err := Parse("run", []string{"--config", cfgFile}, env(map[string]string{"MSB_SOURCE_WEIBO_COOKIE_FILE": secret}), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Sources[0].Cookie.Reveal(); got != "SUB=abc123secret" {
		t.Fatalf("cookie = %q", got)
	}
	var logBuf bytes.Buffer
	slog.New(slog.NewTextHandler(&logBuf, nil)).Info("cfg", "cookie", c.Sources[0].Cookie, "config", c)
	js, _ := json.Marshal(c)
	for name, out := range map[string]string{
		"fmt %v": fmt.Sprintf("%v", c), "fmt %+v": fmt.Sprintf("%+v", c), "fmt %#v": fmt.Sprintf("%#v", c.Sources[0].Cookie),
		"slog": logBuf.String(), "json": string(js), "describe": c.Describe(),
	} {
		if strings.Contains(out, "abc123secret") {
			t.Errorf("%s printed the secret: %s", name, out)
		}
	}
}

func TestDescribeRedactsDatabasePassword(t *testing.T) {
	for _, u := range []string{
		"postgres://msb:hunter2@db:5432/msb",
		"postgres://msb@db:5432/msb?sslmode=disable&password=hunter2",
		"postgres://msb@db:5432/msb?Password=hunter2&sslpassword=hunter2",
		"postgres://msb:hunter2@db:5432/msb?password=hunter2",
	} {
		c := Default()
		c.DB.URL = Secret(u)
		if d := c.Describe(); strings.Contains(d, "hunter2") || !strings.Contains(d, "<secret>") || !strings.Contains(d, "@db:5432/msb") {
			t.Errorf("Describe(%s) = %q", u, d)
		}
	}
}

// TestAccessCredentials: office and administrator tokens from the file,
// from token_file, from MSB_ACCESS_*_TOKEN[_FILE] and MSB_ADMIN_TOKEN_FILE;
// a department's token from token_file; lifecycle and TLS settings from
// flags; none of the tokens printed.
func TestAccessCredentials(t *testing.T) {
	deptFile := writeFile(t, "cgj", "cgj-token-from-file-0001\n")
	officeFile := writeFile(t, "office", "office-token-from-file-0002\n")
	adminFile := writeFile(t, "admin", "admin-token-from-env-file-0003\n")
	cfgFile := writeFile(t, "c.yaml", fmt.Sprintf(`dispatch:
  departments:
    - {id: cgj, token_file: %q}
    - {id: duty, token: supervisor-token-in-yaml-04, supervisor: true}
access:
  office:
    - {name: duty-office, token_file: %q}
    - {name: night-desk}
`, deptFile, officeFile))
	c, _, err := Parse("run", []string{"--config", cfgFile, "--http.enable-lifecycle"}, env(map[string]string{
		"MSB_ACCESS_OFFICE_NIGHT_DESK_TOKEN": "night-token-from-env-0005",
		"MSB_ADMIN_TOKEN_FILE":               adminFile,
	}), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Dispatch.Departments[0].Token.Reveal(); got != "cgj-token-from-file-0001" {
		t.Errorf("department token_file: %q", got)
	}
	if len(c.Access.Office) != 2 || c.Access.Office[0].Token.Reveal() != "office-token-from-file-0002" || c.Access.Office[1].Token.Reveal() != "night-token-from-env-0005" {
		t.Errorf("office = %+v", c.Access.Office)
	}
	if len(c.Access.Admin) != 1 || c.Access.Admin[0].Name != "admin" || c.Access.Admin[0].Token.Reveal() != "admin-token-from-env-file-0003" {
		t.Errorf("admin = %+v", c.Access.Admin)
	}
	if !c.HTTP.EnableLifecycle {
		t.Error("--http.enable-lifecycle not applied")
	}
	if d := c.Describe(); !strings.Contains(d, "lifecycle=on") || !strings.Contains(d, "departments=2 office=2 admin=1") {
		t.Errorf("Describe = %q", d)
	}
	var logBuf bytes.Buffer
	slog.New(slog.NewTextHandler(&logBuf, nil)).Info("cfg", "config", c)
	js, _ := json.Marshal(c)
	for name, out := range map[string]string{"fmt": fmt.Sprintf("%+v", c), "slog": logBuf.String(), "json": string(js), "describe": c.Describe()} {
		for _, secret := range []string{"token-from-file", "token-in-yaml", "token-from-env"} {
			if strings.Contains(out, secret) {
				t.Errorf("%s printed a token: %s", name, out)
			}
		}
	}
}

func TestBadConfiguration(t *testing.T) {
	for _, tc := range []struct {
		name string
		file string
		args []string
		env  map[string]string
		want []string // every one must appear in the error
	}{
		{name: "unknown key", file: "htp: {listen: x}\n", want: []string{`field htp not found`}},
		{name: "unknown nested key", file: "kafka: {broker: [a:1]}\n", want: []string{"field broker not found"}},
		{name: "bad duration", file: "dispatch: {repeat_window: soon}\n", want: []string{`bad duration "soon"`}},
		{name: "bad roles and log level together", args: []string{"--roles", "ingest,judge", "--log.level", "loud"},
			want: []string{`roles: unknown role "judge"`, `log.level: "loud"`}},
		{name: "bad listen", args: []string{"--http.listen", "8080"}, want: []string{`http.listen: "8080" is not host:port`}},
		{name: "bad broker", args: []string{"--kafka.brokers", "kafka"}, want: []string{`kafka.brokers: "kafka" is not host:port`}},
		{name: "bad db scheme", args: []string{"--db.url", "mysql://x"}, want: []string{`db.url: must start with`, `"mysql"`}},
		{name: "source missing fields", file: "sources:\n  - {name: mp, type: wechat-miniprogram}\n",
			want: []string{`sources["mp"].env: required`, `sources["mp"].collection: required`, `sources["mp"].app_secret: required`}},
		{name: "unknown source type", file: "sources:\n  - {name: x, type: douyin}\n", want: []string{`unknown source type "douyin"`}},
		{name: "short department token", file: "dispatch:\n  departments:\n    - {id: cgj, token: short}\n",
			want: []string{"dispatch.departments[0].token: must be at least 16"}},
		{name: "short office token and duplicate name", file: "dispatch:\n  departments:\n    - {id: cgj, token: 0123456789abcdef}\naccess:\n  office: [{name: cgj, token: short}]\n  admin: [{token: 0123456789abcdefgh}]\n",
			want: []string{"access.office[0].token: must be at least 16", `access.office[0].name: "cgj" is already`, "access.admin[0].name: must not be empty"}},
		{name: "token and token_file", file: "access:\n  admin: [{name: ops, token: 0123456789abcdefgh, token_file: /x}]\n",
			want: []string{"access.admin[0].token: token and token_file are both set"}},
		{name: "missing token_file", file: "access:\n  admin: [{name: ops, token_file: /nonexistent/admin-token}]\n",
			want: []string{"access.admin[0].token_file: cannot read", "no such file"}},
		{name: "tls cert without key", args: []string{"--http.tls-cert-file", "/x.pem"}, want: []string{"http.tls_cert_file and http.tls_key_file go together"}},
		{name: "stall_after out of range", file: "http: {stall_after: 1ms}\n", want: []string{"http.stall_after: 1ms is out of range"}},
		{name: "bad notice webhook", file: "dispatch:\n  departments:\n    - {id: yushan.gov, notify: {url: 'qyapi/send?key=k-secret-77', format: dingtalk, mentioned_mobile_list: ['1']}}\n",
			want: []string{"dispatch.departments[0].notify.url: must be an http(s) URL", `dispatch.departments[0].notify.format: is "dingtalk", want wecom or json`,
				"dispatch.departments[0].notify.mentioned_mobile_list: is for the wecom format only"}},
		{name: "department with neither token nor webhook", file: "dispatch:\n  departments:\n    - {id: yushan.gov}\n",
			want: []string{"dispatch.departments[0].token: must be at least 16"}},
		{name: "bad env bool", env: map[string]string{"MSB_DB_MIGRATE": "perhaps"}, want: []string{`MSB_DB_MIGRATE: "perhaps"`}},
		{name: "missing secret file", env: map[string]string{"MSB_DB_URL_FILE": "/nonexistent/db-url"}, want: []string{"MSB_DB_URL_FILE", "no such file"}},
		{name: "missing config file", args: []string{"--config", "/nonexistent/c.yaml"}, want: []string{"config file", "no such file"}},
		{name: "unknown flag", args: []string{"--kafka.broker", "x:1"}, want: []string{"flag provided but not defined: -kafka.broker"}},

		// An empty file is a mistake (a wrong path, a volume not mounted),
		// not a request for the defaults.
		{name: "empty file", file: "\n", want: []string{`config file "FILE" is empty`}},
		{name: "comments only", file: "# kafka:\n#   brokers: [kafka:9092]\n", want: []string{`config file "FILE" is empty`}},
		{name: "empty document", file: "---\n", want: []string{`config file "FILE" is empty`}},
		{name: "syntax error with its line", file: "http:\n  listen: [\n", want: []string{"FILE:2: did not find expected node content"}},

		// Every problem at once, each where it is.
		{name: "all decode and validation errors with lines",
			file: "htp: {listen: x}\nkafka:\n  session_timeout: soon\n  partitions: many\nlog: {level: loud}\nhttp: {listen: \"127.0.0.1:99999\"}\n",
			want: []string{"FILE:1: field htp not found", `FILE:3: bad duration "soon"`, "FILE:4: cannot unmarshal !!str `many`",
				`FILE:5:14: log.level: "loud" is not one of`, `FILE:6:16: http.listen: "127.0.0.1:99999": port must be a number from 0 to 65535`}},
		{name: "env and file errors together", file: "log: {format: xml}\n", env: map[string]string{"MSB_DB_MIGRATE": "perhaps"},
			want: []string{`MSB_DB_MIGRATE: "perhaps"`, `FILE:1:15: log.format: "xml"`}},
		{name: "missing field reported at its section", file: "sources:\n  - name: mp\n    type: wechat-miniprogram\n",
			want: []string{`FILE:2:5: sources["mp"].env: required`}},
		{name: "env value blamed on the variable", file: "http: {listen: \"127.0.0.1:1\"}\n", env: map[string]string{"MSB_HTTP_LISTEN": "127.0.0.1:70000"},
			want: []string{`MSB_HTTP_LISTEN: http.listen: "127.0.0.1:70000": port must be`}},
		{name: "flag value blamed on the flag", args: []string{"--kafka.brokers", "kafka:9092,kafka:0"},
			want: []string{`--kafka.brokers: kafka.brokers: "kafka:0": port must be a number from 1 to 65535`}},

		// Ports and durations in range.
		{name: "listen port too big", args: []string{"--http.listen", "0.0.0.0:99999"}, want: []string{`"0.0.0.0:99999": port must be a number from 0 to 65535`}},
		{name: "listen port not a number", args: []string{"--http.listen", "localhost:http"}, want: []string{`"localhost:http": port must be a number`}},
		{name: "broker port too big", file: "kafka:\n  brokers: [\"kafka:9092\", \"kafka:65536\"]\n",
			want: []string{`FILE:2:27: kafka.brokers: "kafka:65536": port must be a number from 1 to 65535`}},
		{name: "session timeout zero", file: "kafka: {session_timeout: 0s}\n", want: []string{"kafka.session_timeout: 0s is out of range (1s to 30m)"}},
		{name: "session timeout an hour", env: map[string]string{"MSB_KAFKA_SESSION_TIMEOUT": "1h"},
			want: []string{"MSB_KAFKA_SESSION_TIMEOUT: kafka.session_timeout: 1h is out of range (1s to 30m)"}},
		{name: "heartbeat too slow for the session", file: "kafka: {session_timeout: 6s, heartbeat_interval: 3s}\n",
			want: []string{"kafka.heartbeat_interval: 3s must be positive and at most a third of kafka.session_timeout (6s)"}},
		{name: "heartbeat negative", file: "kafka: {heartbeat_interval: -1s}\n", want: []string{"kafka.heartbeat_interval: -1s must be positive"}},
		{name: "rebalance timeout too short", file: "kafka: {rebalance_timeout: 10ms}\n", want: []string{"kafka.rebalance_timeout: 10ms is out of range"}},
		{name: "bad duration from env", env: map[string]string{"MSB_KAFKA_HEARTBEAT_INTERVAL": "1"}, want: []string{`MSB_KAFKA_HEARTBEAT_INTERVAL: bad duration "1"`}},
		{name: "clock interval of a millisecond", file: "dispatch: {clock_interval: 1ms}\n", want: []string{"dispatch.clock_interval: 1ms is out of range (1s to 1h)"}},
		{name: "repeat window of years", file: "dispatch: {repeat_window: 100000h}\n", want: []string{"dispatch.repeat_window: 100000h is out of range"}},
		{name: "negative remind before", file: "dispatch: {remind_before: -1h}\n", want: []string{"dispatch.remind_before: -1h is out of range"}},
		{name: "public base url not a URL", file: "public: {base_url: msb.example.cn/cases}\n", want: []string{`public.base_url: "msb.example.cn/cases" is not an http(s) URL`}},
		{name: "public base url with query", file: "public: {base_url: 'https://msb.example.cn/?a=1'}\n", want: []string{`public.base_url:`}},
		{name: "wechat page not a page path", file: "replies: {wechat: {page: 'https://msb.example.cn/c/{case}'}}\n", want: []string{`replies.wechat.page: "https://msb.example.cn/c/{case}" is not a mini-program page path`}},
		{name: "poll interval too short", file: "sources:\n  - {name: w, type: weibo-mobile, topic: 马上办, cookie: SUB=x, interval: 10ms}\n",
			want: []string{`sources["w"].interval: 10ms is out of range (1s to 24h; 0 for the default)`}},
		{name: "replay interval too long", file: "sources:\n  - {name: r, type: replay, file: p.jsonl, interval: 48h}\n",
			want: []string{`FILE:2:54: sources["r"].interval: 48h is out of range (1ms to 24h; 0 for the default)`}},

		// Kafka TLS and SASL.
		{name: "tls file without tls", file: "kafka: {tls: {ca_file: /etc/ca.pem}}\n", want: []string{"kafka.tls.ca_file: set, but kafka.tls.enabled is false"}},
		{name: "missing ca file", file: "kafka: {tls: {enabled: true, ca_file: /nonexistent/ca.pem}}\n",
			want: []string{`kafka.tls.ca_file: cannot read "/nonexistent/ca.pem": no such file`}},
		{name: "ca file not pem", file: "kafka: {tls: {enabled: true, ca_file: config_test.go}}\n", want: []string{`kafka.tls.ca_file: "config_test.go" holds no PEM certificate`}},
		{name: "cert without key", file: "kafka: {tls: {enabled: true, cert_file: /etc/c.pem}}\n", want: []string{"kafka.tls.key_file: required with kafka.tls.cert_file"}},
		{name: "unknown sasl mechanism", args: []string{"--kafka.sasl.mechanism", "GSSAPI"}, want: []string{`kafka.sasl.mechanism: unknown mechanism "GSSAPI"`}},
		{name: "sasl without password", file: "kafka: {sasl: {mechanism: SCRAM-SHA-512, username: msb}}\n",
			want: []string{"kafka.sasl.password: required with kafka.sasl.mechanism"}},
		{name: "sasl without user or mechanism", env: map[string]string{"MSB_KAFKA_SASL_PASSWORD": "pw"},
			want: []string{"kafka.sasl.mechanism: required with kafka.sasl.username or password"}},
		{name: "plain without tls", file: "kafka: {sasl: {mechanism: PLAIN, username: msb}}\n", env: map[string]string{"MSB_KAFKA_SASL_PASSWORD": "pw"},
			want: []string{"kafka.sasl.mechanism: PLAIN sends the password in clear; set kafka.tls.enabled"}},

		// The database password as a separate secret.
		{name: "db password for sqlite", env: map[string]string{"MSB_DB_PASSWORD": "pw"}, want: []string{"db.password: only for a postgres:// db.url"}},
		{name: "db password twice", args: []string{"--db.url", "postgres://msb:one@db/msb"}, env: map[string]string{"MSB_DB_PASSWORD": "two"},
			want: []string{"db.password: db.url already carries a password"}},
		{name: "db password without user", args: []string{"--db.url", "postgres://db/msb"}, env: map[string]string{"MSB_DB_PASSWORD": "two"},
			want: []string{"db.password: db.url must name a user"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.args
			file := ""
			if tc.file != "" {
				file = writeFile(t, "c.yaml", tc.file)
				args = append([]string{"--config", file}, args...)
			}
			_, _, err := Parse("run", args, env(tc.env), &bytes.Buffer{})
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if w = strings.ReplaceAll(w, "FILE", file); !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			for k, v := range tc.env {
				if strings.Contains(k, "PASSWORD") && strings.Contains(err.Error(), v) {
					t.Errorf("error %q prints %s", err, k)
				}
			}
			if strings.Contains(err.Error(), "goroutine") || strings.Contains(err.Error(), "panic") {
				t.Errorf("error looks like a stack trace: %q", err)
			}
		})
	}
}

func TestCheckDataDir(t *testing.T) {
	if os.Getuid() == 0 {
		// root ignores permission bits; use a path under a regular file instead.
		f := writeFile(t, "plain", "")
		c := Default()
		c.DataDir = filepath.Join(f, "data")
		err := c.CheckDataDir()
		if err == nil || !strings.Contains(err.Error(), "data_dir: cannot create") {
			t.Fatalf("err = %v", err)
		}
		return
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o500)
	c := Default()
	c.DataDir = dir
	if err := c.CheckDataDir(); err == nil || !strings.Contains(err.Error(), "is not writable") {
		t.Fatalf("err = %v", err)
	}
}

// writePKI writes a CA certificate, and a server and a client certificate
// with their keys signed by it, as PEM files; it returns their paths and the
// server's certificate.
func writePKI(t *testing.T) (caFile, certFile, keyFile string, server tls.Certificate) {
	t.Helper()
	dir := t.TempDir()
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	caKey := newKey()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	issue := func(serial int64, name string, usage x509.ExtKeyUsage) ([]byte, *ecdsa.PrivateKey) {
		k := newKey()
		der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{SerialNumber: big.NewInt(serial),
			Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}}, ca, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return der, k
	}
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	clientDER, clientKey := issue(2, "mashangban", x509.ExtKeyUsageClientAuth)
	keyDER, err := x509.MarshalECPrivateKey(clientKey)
	if err != nil {
		t.Fatal(err)
	}
	serverDER, serverKey := issue(3, "kafka.example", x509.ExtKeyUsageServerAuth)
	return write("ca.pem", "CERTIFICATE", caDER), write("client.pem", "CERTIFICATE", clientDER), write("client-key.pem", "EC PRIVATE KEY", keyDER),
		tls.Certificate{Certificate: [][]byte{serverDER}, PrivateKey: serverKey}
}

// TestKafkaTLSAndSASL loads TLS files and SASL settings and proves the TLS
// configuration with a handshake against a server that requires the client
// certificate and presents one for kafka.example; the password never
// prints.
func TestKafkaTLSAndSASL(t *testing.T) {
	caFile, certFile, keyFile, server := writePKI(t)
	cfgFile := writeFile(t, "c.yaml", fmt.Sprintf(`kafka:
  brokers: ["127.0.0.1:9093"]
  session_timeout: 20s
  heartbeat_interval: 2s
  tls: {enabled: true, ca_file: %q, cert_file: %q, key_file: %q, server_name: kafka.example}
  sasl: {mechanism: SCRAM-SHA-512, username: msb}
`, caFile, certFile, keyFile))
	pwFile := writeFile(t, "pw", "kafka-s3cret-pw\n")
	c, _, err := Parse("run", []string{"--config", cfgFile}, env(map[string]string{"MSB_KAFKA_SASL_PASSWORD_FILE": pwFile}), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Kafka.SessionTimeout.D() != 20*time.Second || c.Kafka.HeartbeatInterval.D() != 2*time.Second {
		t.Errorf("timings = %s, %s", c.Kafka.SessionTimeout, c.Kafka.HeartbeatInterval)
	}
	if got := c.Kafka.SASL.Password.Reveal(); got != "kafka-s3cret-pw" || c.Kafka.SASL.Username != "msb" || c.Kafka.SASL.Mechanism != SASLScramSHA512 {
		t.Errorf("sasl = %s %s %q", c.Kafka.SASL.Mechanism, c.Kafka.SASL.Username, got)
	}
	clientTLS, err := c.Kafka.TLSConfig()
	if err != nil || clientTLS == nil {
		t.Fatalf("TLSConfig = %v, %v", clientTLS, err)
	}

	pool := x509.NewCertPool()
	caPEM, _ := os.ReadFile(caFile)
	pool.AppendCertsFromPEM(caPEM)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{server},
		ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	serverErr := make(chan error, 1)
	go func() {
		conn, err := ln.Accept()
		if err == nil {
			err = conn.(*tls.Conn).Handshake()
			conn.Close()
		}
		serverErr <- err
	}()
	conn, err := tls.Dial("tcp", ln.Addr().String(), clientTLS)
	if err != nil {
		t.Fatalf("handshake with the configured CA, certificate and server name: %v", err)
	}
	conn.Close()
	if err := <-serverErr; err != nil {
		t.Fatalf("server side of the handshake: %v", err)
	}

	var logBuf bytes.Buffer
	slog.New(slog.NewTextHandler(&logBuf, nil)).Info("cfg", "config", c)
	js, _ := json.Marshal(c)
	for name, out := range map[string]string{
		"fmt %+v": fmt.Sprintf("%+v", c), "slog": logBuf.String(), "json": string(js), "describe": c.Describe(),
	} {
		if strings.Contains(out, "kafka-s3cret-pw") {
			t.Errorf("%s printed the password: %s", name, out)
		}
	}
	if d := c.Describe(); !strings.Contains(d, "kafka_tls=on") || !strings.Contains(d, "kafka_sasl=SCRAM-SHA-512") {
		t.Errorf("Describe = %q", d)
	}
}

func TestDatabasePasswordSecret(t *testing.T) {
	pw := writeFile(t, "pw", "db-p@ss/word\n")
	c, _, err := Parse("run", []string{"--db.url", "postgres://msb@db:5432/msb?sslmode=disable"},
		env(map[string]string{"MSB_DB_PASSWORD_FILE": pw}), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(c.DBURL())
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := u.User.Password(); got != "db-p@ss/word" || u.User.Username() != "msb" || u.Host != "db:5432" || u.RawQuery != "sslmode=disable" {
		t.Errorf("DBURL = %+v", u)
	}
	if d := c.Describe(); strings.Contains(d, "p@ss") || strings.Contains(d, "p%40ss") || !strings.Contains(d, "msb:<secret>@db") {
		t.Errorf("Describe = %q", d)
	}
}

// TestExamplesReplay: the example posts are replayed into the embedded
// database, not into a configured one unless asked.
func TestExamplesReplay(t *testing.T) {
	for _, tc := range []struct {
		name string
		file string
		args []string
		env  map[string]string
		want bool
	}{
		{name: "embedded default", want: true},
		{name: "postgres", args: []string{"--db.url", "postgres://msb:x@db/msb"}, want: false},
		{name: "postgres from env", env: map[string]string{"MSB_DB_URL": "postgres://msb:x@db/msb"}, want: false},
		{name: "postgres, examples asked for", file: "examples: true\n", args: []string{"--db.url", "postgres://msb:x@db/msb"}, want: true},
		{name: "postgres, examples asked for in env", env: map[string]string{"MSB_DB_URL": "postgres://msb:x@db/msb", "MSB_EXAMPLES": "true"}, want: true},
		{name: "embedded, examples off", file: "examples: false\n", want: false},
		{name: "sources configured", file: "sources: [{name: r, type: replay, file: p.jsonl}]\n", want: false},
		{name: "demo", args: []string{"--demo"}, want: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.args
			if tc.file != "" {
				args = append([]string{"--config", writeFile(t, "c.yaml", tc.file)}, args...)
			}
			c, _, err := Parse("run", args, env(tc.env), &bytes.Buffer{})
			if err != nil {
				t.Fatal(err)
			}
			if got := c.ReplayExamples(); got != tc.want {
				t.Errorf("ReplayExamples = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestExampleFileDecodes keeps examples/mashangban.yaml in step with the
// settings: every key in it exists and has the right type.
func TestExampleFileDecodes(t *testing.T) {
	c := Default()
	if err := LoadFile(filepath.Join("..", "examples", "mashangban.yaml"), &c); err != nil {
		t.Fatal(err)
	}
	k := c.Kafka
	if !k.TLS.Enabled || k.SASL.Mechanism != SASLScramSHA512 || k.SessionTimeout.D() != 10*time.Second || len(c.Sources) == 0 || c.Examples {
		t.Errorf("example file decoded to %+v", c)
	}
}

func TestDepartmentNotifyWebhook(t *testing.T) {
	// A department that only takes notices needs no token; its webhook URL
	// comes from the environment and is never printed.
	cfgFile := writeFile(t, "c.yaml", "dispatch:\n  departments:\n    - {id: yushan.gov, notify: {format: wecom, mentioned_mobile_list: ['13800000000']}}\n")
	url := "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k-secret-77"
	c, _, err := Parse("run", []string{"--config", cfgFile}, env(map[string]string{"MSB_DEPARTMENT_YUSHAN_GOV_NOTIFY_URL": url}), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	n := c.Dispatch.Departments[0].Notify
	if n == nil || n.URL.Reveal() != url || n.Format != "wecom" || len(n.MentionedMobileList) != 1 {
		t.Fatalf("notify = %+v", n)
	}
	js, _ := json.Marshal(c)
	for name, out := range map[string]string{"fmt": fmt.Sprintf("%+v", c), "json": string(js), "describe": c.Describe()} {
		if strings.Contains(out, "k-secret-77") {
			t.Errorf("%s printed the webhook key", name)
		}
	}
}
