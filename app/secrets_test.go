package app_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mashangban/mashangban/app"
	"github.com/mashangban/mashangban/config"
)

// TestNoSecretInLogsOrAnswers starts the app with a database password in
// the URL's query, a Weibo cookie, a WeChat app secret and department,
// office and administrator tokens (from the environment and from files),
// lets the sources fail against a broken platform, calls every route with
// every kind of caller and some bad requests, and looks for each secret in
// the whole log and in every answer.
func TestNoSecretInLogsOrAnswers(t *testing.T) {
	secrets := map[string]string{
		"db password":    "DbPw-4c1d-secret-value",
		"weibo cookie":   "SUB=weibo-cookie-secret-7a7a",
		"wechat secret":  "wechat-app-secret-5b5b5b",
		"department tok": "dept-token-secret-cgj-01",
		"office tok":     "office-token-secret-02x",
		"admin tok":      "admin-token-secret-03xy",
	}
	platform := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "upstream broken", http.StatusBadGateway)
	}))
	defer platform.Close()
	dir := t.TempDir()
	write := func(name, v string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(v+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cfgFile := write("mashangban.yaml", fmt.Sprintf(`data_dir: %q
http: {listen: "127.0.0.1:0", enable_lifecycle: true}
log: {level: debug}
sources:
  - {name: weibo, type: weibo-mobile, topic: 马上办, base_url: %q, interval: 1s}
  - {name: mp, type: wechat-miniprogram, app_id: wx0123, env: prod, collection: posts, base_url: %q, interval: 1s}
dispatch:
  departments:
    - {id: cgj}
access:
  office: [{name: duty-office, token_file: %q}]
`, filepath.Join(dir, "data"), platform.URL, platform.URL, write("office", secrets["office tok"])))
	dbURL := postgresSchema(t) + "&password=" + secrets["db password"]
	env := map[string]string{
		"MSB_DB_URL":                     dbURL,
		"MSB_DB_MIGRATE":                 "true",
		"MSB_SOURCE_WEIBO_COOKIE_FILE":   write("cookie", secrets["weibo cookie"]),
		"MSB_SOURCE_MP_APP_SECRET":       secrets["wechat secret"],
		"MSB_DEPARTMENT_CGJ_TOKEN_FILE":  write("cgj", secrets["department tok"]),
		"MSB_ADMIN_TOKEN":                secrets["admin tok"],
		"MSB_REPLIES_WECHAT_APP_SECRET":  secrets["wechat secret"],
		"MSB_ACCESS_OFFICE_UNUSED_TOKEN": "not-listed-so-ignored",
	}
	var stderr bytes.Buffer
	cfg, _, err := config.Parse("run", []string{"--config", cfgFile}, func(k string) (string, bool) { v, ok := env[k]; return v, ok }, &stderr)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	r := start(t, cfg, app.Options{})
	base := "http://" + r.app.Addr()
	var answers strings.Builder
	record := func(method, path, token, body string) int {
		code, b := call(t, method, base+path, token, body)
		fmt.Fprintf(&answers, "%s %s %d %s\n", method, path, code, b)
		return code
	}
	// Both sources fail at least once.
	for deadline := time.Now().Add(30 * time.Second); ; {
		_, b := call(t, "GET", base+"/readyz", secrets["admin tok"], "")
		if strings.Contains(b, `"weibo"`) && strings.Contains(b, `"mp"`) && !strings.Contains(b, `"consecutive_failures": 0`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sources did not fail: %s", b)
		}
		time.Sleep(50 * time.Millisecond)
	}
	tokens := []string{"", "wrong-token-0123456789", secrets["department tok"], secrets["office tok"], secrets["admin tok"]}
	for _, rt := range r.app.Routes() {
		path := strings.NewReplacer("{id}", "1", "{no}", "MSB-20261120-0001", "{post_id}", "replay:x").Replace(rt.Pattern)
		for _, tok := range tokens {
			body := ""
			if rt.Method == "POST" {
				body = `{"text":"已处理","reason":"x","to":"cgj"}`
			}
			record(rt.Method, path, tok, body)
		}
	}
	record("POST", "/api/assignments/1/reply", secrets["department tok"], `{not json`)
	record("GET", "/cases?limit=abc", secrets["office tok"], "")
	record("GET", "/api/nowhere", secrets["admin tok"], "")
	if _, err := r.app.Store().DB.Exec(context.Background(), "DROP TABLE dead_letters"); err != nil {
		t.Fatal(err)
	}
	if code := record("GET", "/deadletters", secrets["admin tok"], ""); code != 500 {
		t.Errorf("GET /deadletters on a broken store: %d", code)
	}
	r.stop(t)
	logs := r.logs.String()
	if !strings.Contains(logs, "weibo") || !strings.Contains(logs, "request_id=") {
		t.Fatalf("the log lacks the failures this test provokes:\n%s", logs)
	}
	for name, v := range secrets {
		if strings.Contains(logs, v) {
			t.Errorf("the log holds the %s", name)
		}
		if strings.Contains(answers.String(), v) {
			t.Errorf("an answer holds the %s", name)
		}
	}
	if strings.Contains(stderr.String(), "secret") {
		t.Errorf("config printed: %s", stderr.String())
	}
}
