package web

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mashangban/mashangban/model"
	"github.com/mashangban/mashangban/store"
	"github.com/mashangban/mashangban/store/storetest"
)

func TestRulesPage(t *testing.T) {
	f := newFixture(t, storetest.OpenSQLite(t))
	f.seed(t)
	dept := f.client(t)
	dept.signIn("tok-cgj")
	if p := dept.get("/ui/rules"); p.code != http.StatusForbidden {
		t.Errorf("a department opens the rules page: %d, want 403", p.code)
	}
	c := f.client(t)
	c.signIn("tok-duty")
	p := c.get("/ui/rules")
	for _, want := range []string{`id="rule-version">r1<`, "成功", "linear:7", "412 条样本", `action="/ui/rules/reload"`} {
		if !strings.Contains(p.body, want) {
			t.Errorf("rules page lacks %q:\n%s", want, p.body)
		}
	}
	csrf := csrfOf(t, p.body)
	try := func(text string) page { return c.post("/ui/rules/try", url.Values{"csrf": {csrf}, "text": {text}}) }
	if p := c.get("/ui/rules?text=" + url.QueryEscape("湖东路井盖丢失")); strings.Contains(p.body, `id="trace"`) {
		t.Errorf("a trial text in the URL was classified")
	}
	p = try("湖东路井盖丢失")
	for _, want := range []string{"主办：市城市管理局", "协办</dt><dd>市燃气公司", "雨山区", "92.0%", "井盖缺失", `<pre class="trace" id="trace">rule set:  r1`} {
		if !strings.Contains(p.body, want) {
			t.Errorf("trial of a 井盖 text lacks %q:\n%s", want, p.body)
		}
	}
	if p := try("楼上很吵"); !strings.Contains(p.body, "转人工分派") {
		t.Errorf("trial of an unmatched text does not say it goes to triage:\n%s", p.body)
	}
	if p := try(strings.Repeat("字", maxTrial+1)); p.code != http.StatusBadRequest || !strings.Contains(p.body, "不能超过2000字") || !strings.Contains(p.body, "字字字") {
		t.Errorf("over-long trial: %d, want 400 with the text kept", p.code)
	}
	if p := try("  "); p.code != http.StatusBadRequest || !strings.Contains(p.body, "请输入要试分类的文字") {
		t.Errorf("empty trial: %d", p.code)
	}
	if p := c.post("/ui/rules/try", url.Values{"text": {"井盖"}}); p.code != http.StatusForbidden {
		t.Errorf("trial without the CSRF token: %d, want 403", p.code)
	}
	if p := c.post("/ui/rules/reload", url.Values{"csrf": {"forged"}}); p.code != http.StatusForbidden {
		t.Errorf("reload without the session's CSRF token: %d, want 403", p.code)
	}
	if p := dept.post("/ui/rules/reload", url.Values{"csrf": {csrfOf(t, dept.get("/ui/inbox").body)}}); p.code != http.StatusForbidden {
		t.Errorf("a department reloads: %d, want 403", p.code)
	}
	if f.rules.status().Version != "r1" {
		t.Fatalf("a refused reload reloaded")
	}
	p = c.post("/ui/rules/reload", url.Values{"csrf": {csrf}})
	if p.code != http.StatusSeeOther || p.location != "/ui/rules?ok=reloaded" {
		t.Fatalf("reload: %d %q", p.code, p.location)
	}
	if p := c.get(p.location); !strings.Contains(p.body, "规则已重新加载，当前版本 r2") {
		t.Errorf("after reload:\n%s", p.body)
	}
	f.rules.mu.Lock()
	f.rules.broken = true
	f.rules.mu.Unlock()
	defer func() {
		f.rules.mu.Lock()
		f.rules.admins["duty"] = true
		f.rules.mu.Unlock()
	}()
	f.rules.mu.Lock()
	f.rules.admins["duty"] = false
	f.rules.mu.Unlock()
	if p := c.get("/ui/rules"); strings.Contains(p.body, `action="/ui/rules/reload"`) {
		t.Errorf("an office actor who is not an administrator is offered the reload")
	}
	if p := c.post("/ui/rules/reload", url.Values{"csrf": {csrf}}); p.code != http.StatusForbidden || !strings.Contains(p.body, "只有系统管理员") {
		t.Errorf("reload by an office actor who is not an administrator: %d", p.code)
	}
	f.rules.mu.Lock()
	f.rules.admins["duty"] = true
	f.rules.mu.Unlock()
	p = c.post("/ui/rules/reload", url.Values{"csrf": {csrf}})
	if p.code != http.StatusUnprocessableEntity || !strings.Contains(p.body, "重新加载失败，继续使用原规则") || !strings.Contains(p.body, "maanshan.yaml:12:5") ||
		!strings.Contains(p.body, `id="rule-version">r2<`) || !strings.Contains(p.body, "失败，继续使用上一版规则") {
		t.Errorf("broken reload: %d\n%s", p.code, p.body)
	}
}

func TestRulesPageWithoutClassifier(t *testing.T) {
	st := storetest.OpenSQLite(t)
	f := newFixture(t, st)
	h := New(Deps{Store: st, Dispatcher: f.disp, Authenticate: f.disp.Authenticate})
	f.srv.Config.Handler = h
	c := f.client(t)
	c.signIn("tok-duty")
	if p := c.get("/ui/rules"); p.code != http.StatusNotFound || !strings.Contains(p.body, "不运行分类") {
		t.Errorf("rules page of a process that does not classify: %d\n%s", p.code, p.body)
	}
}

func TestReportPage(t *testing.T) {
	f := newFixture(t, storetest.OpenSQLite(t))
	f.seed(t)
	// The seeded work is from the week of 2026-11-23; cgj's w1 goes overdue.
	f.clk.Add(40 * time.Hour)
	office := f.client(t)
	office.signIn("tok-duty")
	p := office.get("/ui/report?week=2026-11-26")
	for _, want := range []string{"2026年11月23日 至 11月29日", "市城市管理局", "市路灯管理所", "全市合计", "一周一曝光", "一周一专报",
		`href="/ui/report/csv?week=2026-11-23"`, `href="/ui/report?week=2026-11-16"`} {
		if !strings.Contains(p.body, want) {
			t.Errorf("office's report lacks %q", want)
		}
	}
	if !strings.Contains(p.body, `id="exposure"`) || !strings.Contains(p.body, f.cases["w1"]) {
		t.Errorf("office's report does not expose the overdue case %s:\n%s", f.cases["w1"], p.body)
	}
	dept := f.client(t)
	dept.signIn("tok-ldj")
	p = dept.get("/ui/report?week=2026-11-26")
	if !strings.Contains(p.body, "市路灯管理所") || strings.Contains(p.body, "<th scope=\"row\">市城市管理局") || strings.Contains(p.body, f.cases["w1"]) {
		t.Errorf("a department's report shows other departments' lines or exposed cases:\n%s", p.body)
	}
	if p := office.get("/ui/report?week=next-tuesday"); p.code != http.StatusBadRequest || !strings.Contains(p.body, "周次日期无法识别") {
		t.Errorf("bad week: %d", p.code)
	}
	for _, tc := range []struct{ format, ctype, disp, want string }{
		{"md", "text/markdown", "attachment", "市城市管理局"},
		{"csv", "text/csv", "attachment", "市城市管理局"},
		{"html", "text/html", "inline", "<style>"},
	} {
		p := office.get("/ui/report/" + tc.format + "?week=2026-11-26")
		if p.code != http.StatusOK || !strings.HasPrefix(p.header.Get("Content-Type"), tc.ctype) || !strings.Contains(p.body, tc.want) ||
			p.header.Get("Content-Disposition") != tc.disp+`; filename="mashangban-weekly-20261123.`+tc.format+`"` {
			t.Errorf("%s download: %d %q %q", tc.format, p.code, p.header.Get("Content-Type"), p.header.Get("Content-Disposition"))
		}
		if tc.format == "html" {
			css := p.body[strings.Index(p.body, "<style>")+len("<style>") : strings.Index(p.body, "</style>")]
			sum := sha256.Sum256([]byte(css))
			csp := p.header.Get("Content-Security-Policy")
			if !strings.Contains(csp, "style-src 'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'") || strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "default-src 'none'") {
				t.Errorf("report page's policy does not allow exactly its style sheet: %q", csp)
			}
		}
	}
	if p := dept.get("/ui/report/csv?week=2026-11-26"); strings.Contains(p.body, "市城市管理局") {
		t.Errorf("a department's CSV shows another department:\n%s", p.body)
	}
	if p := office.get("/ui/report/pdf"); p.code != http.StatusNotFound {
		t.Errorf("unknown format: %d", p.code)
	}
}

func TestInboxSearchAndFilters(t *testing.T) {
	storetest.ForEachStore(t, func(t *testing.T, st *store.Store) {
		f := newFixture(t, st)
		f.seed(t)
		w1, w2, w3 := f.cases["w1"], f.cases["w2"], f.cases["w3"]
		c := f.client(t)
		c.signIn("tok-cgj")
		csrf := csrfOf(t, c.get("/ui/inbox").body)
		c.post("/ui/assignments/"+itoa(f.assignment(t, w2, "cgj").ID)+"/claim", url.Values{"csrf": {csrf}})
		office := f.client(t)
		office.signIn("tok-duty")
		for _, tc := range []struct {
			who        *client
			query      string
			want, not  []string
			filterWord string
		}{
			{c, "q=" + url.QueryEscape("井盖"), []string{w1}, []string{w2, w3}, "含“井盖”"},
			{c, "q=" + url.QueryEscape(w2), []string{w2}, []string{w1}, ""},
			{c, "state=claimed", []string{w2}, []string{w1}, "已签收"},
			{c, "district=340504", []string{w1}, []string{w2}, "雨山区"},
			{c, "q=" + url.QueryEscape("路灯"), nil, []string{w1, w2, w3}, "没有符合条件的在办事项"},
			{office, "q=" + url.QueryEscape("路灯"), []string{w3}, []string{w1, w2}, ""},
			{office, "state=pending&district=340503", []string{w3, w2}, []string{w1}, "花山区"},
			{office, "department=ldj&q=" + url.QueryEscape("佳山路"), []string{w3}, []string{w1, w2}, "市路灯管理所"},
		} {
			p := tc.who.get("/ui/inbox?" + tc.query)
			if p.code != http.StatusOK {
				t.Fatalf("%s: %d", tc.query, p.code)
			}
			for _, w := range tc.want {
				if !strings.Contains(p.body, `href="/ui/cases/`+w+`"`) {
					t.Errorf("%s: %s missing", tc.query, w)
				}
			}
			for _, w := range tc.not {
				if strings.Contains(p.body, `href="/ui/cases/`+w+`"`) {
					t.Errorf("%s: %s listed", tc.query, w)
				}
			}
			if !strings.Contains(p.body, tc.filterWord) {
				t.Errorf("%s: page lacks %q", tc.query, tc.filterWord)
			}
		}
		if p := c.get("/ui/inbox?q=" + url.QueryEscape("井盖")); !strings.Contains(p.body, `id="q" name="q" value="井盖"`) {
			t.Errorf("the search box does not keep the text")
		}
		if p := c.get("/ui/inbox?state=resolved"); p.code != http.StatusBadRequest || !strings.Contains(p.body, "没有这个办理状态") {
			t.Errorf("unknown state: %d", p.code)
		}
		if p := c.get("/ui/inbox?q=" + strings.Repeat("长", maxSearch+1)); p.code != http.StatusBadRequest {
			t.Errorf("over-long search: %d", p.code)
		}
	})
}

func TestUnmergeAssistAndPhrases(t *testing.T) {
	storetest.ForEachStore(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		f := newFixture(t, st)
		f.seed(t)
		w1 := f.cases["w1"]
		f.repeat(t, "w1b", "w1", "湖东路那个井盖还是没有")
		if f.cases["w1b"] != w1 {
			t.Fatalf("the repeat post was not merged into %s but %s", w1, f.cases["w1b"])
		}
		repeatID := model.PostID(model.ChannelWeibo, "w1b")

		// Another department sees no undo; the lead does.
		gas := f.client(t)
		gas.signIn("tok-gas")
		lead := f.client(t)
		lead.signIn("tok-cgj")
		p := lead.get("/ui/cases/" + w1)
		if !strings.Contains(p.body, `action="/ui/cases/`+w1+`/unmerge"`) || !strings.Contains(p.body, "请其他部门协办") {
			t.Fatalf("lead's case page lacks the undo form, the common phrases or the request for help:\n%s", p.body)
		}
		csrf := csrfOf(t, p.body)
		if p := lead.post("/ui/cases/"+w1+"/unmerge", url.Values{"csrf": {csrf}, "post_id": {repeatID}, "reason": {" "}}); p.code != http.StatusBadRequest || !strings.Contains(p.body, "撤销合并需要填写理由") {
			t.Errorf("unmerge without a reason: %d", p.code)
		}
		if p := lead.post("/ui/cases/"+w1+"/unmerge", url.Values{"csrf": {csrf}, "post_id": {model.PostID(model.ChannelWeibo, "w3")}, "reason": {"不同"}}); p.code != http.StatusBadRequest {
			t.Errorf("unmerge of a post of another case: %d", p.code)
		}
		p = lead.post("/ui/cases/"+w1+"/unmerge", url.Values{"csrf": {csrf}, "post_id": {repeatID}, "reason": {"这是另一处井盖"}})
		if p.code != http.StatusSeeOther || !strings.Contains(p.location, "?ok=unmerged") {
			t.Fatalf("unmerge: %d %q\n%s", p.code, p.location, p.body)
		}
		cp, err := st.GetCasePost(ctx, nil, repeatID)
		if err != nil {
			t.Fatal(err)
		}
		nc, err := st.GetCase(ctx, nil, cp.CaseID)
		if err != nil || nc.No == w1 || !strings.Contains(p.location, nc.No) {
			t.Fatalf("after unmerge the post is in %+v (%v), redirected to %q", nc, err, p.location)
		}
		if p := lead.get(p.location); !strings.Contains(p.body, `由办件 <a href="/ui/cases/`+w1+`">`+w1+`</a> 撤销合并后单独立案`) || !strings.Contains(p.body, "这是另一处井盖") {
			t.Errorf("the new case does not say which case it was split from:\n%s", p.body)
		}
		if p := lead.get("/ui/cases/" + w1); !strings.Contains(p.body, "撤销合并："+w1+" → "+nc.No) || !strings.Contains(p.body, "这是另一处井盖") {
			t.Errorf("the old case's timeline lacks the undo and its reason")
		}

		// Request help: cgj asks ldj to assist on w1; ldj now sees it.
		a := f.assignment(t, w1, "cgj")
		if p := lead.post("/ui/assignments/"+itoa(a.ID)+"/assist", url.Values{"csrf": {csrf}, "to": {"ldj"}}); p.code != http.StatusBadRequest || !strings.Contains(p.body, "请求协办需要选择协办部门并填写理由") ||
			!strings.Contains(p.body, `<option value="ldj" selected>`) {
			t.Errorf("assist without a reason: %d", p.code)
		}
		p = lead.post("/ui/assignments/"+itoa(a.ID)+"/assist", url.Values{"csrf": {csrf}, "to": {"ldj"}, "reason": {"井盖旁路灯也坏了"}})
		if p.code != http.StatusSeeOther {
			t.Fatalf("assist: %d\n%s", p.code, p.body)
		}
		if got := f.assignment(t, w1, "ldj"); got.Role != model.RoleAssist || got.State != model.AssignmentPending {
			t.Errorf("ldj's assignment: %+v", got)
		}
		if p := lead.get(p.location); !strings.Contains(p.body, "已请求协办") || !strings.Contains(p.body, "市城市管理局请市路灯管理所协办") || !strings.Contains(p.body, "井盖旁路灯也坏了") {
			t.Errorf("case page after the request lacks the flash or the timeline line")
		}
		if p := lead.post("/ui/assignments/"+itoa(a.ID)+"/assist", url.Values{"csrf": {csrf}, "to": {"ldj"}, "reason": {"再请一次"}}); p.code != http.StatusConflict {
			t.Errorf("second request of the same department: %d", p.code)
		}
		ldj := f.client(t)
		ldj.signIn("tok-ldj")
		if p := ldj.get("/ui/inbox"); !strings.Contains(p.body, w1) {
			t.Errorf("the assisting department's inbox lacks %s", w1)
		}
		// gas may not ask for help on cgj's assignment.
		if p := gas.post("/ui/assignments/"+itoa(a.ID)+"/assist", url.Values{"csrf": {csrfOf(t, gas.get("/ui/inbox").body)}, "to": {"fire"}, "reason": {"x"}}); p.code != http.StatusNotFound {
			t.Errorf("gas requests help on cgj's assignment: %d", p.code)
		}

		// A common phrase, with the clerk's own words after it.
		lead.post("/ui/assignments/"+itoa(a.ID)+"/claim", url.Values{"csrf": {csrf}})
		if p := lead.get("/ui/cases/" + w1); !strings.Contains(p.body, `<option value="2">`+phrases[2]+`</option>`) {
			t.Errorf("the claimed assignment's reply form does not offer the common phrases")
		}
		p = lead.post("/ui/assignments/"+itoa(a.ID)+"/reply", url.Values{"csrf": {csrf}, "phrase": {"1"}, "text": {"维修班组明早到场。"}})
		if p.code != http.StatusSeeOther {
			t.Fatalf("reply with a phrase: %d\n%s", p.code, p.body)
		}
		evs, err := st.ListEvents(ctx, store.EventFilter{Kind: "assignment.replied"})
		if err != nil || len(evs) != 1 || !strings.Contains(string(evs[0].Detail), phrases[1]+"维修班组明早到场。") {
			t.Errorf("reply audit: %+v %v", evs, err)
		}
		if p := lead.post("/ui/assignments/"+itoa(a.ID)+"/reply", url.Values{"csrf": {csrf}, "phrase": {"99"}, "text": {"我的话"}}); p.code != http.StatusBadRequest || !strings.Contains(p.body, "我的话") {
			t.Errorf("reply with an unknown phrase: %d, want 400 with the text kept", p.code)
		}

		// The office may undo a merge too; a department that is not the lead may not.
		f.repeat(t, "w1c", "w1", "湖东路井盖又被偷了")
		if p := ldj.get("/ui/cases/" + w1); strings.Contains(p.body, "/unmerge") {
			t.Errorf("an assisting department is offered the undo")
		}
		if p := ldj.post("/ui/cases/"+w1+"/unmerge", url.Values{"csrf": {csrfOf(t, ldj.get("/ui/inbox").body)}, "post_id": {model.PostID(model.ChannelWeibo, "w1c")}, "reason": {"x"}}); p.code != http.StatusForbidden {
			t.Errorf("an assisting department undoes a merge: %d", p.code)
		}
		office := f.client(t)
		office.signIn("tok-duty")
		p = office.post("/ui/cases/"+w1+"/unmerge", url.Values{"csrf": {csrfOf(t, office.get("/ui/cases/"+w1).body)}, "post_id": {model.PostID(model.ChannelWeibo, "w1c")}, "reason": {"不同地点"}})
		if p.code != http.StatusSeeOther {
			t.Errorf("office undoes a merge: %d\n%s", p.code, p.body)
		}
	})
}

func TestSessionEndsWhenNoLongerConfigured(t *testing.T) {
	storetest.ForEachStore(t, func(t *testing.T, st *store.Store) {
		f := newFixture(t, st)
		f.seed(t)
		c := f.client(t)
		c.signIn("tok-ldj")
		other := f.client(t)
		other.signIn("tok-cgj")
		if p := c.get("/ui/inbox"); p.code != http.StatusOK {
			t.Fatalf("inbox: %d", p.code)
		}
		f.rules.remove("ldj")
		if p := c.get("/ui/inbox"); p.code != http.StatusSeeOther || !strings.HasPrefix(p.location, "/ui/signin") {
			t.Errorf("a removed department's next request: %d %q, want a redirect to sign-in", p.code, p.location)
		}
		var n int
		if err := st.DB.QueryRow(context.Background(), `SELECT count(*) FROM web_sessions WHERE actor = 'ldj'`).Scan(&n); err != nil || n != 0 {
			t.Errorf("the removed department's sessions left: %d %v", n, err)
		}
		if p := other.get("/ui/inbox"); p.code != http.StatusOK {
			t.Errorf("another department's session ended too: %d", p.code)
		}
	})
}
