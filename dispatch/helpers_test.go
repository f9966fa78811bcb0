package dispatch

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/mashangban/mashangban/model"
	"github.com/mashangban/mashangban/reply"
	"github.com/mashangban/mashangban/store"
)

// fakeClock is a settable clock shared by dispatchers in a test.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock(t time.Time) *fakeClock { return &fakeClock{t: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

func (c *fakeClock) Add(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

// start is a Thursday morning in Ma'anshan (01:00 UTC = 09:00 CST).
var start = time.Date(2026, 11, 26, 1, 0, 0, 0, time.UTC)

var (
	huashan = model.District{Code: "340503", Name: "花山区"}
	yushan  = model.District{Code: "340504", Name: "雨山区"}
	cgj     = model.Department{ID: "cgj", Name: "市城市管理局"}
	gas     = model.Department{ID: "gas", Name: "市燃气公司"}
	fire    = model.Department{ID: "fire", Name: "市消防救援支队"}
	ldj     = model.Department{ID: "ldj", Name: "市路灯管理所"}
)

var testDepartments = []DepartmentAuth{
	{ID: "cgj", Name: cgj.Name, Token: "tok-cgj"},
	{ID: "gas", Name: gas.Name, Token: "tok-gas"},
	{ID: "fire", Name: fire.Name, Token: "tok-fire"},
	{ID: "ldj", Name: ldj.Name, Token: "tok-ldj"},
	{ID: "duty", Name: "市马上办督办组", Token: "tok-duty", Supervisor: true},
}

func newTestDispatcher(t testing.TB, st *store.Store, clk *fakeClock) *Dispatcher {
	t.Helper()
	return New(st, Options{Now: clk.Now, Departments: testDepartments}, nil, nil)
}

// decision builds a routed decision for a post; tokens are given by hand
// (what the segmenter would produce) so the tests do not depend on gse.
func decision(ch model.Channel, native, text string, tokens []string, places []model.PlaceMatch, d model.District, lead model.Department, assist ...model.Department) model.Decision {
	return model.Decision{
		Post: model.Post{ID: model.PostID(ch, native), Source: string(ch), Channel: ch, NativeID: native,
			Author: model.Author{ID: "u-" + native}, Text: text, CreatedAt: start, FetchedAt: start},
		Districts: []model.District{d}, Lead: &lead, Assist: assist, Category: "test", Priority: model.PriorityNormal,
		Confidence: 0.9, Tokens: tokens, Explanation: model.Explanation{Places: places}, RuleSetVersion: "r1", DecidedAt: start,
	}
}

func mustHandle(t testing.TB, d *Dispatcher, dec model.Decision) {
	t.Helper()
	if err := d.Handle(context.Background(), dec); err != nil {
		t.Fatalf("Handle(%s): %v", dec.Post.ID, err)
	}
}

func caseOf(t testing.TB, st *store.Store, postID string) model.Case {
	t.Helper()
	cp, err := st.GetCasePost(context.Background(), nil, postID)
	if err != nil {
		t.Fatalf("case of %s: %v", postID, err)
	}
	c, err := st.GetCase(context.Background(), nil, cp.CaseID)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func count(t testing.TB, st *store.Store, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := st.DB.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

var (
	lightPlace = []model.PlaceMatch{{Text: "翠湖小区", Kind: "compound", District: "340503"}}
	lightA     = []string{"翠湖小区", "门口", "路灯", "坏", "了", "，", "晚上", "很", "黑"}
	lightB     = []string{"翠湖小区", "门口", "的", "路灯", "不亮", "好几天", "了", "，", "晚上", "很", "黑"}
	garbage    = []string{"翠湖小区", "门口", "垃圾", "堆积", "很多", "天", "了", "，", "很", "臭"}
)

// checkWeibo checks a queued Weibo comment against the platform's rules.
func checkWeibo(t *testing.T, s, caseNo string) {
	t.Helper()
	if n := reply.WeiboLength(s); n > reply.WeiboMaxUnits {
		t.Errorf("%d units > %d: %q", n, reply.WeiboMaxUnits, s)
	}
	if strings.Contains(s, "#") {
		t.Errorf("hashtag left: %q", s)
	}
	if !strings.Contains(s, caseNo) {
		t.Errorf("case number %q missing: %q", caseNo, s)
	}
	if !utf8.ValidString(s) {
		t.Errorf("invalid UTF-8: %q", s)
	}
}
