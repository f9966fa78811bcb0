package web

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/mashangban/mashangban/dispatch"
	"github.com/mashangban/mashangban/model"
	"github.com/mashangban/mashangban/store"
)

// start is a Thursday morning in Ma'anshan (01:00 UTC = 09:00 CST).
var start = time.Date(2026, 11, 26, 1, 0, 0, 0, time.UTC)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var (
	huashan = model.District{Code: "340503", Name: "花山区"}
	yushan  = model.District{Code: "340504", Name: "雨山区"}
	cgj     = model.Department{ID: "cgj", Name: "市城市管理局"}
	gas     = model.Department{ID: "gas", Name: "市燃气公司"}
	ldj     = model.Department{ID: "ldj", Name: "市路灯管理所"}
)

var testDepartments = []dispatch.DepartmentAuth{
	{ID: "cgj", Name: cgj.Name, Token: "tok-cgj"},
	{ID: "gas", Name: gas.Name, Token: "tok-gas"},
	{ID: "ldj", Name: ldj.Name, Token: "tok-ldj"},
	{ID: "duty", Name: "市马上办", Token: "tok-duty", Supervisor: true},
}

// fixture is a console on a test store with a few cases and a triage item.
type fixture struct {
	st    *store.Store
	disp  *dispatch.Dispatcher
	clk   *clock
	h     http.Handler
	srv   *httptest.Server
	cases map[string]string // post ID → case number
	rules *fakeRules
}

// fakeRules stands for the daemon's rule manager: a version, a reload that
// fails while broken is set, and a classifier that sends texts about 井盖 to
// cgj and everything else to triage.
type fakeRules struct {
	mu      sync.Mutex
	version int
	broken  bool
	lastErr string
	removed map[string]bool // actors no longer configured
	admins  map[string]bool // office actors who may reload
}

func (r *fakeRules) mayReload(actor string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.admins[actor]
}

func (r *fakeRules) status() RuleStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	return RuleStatus{Version: "r" + strconv.Itoa(r.version), LastReloadError: r.lastErr,
		Model: &ModelStatus{Version: "linear:7", TrainedAt: start.Add(-48 * time.Hour), Examples: 412}}
}

func (r *fakeRules) reload(context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.broken {
		r.lastErr = `rules/maanshan.yaml:12:5: route "井盖": unknown department "nowhere"`
		return errors.New(r.lastErr + "; previous rule set kept")
	}
	r.version, r.lastErr = r.version+1, ""
	return nil
}

func (r *fakeRules) explain(text string) (Explanation, error) {
	d := model.Decision{Post: model.Post{Text: text}, RuleSetVersion: "r1", Confidence: 0.92}
	if strings.Contains(text, "井盖") {
		d.Lead, d.Assist, d.Districts = &cgj, []model.Department{gas}, []model.District{yushan}
		d.Explanation.Routes = []model.RouteMatch{{Name: "井盖缺失", Words: []string{"井盖"}}}
	} else {
		d.Triage, d.TriageReason, d.Confidence = true, "no route matched", 0
	}
	return Explanation{Decision: d, Trace: "rule set:  r1\ntext:      " + text + "\n"}, nil
}

func (r *fakeRules) stillValid(actor string, _ bool) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return !r.removed[actor]
}

func (r *fakeRules) remove(actor string) {
	r.mu.Lock()
	r.removed[actor] = true
	r.mu.Unlock()
}

func newFixture(t testing.TB, st *store.Store) *fixture {
	t.Helper()
	ctx := context.Background()
	clk := &clock{t: start}
	d := dispatch.New(st, dispatch.Options{Now: clk.Now, Departments: testDepartments}, nil, nil)
	if err := d.SaveTokens(ctx); err != nil {
		t.Fatal(err)
	}
	f := &fixture{st: st, disp: d, clk: clk, cases: map[string]string{}, rules: &fakeRules{version: 1, removed: map[string]bool{}, admins: map[string]bool{"duty": true}}}
	f.h = New(Deps{Store: st, Dispatcher: d, Authenticate: d.Authenticate,
		Districts:  func() []model.District { return []model.District{huashan, yushan} },
		SignInRate: rate.Every(time.Minute), SignInBurst: 20,
		RuleStatus: f.rules.status, Explain: f.rules.explain, Reload: f.rules.reload, MayReload: f.rules.mayReload, StillValid: f.rules.stillValid})
	f.srv = httptest.NewServer(f.h)
	t.Cleanup(f.srv.Close)
	return f
}

// seed makes two cases for cgj (the second with gas assisting), one for
// ldj, and one post waiting for triage.
func (f *fixture) seed(t testing.TB) {
	t.Helper()
	f.handle(t, "w1", "雨山区湖东路井盖丢失，晚上很危险", yushan, &cgj, nil, nil, "")
	f.clk.Add(time.Hour)
	f.handle(t, "w2", "花山区翠湖小区门口燃气管道有异味", huashan, &cgj, []model.Department{gas}, nil, "")
	f.clk.Add(time.Hour)
	f.handle(t, "w3", "花山区佳山路路灯不亮", huashan, &ldj, nil, nil, "")
	f.clk.Add(time.Hour)
	f.handle(t, "w4", "我家楼下有人长期占道经营，还放音乐", model.District{}, &cgj, nil,
		&model.ModelScore{Label: "cgj", Score: 0.41, Top: map[string]float64{"cgj": 0.41, "gas": 0.2}}, "model confidence below threshold")
	f.clk.Add(time.Hour)
}

func (f *fixture) handle(t testing.TB, native, text string, district model.District, lead *model.Department, assist []model.Department, m *model.ModelScore, triage string) {
	t.Helper()
	f.handleTokens(t, native, []string{native}, text, district, lead, assist, m, triage)
}

// repeat handles a post about the same problem as the post of, which the
// dispatcher merges into of's case.
func (f *fixture) repeat(t testing.TB, native, of, text string) {
	t.Helper()
	f.repeatIn(t, native, of, text, yushan)
}

func (f *fixture) repeatIn(t testing.TB, native, of, text string, district model.District) {
	t.Helper()
	f.handleTokens(t, native, []string{of}, text, district, &cgj, nil, nil, "")
}

func (f *fixture) handleTokens(t testing.TB, native string, tokens []string, text string, district model.District, lead *model.Department, assist []model.Department, m *model.ModelScore, triage string) {
	t.Helper()
	ctx := context.Background()
	p := model.Post{ID: model.PostID(model.ChannelWeibo, native), Source: "weibo", Channel: model.ChannelWeibo, NativeID: native,
		Author: model.Author{ID: "u-" + native}, Text: text, URL: "https://weibo.example/" + native, CreatedAt: f.clk.Now(), FetchedAt: f.clk.Now()}
	if _, err := f.st.InsertPost(ctx, nil, p); err != nil {
		t.Fatal(err)
	}
	dec := model.Decision{Post: p, Lead: lead, Assist: assist, Category: "城市管理", Priority: model.PriorityNormal, Confidence: 0.9,
		Tokens: tokens, RuleSetVersion: "r1", DecidedAt: f.clk.Now(),
		Explanation: model.Explanation{Routes: []model.RouteMatch{{Name: "井盖", Words: []string{"井盖"}}}, DistrictBy: "place", Model: m}}
	if district.Code != "" {
		dec.Districts = []model.District{district}
	}
	if triage != "" {
		dec.Triage, dec.TriageReason, dec.Confidence = true, triage, 0.41
		dec.Explanation.Routes = nil
	}
	if err := f.disp.Handle(ctx, dec); err != nil {
		t.Fatal(err)
	}
	if triage == "" {
		cp, err := f.st.GetCasePost(ctx, nil, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		c, err := f.st.GetCase(ctx, nil, cp.CaseID)
		if err != nil {
			t.Fatal(err)
		}
		f.cases[native] = c.No
	}
}

// client is a browser without script: a cookie jar, redirects not followed.
type client struct {
	t   testing.TB
	f   *fixture
	c   *http.Client
	url string
}

func (f *fixture) client(t testing.TB) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, f: f, url: f.srv.URL, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

type page struct {
	code     int
	body     string
	location string
	header   http.Header
}

func (c *client) do(req *http.Request) page {
	c.t.Helper()
	resp, err := c.c.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return page{code: resp.StatusCode, body: string(b), location: resp.Header.Get("Location"), header: resp.Header}
}

func (c *client) get(path string) page {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, c.url+path, nil)
	return c.do(req)
}

// post sends a form as a same-origin browser would.
func (c *client) post(path string, form url.Values) page {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, c.url+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return c.do(req)
}

func (c *client) signIn(token string) page {
	c.t.Helper()
	return c.post("/ui/signin", url.Values{"token": {token}})
}

// csrf is the hidden CSRF field of a page's forms.
func csrfOf(t testing.TB, body string) string {
	t.Helper()
	_, rest, ok := strings.Cut(body, `name="csrf" value="`)
	if !ok {
		t.Fatalf("no csrf field in page:\n%s", body)
	}
	v, _, _ := strings.Cut(rest, `"`)
	return v
}

func (f *fixture) assignment(t testing.TB, caseNo, dept string) store.Assignment {
	t.Helper()
	c, err := f.st.GetCaseByNo(context.Background(), nil, caseNo)
	if err != nil {
		t.Fatal(err)
	}
	as, err := f.st.ListAssignments(context.Background(), nil, store.AssignmentFilter{CaseID: c.ID, Department: dept})
	if err != nil || len(as) == 0 {
		t.Fatalf("assignment of %s on %s: %v %v", dept, caseNo, as, err)
	}
	return as[len(as)-1]
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func bodyOf(s string) io.ReadCloser { return io.NopCloser(strings.NewReader(s)) }
