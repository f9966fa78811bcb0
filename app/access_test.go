package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mashangban/mashangban/app"
	"github.com/mashangban/mashangban/config"
	"github.com/mashangban/mashangban/dispatch"
)

// TestRemovedDepartmentRefused: a department removed from the
// configuration is refused from the next start, its stored token gone.
func TestRemovedDepartmentRefused(t *testing.T) {
	for _, s := range setups {
		t.Run(s.name, func(t *testing.T) {
			cfg := s.cfg(t, t.TempDir())
			cfg.Examples = false
			cfg.Dispatch.Departments = []config.Department{
				{ID: "cgj", Token: config.Secret(deptToken("cgj"))},
				{ID: "zjj", Token: config.Secret(deptToken("zjj"))},
			}
			first := start(t, cfg, app.Options{})
			u := "http://" + first.app.Addr() + "/api/assignments"
			httpDo(t, "GET", u, deptToken("zjj"), 200)
			first.stop(t)

			cfg.Dispatch.Departments = cfg.Dispatch.Departments[:1]
			second := start(t, cfg, app.Options{})
			u = "http://" + second.app.Addr() + "/api/assignments"
			httpDo(t, "GET", u, deptToken("zjj"), 401)
			httpDo(t, "GET", u, deptToken("cgj"), 200)
			var n int
			if err := second.app.Store().DB.QueryRow(context.Background(),
				`SELECT COUNT(*) FROM department_tokens WHERE department = 'zjj'`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 0 {
				t.Errorf("the removed department's token is still stored (%d rows)", n)
			}
		})
	}
}

// TestRemovedDepartmentRefusedAfterReload: a department removed from the
// configuration file is refused from the next reload (SIGHUP), without a
// restart, its stored token gone; a configuration that does not load keeps
// the credentials as they were.
func TestRemovedDepartmentRefusedAfterReload(t *testing.T) {
	for _, s := range setups {
		t.Run(s.name, func(t *testing.T) {
			cfg := s.cfg(t, t.TempDir())
			cfg.Examples = false
			cfg.Dispatch.Departments = []config.Department{
				{ID: "cgj", Token: config.Secret(deptToken("cgj"))},
				{ID: "zjj", Token: config.Secret(deptToken("zjj"))},
			}
			file := filepath.Join(t.TempDir(), "mashangban.yaml")
			write := func(yaml string) {
				if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			reloadConfig := func() (config.Config, error) {
				c, _, err := config.Parse("mashangban run", []string{"--config", file}, func(string) (string, bool) { return "", false }, io.Discard)
				return c, err
			}
			hup := make(chan struct{}, 1)
			r := start(t, cfg, app.Options{Reload: hup, ReloadConfig: reloadConfig})
			u := "http://" + r.app.Addr() + "/api/assignments"
			httpDo(t, "GET", u, deptToken("zjj"), 200)
			httpDo(t, "GET", u, deptToken("cgj"), 200)

			reload := func(want string, n int) {
				t.Helper()
				hup <- struct{}{}
				for deadline := time.Now().Add(30 * time.Second); strings.Count(r.logs.String(), want) < n; {
					if time.Now().After(deadline) {
						t.Fatalf("no %q after the reload:\n%s", want, r.logs)
					}
					time.Sleep(20 * time.Millisecond)
				}
			}
			// A broken file: nothing changes.
			write("dispatch:\n  departments:\n    - id: cgj\n      tokn: x\n")
			reload("configuration not reloaded, previous credentials kept", 1)
			httpDo(t, "GET", u, deptToken("zjj"), 200)

			write("access:\n  admin:\n    - name: ops\n      token: " + adminToken + "\n" +
				"dispatch:\n  departments:\n    - id: cgj\n      token: " + deptToken("cgj") + "\n")
			reload("credentials reloaded", 1)
			httpDo(t, "GET", u, deptToken("zjj"), 401)
			httpDo(t, "GET", u, deptToken("cgj"), 200)
			httpDo(t, "GET", "http://"+r.app.Addr()+"/deadletters", adminToken, 200)
			var n int
			if err := r.app.Store().DB.QueryRow(context.Background(),
				`SELECT COUNT(*) FROM department_tokens WHERE department = 'zjj'`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 0 {
				t.Errorf("the removed department's token is still stored (%d rows)", n)
			}
			if strings.Contains(r.logs.String(), deptToken("cgj")) {
				t.Error("a token is in the log")
			}
		})
	}
}

// TestInternalErrorsCarryRequestID breaks the store under a running app:
// the 500 answers name a request ID and no internal text; the log has the
// cause with that ID. Every answer carries X-Request-ID; a client's valid
// one is kept, an invalid one replaced.
func TestInternalErrorsCarryRequestID(t *testing.T) {
	cfg := accessConfig(t)
	cfg.Examples = false
	r := start(t, cfg, app.Options{})
	for _, table := range []string{"case_posts", "assignments", "cases", "dead_letters"} {
		if _, err := r.app.Store().DB.Exec(context.Background(), "DROP TABLE "+table); err != nil {
			t.Fatalf("drop %s: %v", table, err)
		}
	}
	for _, tc := range []struct{ path, token string }{
		{"/cases", officeToken},
		{"/deadletters", adminToken},
		{"/api/cases", officeToken},
		{"/api/assignments", deptToken("cgj")},
	} {
		req, _ := http.NewRequest("GET", "http://"+r.app.Addr()+tc.path, nil)
		req.Header.Set("Authorization", "Bearer "+tc.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Error     string `json:"error"`
			RequestID string `json:"request_id"`
		}
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		id := resp.Header.Get("X-Request-ID")
		if resp.StatusCode != 500 || err != nil || body.Error != dispatch.InternalErrorText || id == "" || body.RequestID != id {
			t.Errorf("%s: %d %+v (header %q), %v", tc.path, resp.StatusCode, body, id, err)
		}
		if strings.Contains(strings.ToLower(body.Error), "table") {
			t.Errorf("%s: internal text in the answer: %q", tc.path, body.Error)
		}
		var line string
		for _, l := range strings.Split(r.logs.String(), "\n") {
			if strings.Contains(l, "request_id="+id) {
				line = l
			}
		}
		if !strings.Contains(line, "no such table") {
			t.Errorf("%s: no log line with request_id=%s and the cause:\n%s", tc.path, id, r.logs)
		}
	}
	for _, tc := range []struct{ sent, want string }{
		{"client-id-42", "client-id-42"},
		{"bad id\twith tab", ""},
		{strings.Repeat("x", 65), ""},
	} {
		req, _ := http.NewRequest("GET", "http://"+r.app.Addr()+"/healthz", nil)
		req.Header.Set("X-Request-ID", tc.sent)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		got := resp.Header.Get("X-Request-ID")
		if tc.want != "" && got != tc.want || tc.want == "" && (got == "" || got == tc.sent) {
			t.Errorf("X-Request-ID %q answered as %q", tc.sent, got)
		}
	}
}
