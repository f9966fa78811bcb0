package app_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mashangban/mashangban/app"
	"github.com/mashangban/mashangban/config"
	"github.com/mashangban/mashangban/store"
)

const officeToken = "office-token-0123456789abcdef"

// departmentIDs are the departments of the built-in rule set.
var departmentIDs = []string{"bowang.cgj", "bowang.gov", "cgj", "dangtu.cgj", "dangtu.gov", "gaj", "gdgs", "gjj", "gsgs", "hanshan.cgj", "hanshan.gov", "hexian.cgj", "hexian.gov", "huashan.cgj", "huashan.gov", "jjzd", "jtysj", "jyj", "rqgs", "rsj", "scjgj", "sthjj", "swj", "swuj", "wjw", "wlj", "wmb", "xfzd", "ybj", "yushan.cgj", "yushan.gov", "yzglj", "zjj", "zrghj"}

func deptToken(id string) string { return "tok-" + id + "-0123456789abcdef" }

// accessConfig is the embedded setup with a token for every department of
// the built-in rules, an office and an administrator.
func accessConfig(t *testing.T) config.Config {
	cfg := setups[0].cfg(t, t.TempDir())
	for _, id := range departmentIDs {
		cfg.Dispatch.Departments = append(cfg.Dispatch.Departments, config.Department{ID: id, Token: config.Secret(deptToken(id))})
	}
	cfg.Access.Office = []config.Credential{{Name: "duty-office", Token: officeToken}}
	return cfg
}

// call makes one request and returns the status and body.
func call(t *testing.T, method, u, token, body string) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.Header.Get("X-Request-ID") == "" {
		t.Errorf("%s %s: no X-Request-ID", method, u)
	}
	if resp.StatusCode == http.StatusUnauthorized && resp.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("%s %s: 401 without WWW-Authenticate", method, u)
	}
	return resp.StatusCode, string(b)
}

// TestRouteTableAccess walks the route table itself and calls every route
// with no credential, an unknown one, another department's, one of too
// small a role, and the right one. A route added to the table without a row
// here fails the test.
func TestRouteTableAccess(t *testing.T) {
	cfg := accessConfig(t)
	cfg.HTTP.EnableLifecycle = true
	r := start(t, cfg, app.Options{})
	waitHandled(t, r, examplePostIDs(t))
	ctx := context.Background()
	st := r.app.Store()

	// A: the department of one pending assignment; B: a department with
	// no assignment in that case.
	as, err := st.ListAssignments(ctx, nil, store.AssignmentFilter{Limit: 1000})
	if err != nil || len(as) == 0 {
		t.Fatalf("assignments: %v, %d", err, len(as))
	}
	asg := as[0]
	onCase := map[string]bool{}
	for _, x := range as {
		if x.CaseID == asg.CaseID {
			onCase[x.Department] = true
		}
	}
	a := asg.Department
	b := ""
	for _, id := range departmentIDs {
		if !onCase[id] {
			b = id
			break
		}
	}
	c, err := st.GetCaseByNo(ctx, nil, asg.CaseNo)
	if err != nil {
		t.Fatal(err)
	}

	type sample struct {
		path, body string
		right      []int // statuses the right caller may get, in table order
		list       bool  // a list: another department gets 200 with none of A's case
	}
	id := fmt.Sprint(asg.ID)
	samples := map[string]sample{
		"GET /healthz":                        {"/healthz", "", []int{200}, false},
		"GET /readyz":                         {"/readyz", "", []int{200}, false},
		"GET /metrics":                        {"/metrics", "", []int{200}, false},
		"POST /-/reload":                      {"/-/reload", "", []int{200}, false},
		"GET /rules":                          {"/rules", "", []int{200}, false},
		"GET /cases":                          {"/cases", "", []int{200}, false},
		"GET /deadletters":                    {"/deadletters", "", []int{200}, false},
		"ANY /ui/":                            {"/ui/", "", []int{200, 303}, false},
		"GET /c/{no}":                         {"/c/" + c.No, "", []int{200}, false},
		"GET /c/{$}":                          {"/c/", "", []int{404}, false},
		"GET /open311/v2/services.json":       {"/open311/v2/services.json", "", []int{200}, false},
		"GET /open311/v2/requests.json":       {"/open311/v2/requests.json", "", []int{200}, false},
		"GET /open311/v2/services.xml":        {"/open311/v2/services.xml", "", []int{200}, false},
		"GET /open311/v2/requests.xml":        {"/open311/v2/requests.xml", "", []int{200}, false},
		"GET /open311/v2/requests/{id}":       {"/open311/v2/requests/" + c.No + ".json", "", []int{200}, false},
		"GET /open311/":                       {"/open311/v2/unknown.json", "", []int{404}, false},
		"GET /api/assignments":                {"/api/assignments?limit=1000", "", []int{200}, true},
		"GET /api/assignments/{id}":           {"/api/assignments/" + id, "", []int{200}, false},
		"POST /api/assignments/{id}/claim":    {"/api/assignments/" + id + "/claim", "", []int{200}, false},
		"POST /api/assignments/{id}/reply":    {"/api/assignments/" + id + "/reply", `{"text":"已安排人员到现场处理"}`, []int{200}, false},
		"POST /api/assignments/{id}/resolve":  {"/api/assignments/" + id + "/resolve", `{"text":"已修复"}`, []int{200}, false},
		"POST /api/assignments/{id}/transfer": {"/api/assignments/" + id + "/transfer", `{"to":"` + b + `","reason":"不属本单位"}`, []int{400, 409}, false},
		"POST /api/assignments/{id}/reopen":   {"/api/assignments/" + id + "/reopen", `{"reason":"群众反映仍未解决"}`, []int{200}, false},
		"GET /api/cases":                      {"/api/cases?limit=1000", "", []int{200}, true},
		"GET /api/cases/{no}":                 {"/api/cases/" + c.No, "", []int{200}, false},
		"POST /api/cases/{no}/unmerge":        {"/api/cases/" + c.No + "/unmerge", `{"post_id":"` + c.FirstPostID + `","reason":"x"}`, []int{409}, false},
		"GET /api/triage":                     {"/api/triage", "", []int{200}, false},
		"POST /api/triage/{post_id}/route":    {"/api/triage/replay:none/route", `{"lead":"cgj","reason":"x"}`, []int{404}, false},
		"GET /api/reports/weekly":             {"/api/reports/weekly", "", []int{200}, true},
	}
	routes := r.app.Routes()
	var seen []string
	for _, rt := range routes {
		key := routeKey(rt)
		seen = append(seen, key)
		s, ok := samples[key]
		if !ok {
			t.Errorf("route %s (role %s) has no row in this test", key, rt.Role)
			continue
		}
		u := "http://" + r.app.Addr() + s.path
		t.Run(key, func(t *testing.T) {
			// A public route answers everyone as it answers the right
			// caller (s.right); any other says 401 without a known token.
			for _, k := range []struct{ name, token string }{{"no credential", ""}, {"unknown", "not-a-configured-token-at-all"}} {
				code, body := call(t, rt.Method, u, k.token, s.body)
				if rt.Role == app.RolePublic && !slices.Contains(s.right, code) || rt.Role != app.RolePublic && code != 401 {
					t.Errorf("%s: %d: %s", k.name, code, body)
				}
			}
			// Another department.
			code, body := call(t, rt.Method, u, deptToken(b), s.body)
			switch {
			case rt.Role == app.RolePublic:
				if !slices.Contains(s.right, code) {
					t.Errorf("another department: %d, want one of %v", code, s.right)
				}
			case rt.Role == app.RoleDepartment && s.list:
				if code != 200 || strings.Contains(body, c.No) {
					t.Errorf("another department: %d, want 200 without case %s: %.300s", code, c.No, body)
				}
			default:
				if code != 403 {
					t.Errorf("another department: %d, want 403: %s", code, body)
				}
			}
			// One role too small: a department on office routes, the office
			// on administrator routes.
			switch rt.Role {
			case app.RoleOffice:
				if code, _ := call(t, rt.Method, u, deptToken(a), s.body); code != 403 {
					t.Errorf("a department on an office route: %d, want 403", code)
				}
			case app.RoleAdmin:
				if code, _ := call(t, rt.Method, u, officeToken, s.body); code != 403 {
					t.Errorf("the office on an administrator route: %d, want 403", code)
				}
			}
			// The right caller.
			right := map[app.Role]string{app.RolePublic: "", app.RoleDepartment: deptToken(a), app.RoleOffice: officeToken, app.RoleAdmin: adminToken}[rt.Role]
			code, body = call(t, rt.Method, u, right, s.body)
			if !slices.Contains(s.right, code) {
				t.Errorf("right caller (%s): %d, want one of %v: %.300s", rt.Role, code, s.right, body)
			}
			if rt.Role == app.RoleDepartment && s.list && !strings.Contains(body, c.No) && rt.Pattern != "/api/reports/weekly" {
				t.Errorf("department %s does not see its own case %s", a, c.No)
			}
		})
	}
	for key := range samples {
		if !slices.Contains(seen, key) {
			t.Errorf("row %s is not a route of the table", key)
		}
	}
}

// TestLifecycleOffByDefault: without http.enable_lifecycle, POST /-/reload
// answers 403 with what to set, even to an administrator; SIGHUP still
// reloads.
func TestLifecycleOffByDefault(t *testing.T) {
	hup := make(chan struct{}, 1)
	r := start(t, setups[0].cfg(t, t.TempDir()), app.Options{Reload: hup})
	code, body := call(t, "POST", "http://"+r.app.Addr()+"/-/reload", adminToken, "")
	if code != 403 || !strings.Contains(body, "http.enable_lifecycle") {
		t.Errorf("reload with lifecycle off: %d %s", code, body)
	}
	if code, _ := call(t, "POST", "http://"+r.app.Addr()+"/-/reload", "", ""); code != 401 {
		t.Errorf("reload without credential: %d, want 401", code)
	}
	hup <- struct{}{}
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(r.logs.String(), "reload requested by signal"); {
		if time.Now().After(deadline) {
			t.Fatalf("SIGHUP did not reload the rules:\n%s", r.logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSecurityDocListsEveryRoute: docs/security.md lists every route of
// the table with its role, and no route that is not in it.
func TestSecurityDocListsEveryRoute(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "docs", "security.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	cfg := setups[0].cfg(t, t.TempDir())
	cfg.Examples = false
	r := start(t, cfg, app.Options{})
	listed := regexp.MustCompile("(?m)^\\| `([A-Z]+ [^`]+)` \\| ([a-z]+) \\|").FindAllStringSubmatch(doc, -1)
	inDoc := map[string]string{}
	for _, m := range listed {
		inDoc[m[1]] = m[2]
	}
	for _, rt := range r.app.Routes() {
		key := routeKey(rt)
		if role, ok := inDoc[key]; !ok || role != rt.Role.String() {
			t.Errorf("docs/security.md lists %s as %q, the table says %s", key, role, rt.Role)
		}
		delete(inDoc, key)
	}
	for key := range inDoc {
		t.Errorf("docs/security.md lists %s, which the table does not have", key)
	}
}

// routeKey names a route as docs/security.md does: its method and pattern,
// ANY for a route that serves every method.
func routeKey(rt app.Route) string {
	if rt.Method == "" {
		return "ANY " + rt.Pattern
	}
	return rt.Method + " " + rt.Pattern
}
