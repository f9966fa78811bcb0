package dispatch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mashangban/mashangban/model"
	"github.com/mashangban/mashangban/store"
	"github.com/mashangban/mashangban/store/storetest"
)

type apiClient struct {
	t *testing.T
	h http.Handler
}

func (c apiClient) do(method, path, token, body string) (int, []byte) {
	c.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	c.h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.Bytes()
}

func TestAPITransitionsAndIsolation(t *testing.T) {
	t.Parallel()
	storetest.ForEachStore(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		clk := newFakeClock(start)
		d := newTestDispatcher(t, st, clk)
		a := decision(model.ChannelWeibo, "900", "翠湖小区门口路灯坏了", lightA, lightPlace, huashan, ldj, cgj)
		b := decision(model.ChannelReplay, "901", "燃气味道很重", []string{"燃气", "味道"}, nil, yushan, gas)
		mustHandle(t, d, a)
		mustHandle(t, d, b)
		caseA, caseB := caseOf(t, st, a.Post.ID), caseOf(t, st, b.Post.ID)
		as, _ := st.ListAssignments(ctx, nil, store.AssignmentFilter{})
		ldjA, cgjA, gasB := as[0].ID, as[1].ID, as[2].ID
		c := apiClient{t, d.API()}
		p := func(id int64, action string) string { return fmt.Sprintf("/api/assignments/%d/%s", id, action) }
		steps := []struct {
			name, method, path, token, body string
			code                            int
			check                           string // substring of the response body
		}{
			{"no token", "GET", "/api/assignments", "", "", 401, "token"},
			{"unknown token", "GET", "/api/assignments", "nope", "", 401, "token"},
			{"own list", "GET", "/api/assignments", "tok-ldj", "", 200, `"department":"ldj"`},
			{"other's assignment", "GET", fmt.Sprint("/api/assignments/", cgjA), "tok-ldj", "", 403, "another department"},
			{"other's list", "GET", "/api/assignments?department=cgj", "tok-ldj", "", 403, ""},
			{"claim other's", "POST", p(cgjA, "claim"), "tok-ldj", "", 403, ""},
			{"reply other's", "POST", p(gasB, "reply"), "tok-ldj", `{"text":"x"}`, 403, ""},
			{"unknown id", "GET", "/api/assignments/99999", "tok-ldj", "", 404, ""},
			{"unknown id claim", "POST", p(99999, "claim"), "tok-ldj", "", 404, ""},
			{"bad id", "POST", "/api/assignments/abc/claim", "tok-ldj", "", 400, ""},
			{"bad state filter", "GET", "/api/assignments?state=lost", "tok-ldj", "", 400, ""},
			{"bad due_before", "GET", "/api/assignments?due_before=tomorrow", "tok-ldj", "", 400, ""},
			{"reply before claim", "POST", p(ldjA, "reply"), "tok-ldj", `{"text":"已安排"}`, 409, "claim it before replying"},
			{"resolve before claim", "POST", p(ldjA, "resolve"), "tok-ldj", `{"text":"好了"}`, 409, ""},
			{"reopen pending", "POST", p(ldjA, "reopen"), "tok-ldj", `{"reason":"x"}`, 409, ""},
			{"due before, pending", "GET", "/api/assignments?state=pending&due_before=" + start.Add(25*time.Hour).Format(time.RFC3339), "tok-ldj", "", 200, `"state":"pending"`},
			{"claim", "POST", p(ldjA, "claim"), "tok-ldj", "", 200, `"state":"claimed"`},
			{"claim twice", "POST", p(ldjA, "claim"), "tok-ldj", "", 409, ""},
			{"due before, claimed excluded", "GET", "/api/assignments?state=pending&due_before=" + start.Add(25*time.Hour).Format(time.RFC3339), "tok-ldj", "", 200, "[]"},
			{"empty reply", "POST", p(ldjA, "reply"), "tok-ldj", `{"text":"  "}`, 400, "empty"},
			{"unknown field", "POST", p(ldjA, "reply"), "tok-ldj", `{"txt":"x"}`, 400, "unknown field"},
			{"reply", "POST", p(ldjA, "reply"), "tok-ldj", `{"text":"已安排维修人员今天下午到场"}`, 200, `"state":"replied"`},
			{"reply again", "POST", p(ldjA, "reply"), "tok-ldj", `{"text":"灯已换好，今晚复查"}`, 200, `"state":"replied"`},
			{"transfer to self", "POST", p(ldjA, "transfer"), "tok-ldj", `{"to":"ldj","reason":"x"}`, 400, ""},
			{"transfer to unknown", "POST", p(ldjA, "transfer"), "tok-ldj", `{"to":"mars","reason":"x"}`, 400, "unknown department"},
			{"transfer without reason", "POST", p(ldjA, "transfer"), "tok-ldj", `{"to":"fire"}`, 400, ""},
			{"transfer to an assistant, no choice for the lead", "POST", p(ldjA, "transfer"), "tok-ldj", `{"to":"cgj","reason":"x"}`, 400, "former_lead"},
			{"assistant to the lead", "POST", p(cgjA, "transfer"), "tok-cgj", `{"to":"ldj","reason":"x"}`, 409, "already holds"},
			{"resolve", "POST", p(ldjA, "resolve"), "tok-ldj", `{"text":"路灯已修复"}`, 200, `"state":"resolved"`},
			{"case open while assist works", "GET", "/api/cases/" + caseA.No, "tok-ldj", "", 200, `"status":"open"`},
			{"resolve twice", "POST", p(ldjA, "resolve"), "tok-ldj", "", 409, ""},
			{"transfer resolved", "POST", p(ldjA, "transfer"), "tok-ldj", `{"to":"fire","reason":"x"}`, 409, ""},
			{"assist claims", "POST", p(cgjA, "claim"), "tok-cgj", "", 200, ""},
			{"assist resolves", "POST", p(cgjA, "resolve"), "tok-cgj", `{"text":"配合完成"}`, 200, ""},
			{"case resolved", "GET", "/api/cases/" + caseA.No, "tok-cgj", "", 200, `"status":"resolved"`},
			{"reopen without reason", "POST", p(ldjA, "reopen"), "tok-ldj", `{}`, 400, ""},
			{"reopen", "POST", p(ldjA, "reopen"), "tok-ldj", `{"reason":"市民反映灯又不亮了"}`, 200, `"state":"claimed"`},
			{"case open again", "GET", "/api/cases/" + caseA.No, "tok-duty", "", 200, `"status":"open"`},
			{"other's case", "GET", "/api/cases/" + caseA.No, "tok-gas", "", 403, ""},
			{"unknown case", "GET", "/api/cases/MSB-20990101-0001", "tok-duty", "", 404, ""},
			{"transfer", "POST", p(gasB, "transfer"), "tok-gas", `{"to":"fire","reason":"涉及消防安全"}`, 200, `"department":"fire"`},
			{"claim transferred", "POST", p(gasB, "claim"), "tok-gas", "", 409, "transferred"},
			{"gas still sees its old assignment", "GET", fmt.Sprint("/api/assignments/", gasB), "tok-gas", "", 200, `"transferred_to":"fire"`},
			{"fire sees case B", "GET", "/api/cases/" + caseB.No, "tok-fire", "", 200, `"lead":"fire"`},
			{"own cases", "GET", "/api/cases", "tok-ldj", "", 200, caseA.No},
			{"supervisor cases by status", "GET", "/api/cases?status=resolved", "tok-duty", "", 200, "[]"},
			{"triage is the supervisor's", "GET", "/api/triage", "tok-ldj", "", 403, ""},
			{"triage list", "GET", "/api/triage", "tok-duty", "", 200, "[]"},
			{"unmerge by a non-lead", "POST", "/api/cases/" + caseA.No + "/unmerge", "tok-cgj", `{"post_id":"` + a.Post.ID + `","reason":"x"}`, 403, ""},
			{"unmerge the origin", "POST", "/api/cases/" + caseA.No + "/unmerge", "tok-ldj", `{"post_id":"` + a.Post.ID + `","reason":"x"}`, 409, ""},
			{"unmerge a post of another case", "POST", "/api/cases/" + caseA.No + "/unmerge", "tok-duty", `{"post_id":"` + b.Post.ID + `","reason":"x"}`, 404, ""},
			{"unknown endpoint", "GET", "/api/nothing", "tok-duty", "", 404, ""},
		}
		for _, s := range steps {
			code, body := c.do(s.method, s.path, s.token, s.body)
			if code != s.code || !bytes.Contains(body, []byte(s.check)) {
				t.Errorf("%s: %s %s = %d %s, want %d containing %q", s.name, s.method, s.path, code, body, s.code, s.check)
			}
			if code >= 400 {
				var e struct{ Error string }
				if json.Unmarshal(body, &e) != nil || e.Error == "" {
					t.Errorf("%s: error body %s is not {\"error\": ...}", s.name, body)
				}
			}
		}
		// The department's listing never shows another's assignment.
		_, body := c.do("GET", "/api/assignments", "tok-ldj", "")
		var list []store.Assignment
		if err := json.Unmarshal(body, &list); err != nil {
			t.Fatal(err)
		}
		for _, x := range list {
			if x.Department != "ldj" {
				t.Errorf("ldj's listing shows %+v", x)
			}
		}
		// Every action is in the audit log with its actor.
		evs, _ := st.ListEvents(ctx, store.EventFilter{})
		actors := map[string]string{}
		for _, e := range evs {
			if strings.HasPrefix(e.Kind, "assignment.") && e.Kind != "assignment.created" {
				actors[e.Kind+"/"+e.Actor] = e.Actor
			}
		}
		for _, k := range []string{"assignment.claimed/ldj", "assignment.replied/ldj", "assignment.resolved/ldj", "assignment.reopened/ldj",
			"assignment.claimed/cgj", "assignment.resolved/cgj", "assignment.transferred/gas"} {
			if _, ok := actors[k]; !ok {
				t.Errorf("no audit event %s (have %v)", k, actors)
			}
		}
		// The citizen heard each reply, the resolution and nothing twice.
		rs, _ := st.RepliesOf(ctx, a.Post.ID)
		var kinds []string
		for _, r := range rs {
			kinds = append(kinds, r.Kind)
		}
		if got := strings.Join(kinds, ","); got != "ack,progress,progress,progress,progress" {
			t.Errorf("replies to the citizen = %s (%+v)", got, rs)
		}
	})
}

func TestAPITokensFromStore(t *testing.T) {
	t.Parallel()
	storetest.ForEachStore(t, func(t *testing.T, st *store.Store) {
		clk := newFakeClock(start)
		d1 := newTestDispatcher(t, st, clk)
		if err := d1.SaveTokens(context.Background()); err != nil {
			t.Fatal(err)
		}
		if n := count(t, st, `SELECT count(*) FROM department_tokens WHERE token_hash = $1 AND role = 'supervisor'`, hashToken("tok-duty")); n != 1 {
			t.Fatalf("supervisor token hash stored %d times", n)
		}
		if n := count(t, st, `SELECT count(*) FROM department_tokens WHERE token_hash LIKE 'tok-%'`); n != 0 {
			t.Fatal("a token is stored in clear")
		}
		// A dispatcher configured without tokens accepts the stored ones.
		d2 := New(st, Options{Now: clk.Now}, nil, nil)
		code, body := apiClient{t, d2.API()}.do("GET", "/api/triage", "tok-duty", "")
		if code != 200 {
			t.Errorf("stored supervisor token: %d %s", code, body)
		}
		code, _ = apiClient{t, d2.API()}.do("GET", "/api/triage", "tok-ldj", "")
		if code != 403 {
			t.Errorf("stored department token on triage: %d, want 403", code)
		}
	})
}

func TestAPIWeeklyReport(t *testing.T) {
	t.Parallel()
	storetest.ForEachStore(t, func(t *testing.T, st *store.Store) {
		clk := newFakeClock(start)
		d := newTestDispatcher(t, st, clk)
		mustHandle(t, d, decision(model.ChannelReplay, "r1", "路灯坏了", []string{"路灯"}, nil, huashan, ldj))
		mustHandle(t, d, decision(model.ChannelReplay, "r2", "垃圾没人收", []string{"垃圾"}, nil, huashan, cgj))
		clk.Set(start.Add(10 * 24 * time.Hour))
		api := d.API()
		tests := []struct {
			token, query string
			code         int
			has, hasNot  string
			headers      map[string]string // header → substring
		}{
			{"tok-duty", "week=2026-11-23", 200, `"department":"cgj"`, "", map[string]string{"Content-Type": "application/json"}},
			{"tok-duty", "week=2026-11-26", 200, `"week_start":"2026-11-23T00:00:00+08:00"`, "", nil}, // a Thursday
			{"tok-duty", "week=2026-11-29T23:00:00%2B08:00", 200, `"week_end":"2026-11-30T00:00:00+08:00"`, "", nil},
			{"tok-duty", "week=2026-11-23&format=csv", 200, "\uFEFF一周一反馈 2026-11-23（周一）至 2026-11-29（周日）\r\n部门,收到,按时认领", "department",
				map[string]string{"Content-Type": "text/csv; charset=utf-8", "Content-Disposition": `attachment; filename="mashangban-weekly-20261123.csv"`}},
			{"tok-duty", "week=2026-11-23&format=md", 200, "| 市路灯管理所 | 1 |", "| ldj |",
				map[string]string{"Content-Type": "text/markdown", "Content-Disposition": `attachment; filename="mashangban-weekly-20261123.md"`}},
			{"tok-duty", "week=2026-11-25&format=html", 200, `<table data-table="一周一曝光">`, "<script",
				map[string]string{"Content-Type": "text/html; charset=utf-8", "Content-Disposition": "inline", "Content-Security-Policy": "default-src 'none'"}},
			{"tok-ldj", "week=2026-11-23", 200, `"department":"ldj"`, `"department":"cgj"`, nil}, // own line and own exposed cases only
			{"tok-ldj", "week=2026-11-23&format=md", 200, "| MSB-20261126-0001 | 市路灯管理所 |", "市城市管理局", nil},
			{"tok-duty", "", 200, `"week_start":"2026-11-23T00:00:00+08:00"`, "", nil}, // last full week before Dec 6
			{"tok-duty", "week=23.11.2026", 400, "want a date", "", map[string]string{"Content-Type": "application/json"}},
			{"tok-duty", "week=2026-11-23&format=pdf", 400, "", "", nil},
			{"", "week=2026-11-23", 401, "", "", nil},
		}
		for _, tt := range tests {
			req := httptest.NewRequest("GET", "/api/reports/weekly?"+tt.query, nil)
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			rec := httptest.NewRecorder()
			api.ServeHTTP(rec, req)
			body := rec.Body.String()
			if rec.Code != tt.code || !strings.Contains(body, tt.has) || (tt.hasNot != "" && strings.Contains(body, tt.hasNot)) {
				t.Errorf("%s %q = %d %.600s", tt.token, tt.query, rec.Code, body)
			}
			for h, want := range tt.headers {
				if got := rec.Header().Get(h); !strings.Contains(got, want) {
					t.Errorf("%s %q: %s = %q, want %q", tt.token, tt.query, h, got, want)
				}
			}
		}
	})
}

// TestRemovedDepartmentTokenRefused: a dispatcher refuses the stored token
// of a department it is not configured with, and SaveTokens removes it.
func TestRemovedDepartmentTokenRefused(t *testing.T) {
	t.Parallel()
	storetest.ForEachStore(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		clk := newFakeClock(start)
		all := newTestDispatcher(t, st, clk)
		if err := all.SaveTokens(ctx); err != nil {
			t.Fatal(err)
		}
		// A dispatcher configured with cgj only, before it saves its tokens.
		other := New(st, Options{Now: clk.Now, Departments: testDepartments[:1]}, nil, nil)
		c := apiClient{t, other.API()}
		if code, _ := c.do("GET", "/api/assignments", "tok-gas", ""); code != 401 {
			t.Errorf("stored token of a department not configured here: %d, want 401", code)
		}
		if code, _ := c.do("GET", "/api/assignments", "tok-cgj", ""); code != 200 {
			t.Errorf("configured department: %d, want 200", code)
		}
		if err := other.SaveTokens(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := st.DepartmentByToken(ctx, hashToken("tok-gas")); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("removed department's token still stored: %v", err)
		}
	})
}
