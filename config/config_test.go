package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
	c := Default()
	c.DB.URL = "postgres://msb:hunter2@db:5432/msb"
	if d := c.Describe(); strings.Contains(d, "hunter2") || !strings.Contains(d, "msb:<secret>@db") {
		t.Errorf("Describe = %q", d)
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
		{name: "bad env bool", env: map[string]string{"MSB_DB_MIGRATE": "perhaps"}, want: []string{`MSB_DB_MIGRATE: "perhaps"`}},
		{name: "missing secret file", env: map[string]string{"MSB_DB_URL_FILE": "/nonexistent/db-url"}, want: []string{"MSB_DB_URL_FILE", "no such file"}},
		{name: "missing config file", args: []string{"--config", "/nonexistent/c.yaml"}, want: []string{"config file", "no such file"}},
		{name: "unknown flag", args: []string{"--kafka.broker", "x:1"}, want: []string{"flag provided but not defined: -kafka.broker"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.args
			if tc.file != "" {
				args = append([]string{"--config", writeFile(t, "c.yaml", tc.file)}, args...)
			}
			_, _, err := Parse("run", args, env(tc.env), &bytes.Buffer{})
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
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
