package app_test

import (
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
