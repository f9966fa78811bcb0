package app_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"

	"github.com/mashangban/mashangban/app"
	"github.com/mashangban/mashangban/config"
	"github.com/mashangban/mashangban/web"
)

// TestConsoleSessionSurvivesRestart signs in to the console of a running
// daemon, restarts it on the same data directory and finds the session
// still valid.
func TestConsoleSessionSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	cfg := setups[0].cfg(t, dir)
	cfg.Dispatch.Departments = []config.Department{{ID: "duty-office", Token: "supervisor-token-0123456789", Supervisor: true}}
	r := start(t, cfg, app.Options{})
	waitHandled(t, r, examplePostIDs(t))
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	get := func(addr, path string) (int, string, http.Header) {
		t.Helper()
		resp, err := c.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		buf := make([]byte, 32<<10)
		for {
			n, err := resp.Body.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		return resp.StatusCode, b.String(), resp.Header
	}
	code, body, h := get(r.app.Addr(), "/ui/signin")
	if code != http.StatusOK || !strings.Contains(body, "登录马上办工作台") || h.Get("Content-Security-Policy") != web.ContentSecurityPolicy {
		t.Fatalf("sign-in page: %d %q\n%s", code, h.Get("Content-Security-Policy"), body)
	}
	resp, err := c.PostForm("http://"+r.app.Addr()+"/ui/signin", url.Values{"token": {"supervisor-token-0123456789"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/ui/dashboard" {
		t.Fatalf("sign-in ended at %s with %d, want the dashboard", resp.Request.URL, resp.StatusCode)
	}
	old, _ := url.Parse("http://" + r.app.Addr() + "/ui/")
	r.stop(t)

	r2 := start(t, cfg, app.Options{})
	now, _ := url.Parse("http://" + r2.app.Addr() + "/ui/")
	jar.SetCookies(now, jar.Cookies(old))
	code, body, _ = get(r2.app.Addr(), "/ui/dashboard")
	if code != http.StatusOK || !strings.Contains(body, "在办分派") {
		t.Fatalf("dashboard after a restart: %d\n%s", code, body)
	}
	// Names, never codes: the rule set names the lead departments.
	if !strings.Contains(body, "城市管理局") {
		t.Errorf("dashboard after a restart lacks department names:\n%s", body)
	}
}

// consoleClient is a browser without script on a running daemon's console.
type consoleClient struct {
	t *testing.T
	c *http.Client
}

func newConsoleClient(t *testing.T) *consoleClient {
	jar, _ := cookiejar.New(nil)
	return &consoleClient{t: t, c: &http.Client{Jar: jar}}
}

func (cc *consoleClient) do(req *http.Request) (int, string, *url.URL) {
	cc.t.Helper()
	resp, err := cc.c.Do(req)
	if err != nil {
		cc.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Request.URL
}

func (cc *consoleClient) get(addr, path string) (int, string, *url.URL) {
	cc.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
	return cc.do(req)
}

func (cc *consoleClient) post(addr, path string, form url.Values) (int, string, *url.URL) {
	cc.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return cc.do(req)
}

func csrfField(t *testing.T, body string) string {
	t.Helper()
	_, rest, ok := strings.Cut(body, `name="csrf" value="`)
	if !ok {
		t.Fatalf("no csrf field in:\n%s", body)
	}
	v, _, _ := strings.Cut(rest, `"`)
	return v
}

// TestConsoleRulesPage tries a text on the daemon's serving rule set and
// reloads it from the console as an administrator.
func TestConsoleRulesPage(t *testing.T) {
	cfg := setups[0].cfg(t, t.TempDir())
	cfg.Access.Office = []config.Credential{{Name: "duty", Token: "office-token-0123456789abcdef"}}
	r := start(t, cfg, app.Options{})
	addr := r.app.Addr()
	// The office tries texts; only an administrator reloads, as on POST /-/reload.
	duty := newConsoleClient(t)
	duty.post(addr, "/ui/signin", url.Values{"token": {"office-token-0123456789abcdef"}})
	code, body, _ := duty.get(addr, "/ui/rules")
	if code != http.StatusOK || strings.Contains(body, `action="/ui/rules/reload"`) {
		t.Errorf("office's rules page: %d, reload offered: %v", code, strings.Contains(body, `action="/ui/rules/reload"`))
	}
	if code, _, _ := duty.post(addr, "/ui/rules/reload", url.Values{"csrf": {csrfField(t, body)}}); code != http.StatusForbidden {
		t.Errorf("office reloads from the console: %d, want 403", code)
	}
	cc := newConsoleClient(t)
	if code, _, at := cc.post(addr, "/ui/signin", url.Values{"token": {adminToken}}); code != http.StatusOK || at.Path != "/ui/dashboard" {
		t.Fatalf("administrator's sign-in ended at %s with %d", at, code)
	}
	_, body, _ = cc.get(addr, "/ui/rules")
	code, body, _ = cc.post(addr, "/ui/rules/try", url.Values{"csrf": {csrfField(t, body)}, "text": {"东方城二区16栋对面楼顶广告牌强光太亮，晚上11点还亮着"}})
	if code != http.StatusOK || !strings.Contains(body, "主办：") || !strings.Contains(body, `id="trace">rule set:`) || !strings.Contains(body, "城市管理局") {
		t.Fatalf("trial on the rules page: %d\n%s", code, body)
	}
	version := body[strings.Index(body, `id="rule-version">`)+len(`id="rule-version">`):]
	version, _, _ = strings.Cut(version, "<")
	if version == "" {
		t.Fatalf("no rule-set version on the page")
	}
	code, body, at := cc.post(addr, "/ui/rules/reload", url.Values{"csrf": {csrfField(t, body)}})
	if code != http.StatusOK || at.Query().Get("ok") != "reloaded" || !strings.Contains(body, "规则已重新加载，当前版本 "+version) {
		t.Errorf("reload from the console: %d at %s\n%s", code, at, body)
	}
}

// TestConsoleSessionEndsWithCredential: a department removed from the
// configuration loses its console session at the next request after the
// restart that drops it; the office's session stays.
func TestConsoleSessionEndsWithCredential(t *testing.T) {
	dir := t.TempDir()
	cfg := setups[0].cfg(t, dir)
	cfg.Dispatch.Departments = []config.Department{{ID: "cgj", Token: "cgj-token-0123456789abcdef"}, {ID: "ldj", Token: "ldj-token-0123456789abcdef"}}
	cfg.Access.Office = []config.Credential{{Name: "duty", Token: "office-token-0123456789abcdef"}}
	r := start(t, cfg, app.Options{})
	ldj, office := newConsoleClient(t), newConsoleClient(t)
	if code, _, at := ldj.post(r.app.Addr(), "/ui/signin", url.Values{"token": {"ldj-token-0123456789abcdef"}}); code != http.StatusOK || at.Path != "/ui/inbox" {
		t.Fatalf("ldj's sign-in ended at %s with %d", at, code)
	}
	if code, _, at := office.post(r.app.Addr(), "/ui/signin", url.Values{"token": {"office-token-0123456789abcdef"}}); code != http.StatusOK || at.Path != "/ui/dashboard" {
		t.Fatalf("office sign-in ended at %s with %d", at, code)
	}
	old, _ := url.Parse("http://" + r.app.Addr() + "/ui/")
	r.stop(t)

	cfg.Dispatch.Departments = cfg.Dispatch.Departments[:1]
	r2 := start(t, cfg, app.Options{})
	now, _ := url.Parse("http://" + r2.app.Addr() + "/ui/")
	for _, cc := range []*consoleClient{ldj, office} {
		cc.c.Jar.SetCookies(now, cc.c.Jar.Cookies(old))
	}
	if code, _, at := ldj.get(r2.app.Addr(), "/ui/inbox"); code != http.StatusOK || at.Path != "/ui/signin" {
		t.Errorf("removed department's next request ended at %s with %d, want the sign-in page", at, code)
	}
	if code, _, at := office.get(r2.app.Addr(), "/ui/dashboard"); code != http.StatusOK || at.Path != "/ui/dashboard" {
		t.Errorf("office's session after the restart ended at %s with %d", at, code)
	}
}
