package public_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mashangban/mashangban/dispatch"
	"github.com/mashangban/mashangban/model"
	"github.com/mashangban/mashangban/public"
	"github.com/mashangban/mashangban/rules"
	"github.com/mashangban/mashangban/store"
	"github.com/mashangban/mashangban/store/storetest"
)

// start is a Thursday morning in Ma'anshan (01:00 UTC = 09:00 CST).
var start = time.Date(2026, 11, 26, 1, 0, 0, 0, time.UTC)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var (
	ruleSetOnce sync.Once
	ruleSet     *rules.RuleSet
	ruleSetErr  error
)

// defaultRules is the built-in rule set: its departments and categories
// are the names the pages must show.
func defaultRules(t testing.TB) *rules.RuleSet {
	t.Helper()
	ruleSetOnce.Do(func() { ruleSet, ruleSetErr = rules.Load("../rules/default") })
	if ruleSetErr != nil {
		t.Fatal(ruleSetErr)
	}
	return ruleSet
}

// Personal data and internal words planted in the posts and actions; none
// may appear on a public page.
var secrets = []string{
	"王小明", "李大姐", // author names
	"13812345678", "138 1234 5678", "34050319900101123X", "0555-87654321", // contact and ID numbers
	"wangxm@example.com", "@热心市民张三", // an address and a mention
	"u-weibo-1", "weibo:5030", "wechat:", // author and post IDs
	"内部备注", "张科长", "属地管理", // a transfer reason
	"返工说明",                                         // a reopen reason
	`"cgj"`, "huashan.cgj", "huashan.gov", ">cgj<", // department codes
	"score", "confidence", "duty", // internal fields and actors
}

var huashan = model.District{Code: "340503", Name: "花山区"}

func decision(ch model.Channel, native, author, text string, lead string, assist ...string) model.Decision {
	dec := model.Decision{
		Post: model.Post{ID: model.PostID(ch, native), Source: string(ch), Channel: ch, NativeID: native,
			Author: model.Author{ID: "u-" + string(ch) + "-1", Name: author}, Text: text, CreatedAt: start, FetchedAt: start,
			Geo: &model.Geo{Lat: 31.7123, Lon: 118.5123}},
		Districts: []model.District{huashan}, Lead: &model.Department{ID: lead}, Category: "stairwell", Priority: model.PriorityNormal,
		Confidence: 0.9, Tokens: []string{"阳湖花园", "楼道", "窗户", "脱落"},
		Explanation:    model.Explanation{Places: []model.PlaceMatch{{Text: "阳湖花园", Kind: "compound", District: "340503"}}},
		RuleSetVersion: "r1", DecidedAt: start,
	}
	for _, a := range assist {
		dec.Assist = append(dec.Assist, model.Department{ID: a})
	}
	return dec
}

// fixture is a case worked through the dispatcher as departments do it:
// reported twice, claimed, answered, transferred to the district, claimed
// and finished there, the assisting district government finished, closed.
type fixture struct {
	st     *store.Store
	srv    http.Handler
	clk    *clock
	caseNo string
	other  string // an open case, untouched
}

func newFixture(t *testing.T, st *store.Store) *fixture {
	t.Helper()
	ctx := context.Background()
	clk := &clock{t: start}
	d := dispatch.New(st, dispatch.Options{Now: clk.Now, Departments: []dispatch.DepartmentAuth{
		{ID: "cgj", Token: "t1"}, {ID: "huashan.cgj", Token: "t2"}, {ID: "huashan.gov", Token: "t3"}, {ID: "duty", Token: "t4", Supervisor: true},
	}}, nil, nil)
	first := decision(model.ChannelWeibo, "5030", "王小明",
		"阳湖花园3栋楼道窗户脱落，很危险！联系电话13812345678，身份证34050319900101123X，邮箱wangxm@example.com @热心市民张三", "cgj", "huashan.gov")
	if err := d.Handle(ctx, first); err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Hour)
	repeat := decision(model.ChannelWeChat, "abc", "李大姐", "阳湖花园楼道的窗户掉下来了，电话138 1234 5678", "cgj", "huashan.gov")
	repeat.Post.ID, repeat.Post.NativeID = "wechat:abc", "abc"
	if err := d.Handle(ctx, repeat); err != nil {
		t.Fatal(err)
	}
	cp, err := st.GetCasePost(ctx, nil, first.Post.ID)
	if err != nil {
		t.Fatal(err)
	}
	c, err := st.GetCase(ctx, nil, cp.CaseID)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.PostIDs) != 2 {
		t.Fatalf("the repeat was not merged: %v", c.PostIDs)
	}
	as, err := st.ListAssignments(ctx, nil, store.AssignmentFilter{CaseID: c.ID})
	if err != nil || len(as) != 2 {
		t.Fatalf("assignments = %v, %v", as, err)
	}
	lead, assist := as[0].ID, as[1].ID
	step := func(what string, fn func() (store.Assignment, error)) store.Assignment {
		t.Helper()
		clk.Add(30 * time.Minute)
		a, err := fn()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return a
	}
	cgj, hcgj, hgov := dispatch.Actor{ID: "cgj"}, dispatch.Actor{ID: "huashan.cgj"}, dispatch.Actor{ID: "huashan.gov"}
	step("claim", func() (store.Assignment, error) { return d.Claim(ctx, cgj, lead) })
	step("reply", func() (store.Assignment, error) {
		return d.Reply(ctx, cgj, lead, "已安排维修人员明天上门处理，如有疑问请拨打0555-87654321。")
	})
	moved := step("transfer", func() (store.Assignment, error) {
		return d.Transfer(ctx, cgj, lead, "huashan.cgj", "属地管理，内部备注：张科长已电话确认")
	})
	step("claim after transfer", func() (store.Assignment, error) { return d.Claim(ctx, hcgj, moved.ID) })
	step("resolve", func() (store.Assignment, error) {
		return d.Resolve(ctx, hcgj, moved.ID, "窗户已重新安装加固。")
	})
	step("assist claim", func() (store.Assignment, error) { return d.Claim(ctx, hgov, assist) })
	step("assist resolve", func() (store.Assignment, error) { return d.Resolve(ctx, hgov, assist, "") })

	other := decision(model.ChannelReplay, "9", "", "雨山区某小区路灯不亮", "yushan.cgj")
	other.Districts, other.Category = []model.District{{Code: "340504", Name: "雨山区"}}, "streetlight"
	other.Explanation.Places, other.Tokens = nil, []string{"路灯"}
	if err := d.Handle(ctx, other); err != nil {
		t.Fatal(err)
	}
	ocp, err := st.GetCasePost(ctx, nil, other.Post.ID)
	if err != nil {
		t.Fatal(err)
	}
	oc, _ := st.GetCase(ctx, nil, ocp.CaseID)

	mux := http.NewServeMux()
	rs := defaultRules(t)
	public.New(st, public.Options{RuleSet: func() *rules.RuleSet { return rs }, Now: clk.Now}).Register(mux)
	return &fixture{st: st, srv: mux, clk: clk, caseNo: c.No, other: oc.No}
}

func (f *fixture) get(t *testing.T, path string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest("GET", path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	f.srv.ServeHTTP(rec, req)
	return rec
}

func noSecrets(t *testing.T, what, body string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(body, s) {
			t.Errorf("%s shows %q", what, s)
		}
	}
}

var reStyle = regexp.MustCompile(`(?s)<style>(.*?)</style>`)

func checkPageHeaders(t *testing.T, what string, rec *httptest.ResponseRecorder) {
	t.Helper()
	h := rec.Header()
	csp := h.Get("Content-Security-Policy")
	if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "img-src 'self'") || strings.Contains(csp, "unsafe") {
		t.Errorf("%s: Content-Security-Policy = %q", what, csp)
	}
	// The inline style is allowed by its hash, so the browser applies it.
	m := reStyle.FindStringSubmatch(rec.Body.String())
	if m == nil {
		t.Fatalf("%s: no style element", what)
	}
	sum := sha256.Sum256([]byte(m[1]))
	if want := "style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"; !strings.Contains(csp, want) {
		t.Errorf("%s: CSP %q lacks the style's hash %q", what, csp, want)
	}
	if h.Get("X-Content-Type-Options") != "nosniff" || !strings.HasPrefix(h.Get("Content-Type"), "text/html; charset=utf-8") {
		t.Errorf("%s: headers %v", what, h)
	}
	if cc := h.Get("Cache-Control"); cc != "public, max-age=60" && cc != "no-store" {
		t.Errorf("%s: Cache-Control = %q", what, cc)
	}
	body := rec.Body.String()
	for _, want := range []string{`<html lang="zh-CN">`, `name="viewport" content="width=device-width, initial-scale=1"`} {
		if !strings.Contains(body, want) {
			t.Errorf("%s lacks %s", what, want)
		}
	}
	for _, ext := range []string{"<script", "http://", "https://", "<link", "<img"} {
		if strings.Contains(body, ext) {
			t.Errorf("%s loads or runs something: %s", what, ext)
		}
	}
}

func TestCasePage(t *testing.T) {
	t.Parallel()
	storetest.ForEachStore(t, func(t *testing.T, st *store.Store) {
		f := newFixture(t, st)
		rec := f.get(t, "/c/"+f.caseNo)
		if rec.Code != 200 {
			t.Fatalf("GET /c/%s: %d %s", f.caseNo, rec.Code, rec.Body)
		}
		checkPageHeaders(t, "case page", rec)
		body := rec.Body.String()
		// The timeline in order, departments by name.
		order := []string{
			"受理</span>已受理，办件编号" + f.caseNo,
			"已交由市城市管理局办理", "花山区人民政府协同办理",
			"又有一位市民反映了同一问题",
			"市城市管理局已签收",
			"市城市管理局答复", "已安排维修人员明天上门处理，如有疑问请拨打********4321。",
			"市城市管理局已将办件转交花山区城市管理局办理",
			"花山区城市管理局已签收", "花山区城市管理局已办理完毕", "窗户已重新安装加固。",
			"花山区人民政府已签收", "花山区人民政府已办理完毕",
			"办件办结",
		}
		at := 0
		for _, want := range order {
			i := strings.Index(body[at:], want)
			if i < 0 {
				t.Errorf("page lacks %q after position %d", want, at)
				continue
			}
			at += i + len(want)
		}
		for _, want := range []string{"已办结", "楼道与门窗", "花山区 阳湖花园", "共 2 位市民反映", "138****5678", "340***********123X",
			"***@example.com", "@用户", "2026年11月26日 09:00", "签收", "答复", "转办", "办结", "同一问题"} {
			if !strings.Contains(body, want) {
				t.Errorf("page lacks %q", want)
			}
		}
		noSecrets(t, "case page", body)
		if strings.Contains(body, "stairwell") {
			t.Error("page shows the category's code")
		}
		if strings.Contains(body, "31.71") || strings.Contains(body, "118.51") {
			t.Error("page shows the reporter's position")
		}

		// A lower-case number finds the same case.
		if rec := f.get(t, "/c/"+strings.ToLower(f.caseNo)); rec.Code != 200 || !strings.Contains(rec.Body.String(), f.caseNo) {
			t.Errorf("lower-case number: %d", rec.Code)
		}
		// An open case shows its deadlines and who holds it.
		rec = f.get(t, "/c/"+f.other)
		for _, want := range []string{"待签收", "雨山区城市管理局", "答复期限", "2026年11月29日", "办结期限", "路灯照明"} {
			if !strings.Contains(rec.Body.String(), want) {
				t.Errorf("open case page lacks %q", want)
			}
		}
		if strings.Contains(rec.Body.String(), "yushan.cgj") {
			t.Error("open case page shows a department code")
		}
	})
}

func TestCaseJSON(t *testing.T) {
	t.Parallel()
	st := storetest.OpenSQLite(t)
	f := newFixture(t, st)
	for _, req := range []struct {
		path   string
		header []string
	}{
		{"/c/" + f.caseNo + ".json", nil},
		{"/c/" + f.caseNo, []string{"Accept", "application/json"}},
	} {
		rec := f.get(t, req.path, req.header...)
		if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") ||
			rec.Header().Get("X-Content-Type-Options") != "nosniff" || rec.Header().Get("Content-Security-Policy") == "" {
			t.Fatalf("GET %s: %d %v", req.path, rec.Code, rec.Header())
		}
		noSecrets(t, req.path, rec.Body.String())
		var v public.CaseView
		if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
			t.Fatal(err)
		}
		var kinds []string
		for _, s := range v.Timeline {
			kinds = append(kinds, s.Kind)
		}
		want := []string{"received", "assigned", "assisting", "repeat", "claimed", "replied", "transferred", "claimed", "finished", "claimed", "finished", "closed"}
		if !slices.Equal(kinds, want) {
			t.Errorf("%s: timeline %v, want %v", req.path, kinds, want)
		}
		tr := v.Timeline[6]
		if tr.Department != "市城市管理局" || tr.To != "花山区城市管理局" {
			t.Errorf("transfer step = %+v", tr)
		}
		if v.CaseNo != f.caseNo || v.Status != public.StatusClosed || v.Lead != "花山区城市管理局" || v.Reports != 2 ||
			!slices.Equal(v.Assisting, []string{"花山区人民政府"}) || v.Category != "楼道与门窗" || v.ClosedAt == nil ||
			v.ReplyBy != nil || v.CloseBy != nil || !strings.Contains(v.Summary, "138****5678") {
			t.Errorf("%s: view = %+v", req.path, v)
		}
		if _, off := v.ReceivedAt.Zone(); off != 8*3600 {
			t.Errorf("times are not in Beijing time: %v", v.ReceivedAt)
		}
	}
	// A browser's Accept header gets the page.
	rec := f.get(t, "/c/"+f.caseNo, "Accept", "text/html,application/xhtml+xml,application/json;q=0.9")
	if !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") || rec.Header().Get("Vary") != "Accept" {
		t.Errorf("browser got %v", rec.Header())
	}
}

func TestCasePageErrors(t *testing.T) {
	t.Parallel()
	st := storetest.OpenSQLite(t)
	f := newFixture(t, st)
	for _, tc := range []struct {
		path string
		code int
		want string
	}{
		{"/c/MSB-20991231-0001", 404, "未找到办件"},
		{"/c/MSB-20991231-0001.json", 404, `"error":"未找到办件"`},
		{"/c/not-a-number", 400, "办件编号格式不正确"},
		{"/c/%3Cscript%3Ealert(1)%3C%2Fscript%3E", 400, "&lt;script&gt;"},
		{"/c/13812345678", 400, "138****5678"},
		{"/c/T-20261126-0001", 404, "正在分派办理部门"},
		{"/c/", 404, "请输入办件编号"},
	} {
		rec := f.get(t, tc.path)
		body := rec.Body.String()
		if rec.Code != tc.code || !strings.Contains(body, tc.want) {
			t.Errorf("GET %s: %d, want %d with %q: %s", tc.path, rec.Code, tc.code, tc.want, body)
		}
		if strings.Contains(body, "<script>") || strings.Contains(body, "13812345678") {
			t.Errorf("GET %s echoes its input unescaped or unmasked", tc.path)
		}
		if rec.Header().Get("Cache-Control") != "no-store" {
			t.Errorf("GET %s: Cache-Control %q, want no-store", tc.path, rec.Header().Get("Cache-Control"))
		}
		if !strings.HasSuffix(tc.path, ".json") {
			checkPageHeaders(t, tc.path, rec)
		}
	}
}

func TestCasePageReopenSplitAndUnnamed(t *testing.T) {
	t.Parallel()
	st := storetest.OpenSQLite(t)
	f := newFixture(t, st)
	ctx := context.Background()
	d := dispatch.New(st, dispatch.Options{Now: f.clk.Now}, nil, nil)
	duty := dispatch.Actor{ID: "duty", Supervisor: true}
	as, err := st.ListAssignments(ctx, nil, store.AssignmentFilter{Department: "huashan.cgj"})
	if err != nil || len(as) != 1 {
		t.Fatalf("assignments = %v, %v", as, err)
	}
	f.clk.Add(time.Hour)
	if _, err := d.Reopen(ctx, duty, as[0].ID, "返工说明：窗框仍松动"); err != nil {
		t.Fatal(err)
	}
	f.clk.Add(time.Hour)
	split, err := d.Unmerge(ctx, duty, "wechat:abc", "内部备注：不是同一栋楼")
	if err != nil {
		t.Fatal(err)
	}
	var v public.CaseView
	rec := f.get(t, "/c/"+f.caseNo+".json")
	noSecrets(t, "reopened case", rec.Body.String())
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatal(err)
	}
	last := v.Timeline[len(v.Timeline)-2:]
	if last[0].Kind != "reopened" || last[0].Department != "花山区城市管理局" || last[1].Kind != "split" ||
		v.Status != public.StatusOpen || v.StatusText != "办理中" || v.ClosedAt != nil || v.Reports != 1 || v.CloseBy == nil {
		t.Errorf("after reopen and split: %+v", v)
	}
	page := f.get(t, "/c/"+split.No).Body.String()
	for _, want := range []string{"单独立案", "已交由花山区城市管理局办理", "待签收", "138****5678"} {
		if !strings.Contains(page, want) {
			t.Errorf("split case page lacks %q", want)
		}
	}
	noSecrets(t, "split case page", page)

	// Without a rule set, departments are 相关部门, never codes.
	mux := http.NewServeMux()
	public.New(st, public.Options{}).Register(mux)
	rec = httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "/c/"+f.caseNo, nil))
	if body := rec.Body.String(); rec.Code != 200 || !strings.Contains(body, "相关部门已签收") || strings.Contains(body, "cgj") {
		t.Errorf("unnamed departments: %d %s", rec.Code, body)
	}
}

func TestCasePageCollapsesRepeats(t *testing.T) {
	t.Parallel()
	st := storetest.OpenSQLite(t)
	ctx := context.Background()
	clk := &clock{t: start}
	d := dispatch.New(st, dispatch.Options{Now: clk.Now}, nil, nil)
	for i, native := range []string{"r0", "r1", "r2", "r3"} {
		clk.Add(time.Minute)
		if i == 2 {
			c, _ := st.GetCasePost(ctx, nil, "replay:r0")
			as, _ := st.ListAssignments(ctx, nil, store.AssignmentFilter{CaseID: c.CaseID})
			if _, err := d.Claim(ctx, dispatch.Actor{ID: "cgj"}, as[0].ID); err != nil {
				t.Fatal(err)
			}
		}
		if err := d.Handle(ctx, decision(model.ChannelReplay, native, "", "阳湖花园楼道窗户脱落", "cgj")); err != nil {
			t.Fatal(err)
		}
	}
	c, err := st.GetCasePost(ctx, nil, "replay:r3")
	if err != nil {
		t.Fatal(err)
	}
	cs, _ := st.GetCase(ctx, nil, c.CaseID)
	mux := http.NewServeMux()
	public.New(st, public.Options{RuleSet: func() *rules.RuleSet { return defaultRules(t) }}).Register(mux)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "/c/"+cs.No+".json", nil))
	var v public.CaseView
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range v.Timeline {
		got = append(got, s.Kind+":"+s.Text)
	}
	want := []string{
		"received:已受理，办件编号" + cs.No + "。",
		"assigned:已交由市城市管理局办理。",
		"repeat:又有一位市民反映了同一问题，已并入本办件一并办理。",
		"claimed:市城市管理局已签收，正在办理。",
		"repeat:又有2位市民反映了同一问题，已并入本办件一并办理。",
	}
	if !slices.Equal(got, want) || v.Reports != 4 {
		t.Errorf("timeline = %q (reports %d), want %q (reports 4)", got, v.Reports, want)
	}
}
