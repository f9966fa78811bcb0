package web

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/mashangban/mashangban/model"
	"github.com/mashangban/mashangban/public"
	"github.com/mashangban/mashangban/rules"
	"github.com/mashangban/mashangban/store"
	"github.com/mashangban/mashangban/store/storetest"
)

// EnvRequireBrowser, set to 1, turns a missing Chromium from a skip into a
// failure (for the test script and CI).
const EnvRequireBrowser = "MSB_REQUIRE_BROWSER"

var screenshots = flag.String("screenshots", "", "directory to save the browser tests' screenshots in (docs/screenshots is ../docs/screenshots)")

func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv(EnvRequireBrowser) == "1" {
		t.Fatalf("no chromium on PATH and %s=1", EnvRequireBrowser)
	}
	t.Skip("no chromium on PATH (apt-get install chromium); set " + EnvRequireBrowser + "=1 to fail instead")
	return ""
}

// TestBrowser drives the console in headless Chromium at phone width: one
// browser, a fresh browser context (its own cookies) per person.
func TestBrowser(t *testing.T) {
	exe := chromium(t)
	st := storetest.OpenSQLite(t)
	f := newFixture(t, st)
	f.seed(t)
	f.repeatIn(t, "w2b", "w2", "翠湖小区北门也闻到燃气味", huashan)
	if f.cases["w2b"] != f.cases["w2"] {
		t.Fatalf("w2b was not merged into w2's case")
	}
	// The citizen's case page is served beside the console, as in the daemon.
	mux := http.NewServeMux()
	mux.Handle(Prefix, f.h)
	public.New(st, public.Options{Now: f.clk.Now, RuleSet: func() *rules.RuleSet {
		return &rules.RuleSet{Departments: []rules.Department{{ID: cgj.ID, Name: cgj.Name}, {ID: gas.ID, Name: gas.Name}, {ID: ldj.ID, Name: ldj.Name}}}
	}}).Register(mux)
	f.srv.Config.Handler = mux
	dir := *screenshots
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("headless", true), chromedp.WindowSize(412, 900), chromedp.Flag("lang", "zh-CN"))
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	browser, cancelBrowser := chromedp.NewContext(alloc)
	defer cancelBrowser()
	if err := chromedp.Do(browser); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	person := func(t *testing.T) context.Context {
		c, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
		t.Cleanup(cancel)
		// The first run opens the tab and ties it to its context: not one
		// with a step's timeout.
		if err := chromedp.Do(c); err != nil {
			t.Fatalf("open a tab: %v", err)
		}
		return c
	}
	run := func(t *testing.T, c context.Context, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		tc, cancel := context.WithTimeout(c, 30*time.Second)
		defer cancel()
		if err := chromedp.Do(tc, steps...); err != nil {
			url, _ := chromedp.Run(c, chromedp.Location())
			body, _ := chromedp.Run(c, chromedp.Text(chromedp.CSS("body")))
			t.Fatalf("%v\nat %s:\n%s", err, url, body)
		}
	}
	shot := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			png, err := chromedp.FullScreenshot(100)(ctx, tg)
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644)
		})
	}
	signIn := func(token string) chromedp.Action[chromedp.Void] {
		return chromedp.Steps(
			chromedp.Navigate(f.srv.URL+"/ui/"),
			chromedp.WaitVisible(chromedp.CSS("#token")),
			chromedp.SendKeys(chromedp.CSS("#token"), token),
			chromedp.Submit(chromedp.CSS("#token")),
			chromedp.WaitVisible(chromedp.CSS("form.signout")),
		)
	}
	// flashSays waits for the page's flash to say want: the page before a
	// form's answer may have had a flash of its own.
	flashSays := func(want string) chromedp.Action[chromedp.Void] {
		expr := `((document.querySelector(".flash") || {}).textContent || "").includes(` + strconv.Quote(want) + `)`
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			for {
				// While the form's answer loads, the page being evaluated
				// may go away under the call: that is an error to retry.
				ok, err := chromedp.Evaluate[bool](expr)(ctx, tg)
				if err == nil && ok {
					return nil
				}
				select {
				case <-ctx.Done():
					return fmt.Errorf("flash never said %q (last error %v): %w", want, err, ctx.Err())
				case <-time.After(50 * time.Millisecond):
				}
			}
		})
	}
	textOf := func(c context.Context, t *testing.T, sel string) string {
		t.Helper()
		tc, cancel := context.WithTimeout(c, 30*time.Second)
		defer cancel()
		s, err := chromedp.Run(tc, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}
	w1, w2 := f.cases["w1"], f.cases["w2"]
	a1 := f.assignment(t, w1, "cgj")

	t.Run("department claims replies and closes", func(t *testing.T) {
		c := person(t)
		run(t, c, chromedp.Navigate(f.srv.URL+"/ui/inbox"), chromedp.WaitVisible(chromedp.CSS("#token")), shot("signin"))
		run(t, c, signIn("tok-cgj"), shot("inbox"))
		if inbox := textOf(c, t, "main"); !strings.Contains(inbox, w1) || !strings.Contains(inbox, "签收剩余") || strings.Contains(inbox, f.cases["w3"]) {
			t.Fatalf("inbox:\n%s", inbox)
		}
		claim := fmt.Sprintf(`form[action="/ui/assignments/%d/claim"] button`, a1.ID)
		run(t, c, chromedp.Click(chromedp.CSS(claim)), flashSays("已签收"))
		if got := f.assignment(t, w1, "cgj"); got.State != model.AssignmentClaimed {
			t.Fatalf("after clicking 签收 the assignment is %s", got.State)
		}
		reply := fmt.Sprintf("#reply-%d", a1.ID)
		run(t, c,
			chromedp.SendKeys(chromedp.CSS(reply), "已安排人员今天下午补装井盖。"),
			chromedp.Submit(chromedp.CSS(reply)),
			flashSays("答复已发送"), shot("case"))
		if flash := textOf(c, t, ".flash"); !strings.Contains(flash, "答复已发送") {
			t.Errorf("after replying: %q", flash)
		}
		resolve := fmt.Sprintf("#resolve-%d", a1.ID)
		run(t, c,
			chromedp.SendKeys(chromedp.CSS(resolve), "井盖已补装，感谢监督。"),
			chromedp.Submit(chromedp.CSS(resolve)),
			flashSays("已办结"))
		if got := f.assignment(t, w1, "cgj"); got.State != model.AssignmentResolved {
			t.Fatalf("after 办结 the assignment is %s", got.State)
		}
		if tl := textOf(c, t, ".timeline"); !strings.Contains(tl, "市城市管理局答复") || !strings.Contains(tl, "井盖已补装，感谢监督。") {
			t.Errorf("timeline:\n%s", tl)
		}
	})

	t.Run("another department cannot open the case", func(t *testing.T) {
		c := person(t)
		run(t, c, signIn("tok-ldj"), chromedp.Navigate(f.srv.URL+"/ui/cases/"+w1), chromedp.WaitVisible(chromedp.CSS(".error")), shot("not-found"))
		if body := textOf(c, t, "main"); !strings.Contains(body, "没有找到这个办件") || strings.Contains(body, "井盖") {
			t.Errorf("ldj opening cgj's case:\n%s", body)
		}
	})

	t.Run("forged cross-site form post fails", func(t *testing.T) {
		c := person(t)
		run(t, c, signIn("tok-cgj"))
		a2 := f.assignment(t, w2, "cgj")
		// Another site (localhost is not the console's 127.0.0.1) whose
		// page posts to the console, as a forged link would.
		evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, `<!doctype html><form method="post" action="%s/ui/assignments/%d/claim"><input name="csrf" value="guess"><button id="go">抽奖</button></form>`, f.srv.URL, a2.ID)
		}))
		defer evil.Close()
		evilURL := strings.Replace(evil.URL, "127.0.0.1", "localhost", 1)
		run(t, c, chromedp.Navigate(evilURL), chromedp.Click(chromedp.CSS("#go")), chromedp.WaitVisible(chromedp.CSS(".error")))
		if body := textOf(c, t, "main"); !strings.Contains(body, "拒绝来自其他网站的提交") {
			t.Errorf("forged post answered:\n%s", body)
		}
		if got := f.assignment(t, w2, "cgj"); got.State != model.AssignmentPending {
			t.Fatalf("the forged post moved the assignment to %s", got.State)
		}
	})

	t.Run("office routes triage and the dashboard moves", func(t *testing.T) {
		c := person(t)
		run(t, c, signIn("tok-duty"), shot("dashboard"))
		open := textOf(c, t, ".tiles li:first-child .n")
		if n := textOf(c, t, "#triage-count"); n != "1" {
			t.Fatalf("triage count on the dashboard: %q, want 1", n)
		}
		run(t, c, chromedp.Navigate(f.srv.URL+"/ui/triage"), chromedp.WaitVisible(chromedp.CSS("#l0")), shot("triage"))
		run(t, c,
			chromedp.SetValue(chromedp.CSS("#d0"), "340503"),
			chromedp.SetValue(chromedp.CSS("#l0"), "cgj"),
			chromedp.SendKeys(chromedp.CSS("#r0"), "占道经营归城管"),
			chromedp.Submit(chromedp.CSS("#r0")),
			chromedp.WaitVisible(chromedp.CSS(".flash")))
		it, err := st.GetTriage(context.Background(), nil, model.PostID(model.ChannelWeibo, "w4"))
		if err != nil || it.State != store.TriageRouted || it.RoutedBy != "duty" {
			t.Fatalf("triage entry: %+v %v", it, err)
		}
		run(t, c, chromedp.Navigate(f.srv.URL+"/ui/dashboard"), chromedp.WaitVisible(chromedp.CSS("#triage-count")))
		if n := textOf(c, t, "#triage-count"); n != "0" {
			t.Errorf("triage count after routing: %q, want 0", n)
		}
		if now := textOf(c, t, ".tiles li:first-child .n"); now == open {
			t.Errorf("open assignments still %s after routing a post to a department", now)
		}
	})

	t.Run("citizen sees the progress on the public case page", func(t *testing.T) {
		c := person(t)
		run(t, c, chromedp.Navigate(f.srv.URL+"/c/"+w1), chromedp.WaitVisible(chromedp.CSS("body")), shot("public-case"))
		body := textOf(c, t, "body")
		for _, want := range []string{w1, "市城市管理局", "已安排人员今天下午补装井盖。"} {
			if !strings.Contains(body, want) {
				t.Errorf("public case page lacks %q:\n%s", want, body)
			}
		}
		if strings.Contains(body, "cgj") {
			t.Errorf("public case page shows a department code:\n%s", body)
		}
	})

	t.Run("department searches its inbox", func(t *testing.T) {
		c := person(t)
		run(t, c, signIn("tok-cgj"),
			chromedp.SendKeys(chromedp.CSS("#q"), "燃气"),
			chromedp.Submit(chromedp.CSS("#q")),
			// Only a filtered inbox offers to clear the filters.
			chromedp.WaitVisible(chromedp.CSS(`main > p > a[href="/ui/inbox"]`)), shot("inbox-search"))
		main := textOf(c, t, "main")
		if !strings.Contains(main, w2) || strings.Contains(main, f.cases["w3"]) || !strings.Contains(main, "含“燃气”") {
			t.Errorf("inbox searched for 燃气:\n%s", main)
		}
	})

	t.Run("department asks for help and undoes a merge", func(t *testing.T) {
		c := person(t)
		a2 := f.assignment(t, w2, "cgj")
		id := fmt.Sprint(a2.ID)
		run(t, c, signIn("tok-cgj"), chromedp.Navigate(f.srv.URL+"/ui/cases/"+w2), chromedp.WaitVisible(chromedp.CSS("#a"+id)),
			chromedp.Click(chromedp.CSS(`#a`+id+` details:last-of-type summary`)),
			chromedp.SetValue(chromedp.CSS("#assist-"+id), "ldj"),
			chromedp.SendKeys(chromedp.CSS("#assist-why-"+id), "北门路灯也不亮，请路灯所一并处理"),
			shot("case-assist"),
			chromedp.Submit(chromedp.CSS("#assist-why-"+id)),
			flashSays("已请求协办"))
		if got := f.assignment(t, w2, "ldj"); got.Role != model.RoleAssist {
			t.Fatalf("ldj's assignment after the request: %+v", got)
		}
		if tl := textOf(c, t, ".timeline"); !strings.Contains(tl, "市城市管理局请市路灯管理所协办") {
			t.Errorf("timeline:\n%s", tl)
		}
		run(t, c,
			chromedp.Click(chromedp.CSS(`article.post details summary`)),
			chromedp.SendKeys(chromedp.CSS("#unmerge-w2b"), "北门是另一处管道"),
			chromedp.Submit(chromedp.CSS("#unmerge-w2b")),
			flashSays("已撤销合并"), shot("unmerged"))
		h1 := textOf(c, t, "h1")
		if strings.Contains(h1, w2) || !strings.Contains(textOf(c, t, ".flash"), "已撤销合并") {
			t.Errorf("after undoing the merge the page is %q", h1)
		}
	})

	t.Run("office reads the rules, tries a text and reloads", func(t *testing.T) {
		c := person(t)
		run(t, c, signIn("tok-duty"), chromedp.Navigate(f.srv.URL+"/ui/rules"), chromedp.WaitVisible(chromedp.CSS("#trial")),
			chromedp.SendKeys(chromedp.CSS("#trial"), "湖东路井盖丢失"),
			chromedp.Submit(chromedp.CSS("#trial")),
			chromedp.WaitVisible(chromedp.CSS("#trace")), shot("rules"))
		if res := textOf(c, t, "#trial-result"); !strings.Contains(res, "主办：市城市管理局") || !strings.Contains(res, "市燃气公司") {
			t.Errorf("trial result:\n%s", res)
		}
		before := textOf(c, t, "#rule-version")
		run(t, c, chromedp.Click(chromedp.CSS("#reload")), flashSays("规则已重新加载"))
		if after := textOf(c, t, "#rule-version"); after == before {
			t.Errorf("rule-set version still %s after reloading", after)
		}
	})

	t.Run("office reads the weekly report", func(t *testing.T) {
		c := person(t)
		run(t, c, signIn("tok-duty"), chromedp.Navigate(f.srv.URL+"/ui/report?week=2026-11-26"), chromedp.WaitVisible(chromedp.CSS("#feedback")), shot("report"))
		if fb := textOf(c, t, "#feedback"); !strings.Contains(fb, "市城市管理局") || !strings.Contains(fb, "全市合计") {
			t.Errorf("feedback table:\n%s", fb)
		}
		// The report's own page keeps its style under its own policy.
		run(t, c, chromedp.Navigate(f.srv.URL+"/ui/report/html?week=2026-11-26"), chromedp.WaitVisible(chromedp.CSS("h1")), shot("report-html"))
		var colour string
		tc, cancel := context.WithTimeout(c, 30*time.Second)
		defer cancel()
		colour, err := chromedp.Run(tc, chromedp.Evaluate[string](`getComputedStyle(document.querySelector("h2")).borderBottomColor`))
		if err != nil || colour != "rgb(183, 28, 28)" {
			t.Errorf("the report page's style sheet was not applied (h2 border %q, %v)", colour, err)
		}
	})

	t.Run("a department removed from the configuration loses its session", func(t *testing.T) {
		c := person(t)
		run(t, c, signIn("tok-gas"))
		f.rules.remove("gas")
		run(t, c, chromedp.Navigate(f.srv.URL+"/ui/inbox"), chromedp.WaitVisible(chromedp.CSS("#token")))
		if body := textOf(c, t, "main"); strings.Contains(body, w2) {
			t.Errorf("the removed department still sees its inbox:\n%s", body)
		}
	})
}
