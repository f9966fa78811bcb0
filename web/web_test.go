package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/mashangban/mashangban/dispatch"
	"github.com/mashangban/mashangban/model"
	"github.com/mashangban/mashangban/store"
	"github.com/mashangban/mashangban/store/storetest"
)

func TestSignInSessionSignOut(t *testing.T) {
	storetest.ForEachStore(t, func(t *testing.T, st *store.Store) {
		f := newFixture(t, st)
		f.seed(t)
		c := f.client(t)
		if p := c.get("/ui/inbox"); p.code != http.StatusSeeOther || !strings.HasPrefix(p.location, "/ui/signin") {
			t.Fatalf("inbox without a session: %d %q, want a redirect to sign-in", p.code, p.location)
		}
		p := c.signIn("tok-wrong")
		if p.code != http.StatusUnauthorized || !strings.Contains(p.body, "令牌无效") {
			t.Fatalf("wrong token: %d\n%s", p.code, p.body)
		}
		p = c.signIn("tok-cgj")
		if p.code != http.StatusSeeOther || p.location != "/ui/inbox" {
			t.Fatalf("sign-in: %d %q, want 303 to the inbox", p.code, p.location)
		}
		set := p.header.Get("Set-Cookie")
		for _, want := range []string{cookieName + "=", "Path=/ui/", "HttpOnly", "SameSite=Lax"} {
			if !strings.Contains(set, want) {
				t.Errorf("cookie %q lacks %q", set, want)
			}
		}
		if strings.Contains(set, "Secure") {
			t.Errorf("cookie %q is Secure over plain HTTP: the browser would drop it", set)
		}
		tok := strings.TrimPrefix(strings.SplitN(set, ";", 2)[0], cookieName+"=")
		var n int
		if err := st.DB.QueryRow(context.Background(), `SELECT count(*) FROM web_sessions WHERE id_hash = $1 AND actor = 'cgj'`, hashHex(tok)).Scan(&n); err != nil || n != 1 {
			t.Fatalf("stored sessions for the cookie's hash: %d, %v", n, err)
		}
		if err := st.DB.QueryRow(context.Background(), `SELECT count(*) FROM web_sessions WHERE id_hash = $1`, tok).Scan(&n); err != nil || n != 0 {
			t.Errorf("the cookie's token itself is in the store")
		}
		p = c.get("/ui/inbox")
		if p.code != http.StatusOK || !strings.Contains(p.body, "市城市管理局") {
			t.Fatalf("inbox after sign-in: %d\n%s", p.code, p.body)
		}
		// A restart: a new console on the same store knows the session.
		f2 := newFixture(t, st)
		c2 := f2.client(t)
		c2.c.Jar = c.c.Jar
		u, _ := url.Parse(c.url)
		u2, _ := url.Parse(c2.url)
		c2.c.Jar.SetCookies(u2, c.c.Jar.Cookies(u))
		if p := c2.get("/ui/inbox"); p.code != http.StatusOK {
			t.Fatalf("inbox on a restarted console: %d %q", p.code, p.location)
		}
		csrf := csrfOf(t, p.body)
		if p := c.post("/ui/signout", url.Values{"csrf": {"forged"}}); p.code != http.StatusForbidden {
			t.Errorf("sign-out without the CSRF token: %d, want 403", p.code)
		}
		if p := c.post("/ui/signout", url.Values{"csrf": {csrf}}); p.code != http.StatusSeeOther || p.location != "/ui/signin" {
			t.Fatalf("sign-out: %d %q", p.code, p.location)
		}
		if err := st.DB.QueryRow(context.Background(), `SELECT count(*) FROM web_sessions WHERE id_hash = $1`, hashHex(tok)).Scan(&n); err != nil || n != 0 {
			t.Errorf("session still stored after sign-out")
		}
		if p := c2.get("/ui/inbox"); p.code != http.StatusSeeOther {
			t.Errorf("the signed-out cookie still opens the inbox: %d", p.code)
		}
		// An expired session is refused.
		c3 := f.client(t)
		c3.signIn("tok-cgj")
		f.clk.Add(13 * time.Hour)
		if p := c3.get("/ui/inbox"); p.code != http.StatusSeeOther {
			t.Errorf("inbox with an expired session: %d, want a redirect to sign-in", p.code)
		}
	})
}

func TestSignInNext(t *testing.T) {
	f := newFixture(t, storetest.OpenSQLite(t))
	f.seed(t)
	c := f.client(t)
	p := c.get("/ui/cases/" + f.cases["w1"])
	if p.code != http.StatusSeeOther {
		t.Fatalf("case without a session: %d", p.code)
	}
	p = c.get(p.location)
	if !strings.Contains(p.body, `name="next" value="/ui/cases/`+f.cases["w1"]) {
		t.Fatalf("sign-in page does not carry where to go next:\n%s", p.body)
	}
	p = c.post("/ui/signin", url.Values{"token": {"tok-cgj"}, "next": {"/ui/cases/" + f.cases["w1"]}})
	if p.location != "/ui/cases/"+f.cases["w1"] {
		t.Errorf("after sign-in: %q, want the case", p.location)
	}
	c = f.client(t)
	p = c.post("/ui/signin", url.Values{"token": {"tok-cgj"}, "next": {"//evil.example/ui/"}})
	if p.location != "/ui/inbox" {
		t.Errorf("next to another site: redirected to %q, want the inbox", p.location)
	}
}

func TestSignInRateLimited(t *testing.T) {
	st := storetest.OpenSQLite(t)
	f := newFixture(t, st)
	h := New(Deps{Store: st, Dispatcher: f.disp, Authenticate: f.disp.Authenticate, SignInRate: rate.Every(time.Hour), SignInBurst: 3})
	f.srv.Config.Handler = h
	c := f.client(t)
	for i := range 3 {
		if p := c.signIn("tok-guess"); p.code != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d, want 401", i+1, p.code)
		}
	}
	p := c.signIn("tok-cgj")
	if p.code != http.StatusTooManyRequests || !strings.Contains(p.body, "过于频繁") {
		t.Fatalf("fourth attempt: %d, want 429 even with the right token\n%s", p.code, p.body)
	}
}

func TestForgedPostsRefused(t *testing.T) {
	f := newFixture(t, storetest.OpenSQLite(t))
	f.seed(t)
	c := f.client(t)
	c.signIn("tok-cgj")
	csrf := csrfOf(t, c.get("/ui/inbox").body)
	a := f.assignment(t, f.cases["w1"], "cgj")
	path := "/ui/assignments/" + itoa(a.ID) + "/claim"
	for name, mod := range map[string]func(*http.Request){
		"cross-site fetch metadata": func(r *http.Request) { r.Header.Set("Sec-Fetch-Site", "cross-site") },
		"foreign origin": func(r *http.Request) {
			r.Header.Del("Sec-Fetch-Site")
			r.Header.Set("Origin", "http://evil.example")
		},
		"no csrf token": func(r *http.Request) { r.Body = http.NoBody; r.ContentLength = 0 },
		"wrong csrf token": func(r *http.Request) {
			b := "csrf=" + csrf + "x"
			r.Body, r.ContentLength = bodyOf(b), int64(len(b))
		},
	} {
		req, _ := http.NewRequest(http.MethodPost, c.url+path, strings.NewReader("csrf="+csrf))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		mod(req)
		if p := c.do(req); p.code != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", name, p.code)
		}
		if got := f.assignment(t, f.cases["w1"], "cgj"); got.State != model.AssignmentPending {
			t.Fatalf("%s: the assignment went to %s", name, got.State)
		}
	}
	if p := c.post(path, url.Values{"csrf": {csrf}}); p.code != http.StatusSeeOther {
		t.Fatalf("the same claim from the console's own form: %d\n%s", p.code, p.body)
	}
}

func TestDepartmentWorksItsInbox(t *testing.T) {
	storetest.ForEachStore(t, func(t *testing.T, st *store.Store) {
		f := newFixture(t, st)
		f.seed(t)
		c := f.client(t)
		c.signIn("tok-cgj")
		p := c.get("/ui/inbox")
		w1, w2, w3 := f.cases["w1"], f.cases["w2"], f.cases["w3"]
		if !strings.Contains(p.body, w1) || !strings.Contains(p.body, w2) || strings.Contains(p.body, w3) {
			t.Fatalf("cgj's inbox should list %s and %s, not ldj's %s:\n%s", w1, w2, w3, p.body)
		}
		if strings.Index(p.body, w1) > strings.Index(p.body, w2) {
			t.Errorf("inbox not ordered by the next deadline: %s (claim due first) after %s", w1, w2)
		}
		// Claim deadline 24h after creation; four hours have passed for w1.
		if !strings.Contains(p.body, "签收剩余20小时") || !strings.Contains(p.body, "待签收") {
			t.Errorf("inbox lacks the time left in words:\n%s", p.body)
		}
		csrf := csrfOf(t, p.body)
		a := f.assignment(t, w1, "cgj")
		id := itoa(a.ID)
		steps := []struct {
			action string
			form   url.Values
			want   model.AssignmentState
			flash  string
		}{
			{"claim", url.Values{}, model.AssignmentClaimed, "已签收"},
			{"reply", url.Values{"text": {"已安排人员今天下午补装井盖。"}}, model.AssignmentReplied, "答复已发送"},
			{"resolve", url.Values{"text": {"井盖已补装。"}}, model.AssignmentResolved, "已办结"},
		}
		for _, s := range steps {
			s.form.Set("csrf", csrf)
			p := c.post("/ui/assignments/"+id+"/"+s.action, s.form)
			if p.code != http.StatusSeeOther || !strings.HasPrefix(p.location, "/ui/cases/"+w1+"?ok="+s.action) {
				t.Fatalf("%s: %d %q, want a redirect to the case\n%s", s.action, p.code, p.location, p.body)
			}
			if got := f.assignment(t, w1, "cgj"); got.State != s.want {
				t.Fatalf("after %s the assignment is %s, want %s", s.action, got.State, s.want)
			}
			if page := c.get(p.location); !strings.Contains(page.body, s.flash) {
				t.Errorf("after %s the case page does not say %q", s.action, s.flash)
			}
		}
		page := c.get("/ui/cases/" + w1)
		for _, want := range []string{"雨山区湖东路井盖丢失", "https://weibo.example/w1", "井盖", "市城市管理局签收", "市城市管理局答复", "已安排人员今天下午补装井盖。", "市城市管理局办结", "全部办结", "分派给市城市管理局（主办）", "首次反映 · 微博"} {
			if !strings.Contains(page.body, want) {
				t.Errorf("case page lacks %q", want)
			}
		}
		if strings.Contains(page.body, ">cgj<") || strings.Contains(page.body, "主办：cgj") {
			t.Errorf("case page shows a department code")
		}
		evs, err := st.ListEvents(context.Background(), store.EventFilter{Kind: "assignment.replied"})
		if err != nil || len(evs) != 1 || evs[0].Actor != "cgj" {
			t.Errorf("reply audit: %+v %v", evs, err)
		}
		if p := c.get("/ui/inbox"); strings.Contains(p.body, w1) {
			t.Errorf("the closed case is still in the inbox")
		}
	})
}

func TestRefusedActionKeepsTheForm(t *testing.T) {
	f := newFixture(t, storetest.OpenSQLite(t))
	f.seed(t)
	c := f.client(t)
	c.signIn("tok-cgj")
	w2 := f.cases["w2"]
	csrf := csrfOf(t, c.get("/ui/inbox").body)
	id := itoa(f.assignment(t, w2, "cgj").ID)
	p := c.post("/ui/assignments/"+id+"/reply", url.Values{"csrf": {csrf}, "text": {"还没签收就答复"}})
	if p.code != http.StatusConflict || !strings.Contains(p.body, "需先签收") || !strings.Contains(p.body, "还没签收就答复") {
		t.Errorf("reply before claim: %d, want 409 with the reason and the text kept\n%s", p.code, p.body)
	}
	p = c.post("/ui/assignments/"+id+"/transfer", url.Values{"csrf": {csrf}, "to": {"ldj"}, "reason": {"  "}})
	if p.code != http.StatusBadRequest || !strings.Contains(p.body, `<option value="ldj" selected>`) {
		t.Errorf("transfer without a reason: %d, want 400 with the department still chosen\n%s", p.code, p.body)
	}
	c.post("/ui/assignments/"+id+"/claim", url.Values{"csrf": {csrf}})
	if p := c.post("/ui/assignments/"+id+"/claim", url.Values{"csrf": {csrf}}); p.code != http.StatusConflict || !strings.Contains(p.body, "已被签收") {
		t.Errorf("second claim: %d\n%s", p.code, p.body)
	}
	p = c.post("/ui/assignments/"+id+"/transfer", url.Values{"csrf": {csrf}, "to": {"ldj"}, "reason": {"路灯归路灯所"}})
	if p.code != http.StatusSeeOther {
		t.Fatalf("transfer: %d\n%s", p.code, p.body)
	}
	if a := f.assignment(t, w2, "ldj"); a.State != model.AssignmentPending {
		t.Errorf("ldj's new assignment is %s", a.State)
	}
	if p := c.get("/ui/cases/" + w2); !strings.Contains(p.body, "市城市管理局转交市路灯管理所") || !strings.Contains(p.body, "路灯归路灯所") {
		t.Errorf("timeline lacks the transfer and its reason")
	}
}

func TestAnotherDepartmentsCase(t *testing.T) {
	f := newFixture(t, storetest.OpenSQLite(t))
	f.seed(t)
	c := f.client(t)
	c.signIn("tok-gas")
	w1, w2 := f.cases["w1"], f.cases["w2"]
	if p := c.get("/ui/cases/" + w2); p.code != http.StatusOK {
		t.Errorf("gas assists on %s but cannot open it: %d", w2, p.code)
	}
	for _, no := range []string{w1, "MSB-20261126-9999"} {
		p := c.get("/ui/cases/" + no)
		if p.code != http.StatusNotFound || !strings.Contains(p.body, "没有找到这个办件") || strings.Contains(p.body, "井盖") {
			t.Errorf("gas opens %s: %d, want the same 404 as a missing case\n%s", no, p.code, p.body)
		}
	}
	csrf := csrfOf(t, c.get("/ui/inbox").body)
	a := f.assignment(t, w1, "cgj")
	if p := c.post("/ui/assignments/"+itoa(a.ID)+"/claim", url.Values{"csrf": {csrf}}); p.code != http.StatusNotFound {
		t.Errorf("gas claims cgj's assignment: %d, want 404", p.code)
	}
	if got := f.assignment(t, w1, "cgj"); got.State != model.AssignmentPending {
		t.Errorf("cgj's assignment went to %s", got.State)
	}
	for _, path := range []string{"/ui/triage", "/ui/dashboard"} {
		if p := c.get(path); p.code != http.StatusForbidden {
			t.Errorf("a department opens %s: %d, want 403", path, p.code)
		}
	}
	if p := c.get("/ui/inbox?department=cgj"); strings.Contains(p.body, w1) {
		t.Errorf("a department lists another's inbox by its query")
	}
}

func TestOfficeRoutesTriageAndSeesDashboard(t *testing.T) {
	storetest.ForEachStore(t, func(t *testing.T, st *store.Store) {
		f := newFixture(t, st)
		f.seed(t)
		c := f.client(t)
		p := c.signIn("tok-duty")
		if p.location != "/ui/dashboard" {
			t.Fatalf("office sign-in goes to %q, want the dashboard", p.location)
		}
		p = c.get("/ui/dashboard")
		if p.code != http.StatusOK {
			t.Fatalf("dashboard: %d\n%s", p.code, p.body)
		}
		// cgj holds two assignments, gas and ldj one each; one waits for triage.
		for _, want := range []string{`<span class="n">4</span>在办分派`, `<span class="n" id="triage-count">1</span>待分派`,
			`<a href="/ui/inbox?department=cgj">2</a>`, "市城市管理局", "花山区", `<a href="/ui/inbox?district=340503">2</a>`, "<svg", "目标 95%"} {
			if !strings.Contains(p.body, want) {
				t.Errorf("dashboard lacks %q", want)
			}
		}
		p = c.get("/ui/triage")
		for _, want := range []string{"我家楼下有人长期占道经营", "模型把握不足", "市城市管理局 41.0%", "主办：市城市管理局", "<strong>微博</strong>"} {
			if !strings.Contains(p.body, want) {
				t.Errorf("triage page lacks %q\n%s", want, p.body)
			}
		}
		csrf := csrfOf(t, p.body)
		post := model.PostID(model.ChannelWeibo, "w4")
		if p := c.post("/ui/triage/route", url.Values{"csrf": {csrf}, "post_id": {post}, "district": {"340504"}, "lead": {"cgj"}}); p.code != http.StatusBadRequest || !strings.Contains(p.body, "分派理由") {
			t.Errorf("routing without a reason: %d, want 400 asking for it", p.code)
		}
		p = c.post("/ui/triage/route", url.Values{"csrf": {csrf}, "post_id": {post}, "district": {"340504"}, "lead": {"cgj"}, "assist": {"gas"}, "reason": {"占道经营归城管"}})
		if p.code != http.StatusSeeOther || !strings.HasPrefix(p.location, "/ui/triage?ok=routed&case=MSB-") {
			t.Fatalf("route: %d %q\n%s", p.code, p.location, p.body)
		}
		it, err := st.GetTriage(context.Background(), nil, post)
		if err != nil || it.State != store.TriageRouted || it.RoutedBy != "duty" || it.RoutedWhy != "占道经营归城管" {
			t.Fatalf("triage entry after routing: %+v %v", it, err)
		}
		routed, err := st.GetCase(context.Background(), nil, *it.CaseID)
		if err != nil || routed.Lead != "cgj" || len(routed.Districts) != 1 || routed.Districts[0].Code != "340504" {
			t.Fatalf("routed case: %+v %v", routed, err)
		}
		if p := c.get(p.location); !strings.Contains(p.body, "已分派，办件编号 "+routed.No) || !strings.Contains(p.body, "没有待分派的反映") {
			t.Errorf("triage page after routing:\n%s", p.body)
		}
		p = c.get("/ui/dashboard")
		for _, want := range []string{`<span class="n">6</span>在办分派`, `<span class="n" id="triage-count">0</span>待分派`, `<a href="/ui/inbox?department=cgj">3</a>`} {
			if !strings.Contains(p.body, want) {
				t.Errorf("dashboard after routing lacks %q", want)
			}
		}
		if p := c.get("/ui/cases/" + routed.No); !strings.Contains(p.body, "人工分派") || !strings.Contains(p.body, "占道经营归城管") {
			t.Errorf("routed case page lacks the hand routing and its reason")
		}
		// Overdue and carded numbers lead to their lists.
		f.clk.Add(30 * time.Hour)
		if err := f.disp.Tick(context.Background(), f.clk.Now()); err != nil {
			t.Fatal(err)
		}
		if p := c.get("/ui/dashboard"); p.code != http.StatusSeeOther {
			t.Fatalf("dashboard after the 12-hour session ended: %d, want a redirect to sign-in", p.code)
		}
		c.signIn("tok-duty")
		p = c.get("/ui/dashboard")
		if !strings.Contains(p.body, `<a href="/ui/inbox?overdue=1"><span class="n">6</span>已超时</a>`) || !strings.Contains(p.body, `<a href="/ui/inbox?carded=1"><span class="n">6</span>已亮牌</a>`) {
			t.Errorf("dashboard after the claim deadlines passed:\n%s", p.body)
		}
		if p := c.get("/ui/inbox?district=340503"); !strings.Contains(p.body, "在办事项：花山区") || !strings.Contains(p.body, f.cases["w3"]) || strings.Contains(p.body, f.cases["w1"]) {
			t.Errorf("district list:\n%s", p.body)
		}
		p = c.get("/ui/inbox?carded=1")
		if !strings.Contains(p.body, "黄牌") || !strings.Contains(p.body, "已超时") || !strings.Contains(p.body, f.cases["w3"]) {
			t.Errorf("carded list:\n%s", p.body)
		}
	})
}

func TestSecurityHeadersAndAssets(t *testing.T) {
	f := newFixture(t, storetest.OpenSQLite(t))
	c := f.client(t)
	for _, path := range []string{"/ui/signin", "/ui/static/console.css", "/ui/nope", "/ui/inbox"} {
		p := c.get(path)
		if got := p.header.Get("Content-Security-Policy"); got != ContentSecurityPolicy {
			t.Errorf("%s: CSP %q", path, got)
		}
		if p.header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: no nosniff", path)
		}
	}
	if p := c.get("/ui/static/console.css"); p.code != http.StatusOK || !strings.HasPrefix(p.header.Get("Content-Type"), "text/css") {
		t.Errorf("style sheet: %d %q", p.code, p.header.Get("Content-Type"))
	}
	if p := c.get("/ui/signin"); strings.Contains(p.body, "<script") || strings.Contains(p.body, "style=") {
		t.Errorf("sign-in page has inline script or style, which the CSP blocks")
	}
}

func TestTimeLeft(t *testing.T) {
	now := start
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{3 * time.Hour, "剩余3小时"},
		{3*time.Hour + 59*time.Minute, "剩余3小时"},
		{25 * time.Hour, "剩余1天1小时"},
		{24 * time.Hour, "剩余1天"},
		{50 * time.Hour, "剩余2天"},
		{20 * time.Minute, "剩余20分钟"},
		{10 * time.Second, "剩余1分钟"},
		{-2 * 24 * time.Hour, "已超时2天"},
		{-5 * time.Hour, "已超时5小时"},
	} {
		if got := timeLeft(now.Add(tc.d), now); got != tc.want {
			t.Errorf("timeLeft(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
	if got := triageReason("district unknown; no route matched"); got != "无法确定所属区域；没有匹配的分派规则" {
		t.Errorf("triageReason = %q", got)
	}
	if got := colour([]model.Card{model.CardYellow, model.CardOrange}, now.Add(time.Hour), now); got != "orange" {
		t.Errorf("colour with two cards = %q, want the most serious", got)
	}
	_ = dispatch.Target
}
