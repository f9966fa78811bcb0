package weibo

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mashangban/mashangban/ingest"
	"github.com/mashangban/mashangban/ingest/weibo/weibofake"
)

const testCookie = "SUB=_2A25test; XSRF-TOKEN=abc123"

func newMobilePair(t *testing.T, clk *clock, fo weibofake.MobileOptions, so MobileOptions) (*weibofake.Mobile, *Mobile) {
	t.Helper()
	fo.Now = clk.Now
	if fo.Cookie == "" {
		fo.Cookie = testCookie
	}
	fake := weibofake.NewMobile(fo)
	t.Cleanup(fake.Close)
	so.BaseURL = fake.URL
	so.Topic = "马上办"
	if so.Cookie == "" {
		so.Cookie = testCookie
	}
	so.Now = clk.Now
	so.ExtendEvery = -1
	src, err := NewMobile(so)
	if err != nil {
		t.Fatal(err)
	}
	return fake, src
}

func TestMobilePollsTopic(t *testing.T) {
	clk := newClock()
	fake, src := newMobilePair(t, clk, weibofake.MobileOptions{GroupEvery: 3}, MobileOptions{})
	gen := weibofake.NewGenerator(1, "马上办")
	posts, want := makePosts(gen, clk.Now(), 25)
	long := posts[24]
	long.Text = "#马上办# 湖东路路灯不亮[怒]\n" + strings.Repeat("晚上出门很不方便，", 20) + "请@马鞍山发布 关注"
	long.Pics = []string{"006iQiKJgy1h7aeo3dmbnj30sg0zktk3"}
	long.Region = "安徽"
	posts[24] = long
	fake.Add(posts...)
	// A post under another topic is not part of the search.
	fake.Add(weibofake.Post{ID: want[24] + 1, Text: "#别的话题# 不相关", CreatedAt: clk.Now()})

	r := drain(t, src, "", 20, clk)
	if len(r.errs) != 0 {
		t.Fatalf("errors: %v", r.errs)
	}
	assertExactlyOnce(t, r.posts, want)
	for _, p := range r.posts {
		if p.Source != "weibo-mobile" || p.Channel != "weibo" || p.ID != "weibo:"+p.NativeID || !p.FetchedAt.Equal(clk.Now()) {
			t.Errorf("post fields: %+v", p)
		}
		if strings.ContainsAny(p.Text, "<>") || !strings.Contains(p.Text, "#马上办#") {
			t.Errorf("text %q", p.Text)
		}
		if p.NativeID == long.IDString() {
			if !strings.HasSuffix(p.Text, "请@马鞍山发布 关注") || !strings.Contains(p.Text, "[怒]\n晚上") || strings.Contains(p.Text, "全文") {
				t.Errorf("long text not completed: %q", p.Text)
			}
			if len(p.Images) != 1 || p.Images[0] != "https://wx3.sinaimg.cn/large/006iQiKJgy1h7aeo3dmbnj30sg0zktk3.jpg" {
				t.Errorf("images %v", p.Images)
			}
			if p.Region != "安徽" || p.Author.Name == "" || p.Author.ID == "" {
				t.Errorf("region %q author %+v", p.Region, p.Author)
			}
			if !p.CreatedAt.Equal(long.CreatedAt.Truncate(time.Second)) {
				t.Errorf("created %v want %v", p.CreatedAt, long.CreatedAt)
			}
		}
	}
	// The request carried the search container, the cookie-derived header
	// checks passed (no login wall), and pages were walked in order.
	reqs := fake.Requests()
	q, _ := url.ParseQuery(strings.SplitN(reqs[0], "?", 2)[1])
	if q.Get("containerid") != "100103type=61&q=#马上办#" || q.Get("page_type") != "searchall" || q.Get("page") != "1" {
		t.Errorf("first request %s", reqs[0])
	}

	// Nothing new: one request, no posts.
	before := len(fake.Requests())
	r2 := drain(t, src, r.cursor, 5, clk)
	if len(r2.posts) != 0 || len(r2.errs) != 0 || len(fake.Requests())-before != 1 {
		t.Errorf("idle poll: %d posts, %v, %d requests", len(r2.posts), r2.errs, len(fake.Requests())-before)
	}
	// Three new posts: exactly those.
	newPosts, newWant := makePosts(gen, clk.Now().Add(5*time.Minute), 3)
	fake.Add(newPosts...)
	r3 := drain(t, src, r2.cursor, 5, clk)
	assertExactlyOnce(t, r3.posts, newWant)
}

func TestMobileMisbehaviour(t *testing.T) {
	const n = 34 // four pages of 10
	tests := []struct {
		name string
		fake weibofake.MobileOptions
		src  MobileOptions
		// setup runs after the posts are added; between runs after the
		// first poll (mid-walk).
		setup   func(f *weibofake.Mobile)
		between func(f *weibofake.Mobile, want []int64) []int64
		classes []string
		waits   []time.Duration
		// rounds is the number of walks needed to see everything.
		rounds int
		// errText is a text one of the errors must contain.
		errText string
	}{
		{name: "418 burst", setup: func(f *weibofake.Mobile) {
			f.Inject(weibofake.FaultTeapot, weibofake.FaultTeapot, weibofake.FaultTeapot)
		},
			classes: []string{"rate_limited", "rate_limited", "rate_limited"}, waits: []time.Duration{10 * time.Minute, 10 * time.Minute, 10 * time.Minute}},
		{name: "418 with Retry-After", fake: weibofake.MobileOptions{RetryAfter: 90 * time.Second}, src: MobileOptions{RateLimitWait: time.Hour},
			between: func(f *weibofake.Mobile, w []int64) []int64 { f.Inject(weibofake.FaultTeapot); return w },
			classes: []string{"rate_limited"}, waits: []time.Duration{90 * time.Second}},
		{name: "432", src: MobileOptions{RateLimitWait: 3 * time.Minute}, setup: func(f *weibofake.Mobile) { f.Inject(weibofake.Fault432) },
			classes: []string{"rate_limited"}, waits: []time.Duration{3 * time.Minute}},
		{name: "ok 0 too frequent", between: func(f *weibofake.Mobile, w []int64) []int64 { f.Inject(weibofake.FaultTooFrequent); return w },
			classes: []string{"rate_limited"}, waits: []time.Duration{10 * time.Minute}},
		{name: "5xx", between: func(f *weibofake.Mobile, w []int64) []int64 {
			f.Inject(weibofake.Fault500, weibofake.Fault502)
			return w
		},
			classes: []string{"transient", "transient"}},
		{name: "truncated body", between: func(f *weibofake.Mobile, w []int64) []int64 { f.Inject(weibofake.FaultTruncated); return w },
			classes: []string{"malformed"}},
		{name: "huge body", between: func(f *weibofake.Mobile, w []int64) []int64 { f.Inject(weibofake.FaultHuge); return w },
			classes: []string{"malformed"}, errText: "weibo-mobile getIndex: response body larger than 16777216 bytes"},
		{name: "visitor system html", setup: func(f *weibofake.Mobile) { f.Inject(weibofake.FaultVisitor) },
			classes: []string{"malformed"}},
		{name: "login wall", between: func(f *weibofake.Mobile, w []int64) []int64 { f.Inject(weibofake.FaultLoginWall); return w },
			classes: []string{"auth"}},
		{name: "redirect to passport", setup: func(f *weibofake.Mobile) { f.Inject(weibofake.FaultRedirect) },
			classes: []string{"auth"}},
		{name: "pages repeat", setup: func(f *weibofake.Mobile) { f.SetOverlap(4) }},
		{name: "pages reorder", setup: func(f *weibofake.Mobile) { f.SetShuffle(7) }},
		{name: "cards in type 11 groups", fake: weibofake.MobileOptions{GroupEvery: 2}},
		{name: "relative dates", fake: weibofake.MobileOptions{RelativeDates: true}},
		{name: "new posts push pages down mid-walk", between: func(f *weibofake.Mobile, w []int64) []int64 {
			gen := weibofake.NewGenerator(99, "马上办")
			var extra []weibofake.Post
			for range 5 {
				p := gen.Next(time.Date(2026, 11, 26, 10, 47, 0, 0, Shanghai))
				p.ID += 1 << 40 // newer than everything
				extra = append(extra, p)
				w = append(w, p.ID)
			}
			f.Add(extra...)
			return w
		}, rounds: 2},
		{name: "post deleted between pages", between: func(f *weibofake.Mobile, w []int64) []int64 {
			// The newest post was on page 1 (already read): deleting it
			// pulls the first post of page 2 onto page 1.
			f.Delete(w[len(w)-1], false)
			return w
		}, rounds: 2},
		{name: "deleted post shown as placeholder", setup: func(f *weibofake.Mobile) {}, between: func(f *weibofake.Mobile, w []int64) []int64 {
			f.Delete(w[0], true) // the oldest, on the last page: never handed out
			return w[1:]
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock()
			fake, src := newMobilePair(t, clk, tt.fake, tt.src)
			gen := weibofake.NewGenerator(3, "马上办")
			posts, want := makePosts(gen, clk.Now(), n)
			fake.Add(posts...)
			if tt.setup != nil {
				tt.setup(fake)
			}
			var all run
			cur := ingest.Cursor("")
			// First poll until one succeeds, then the misbehaviour, then the rest.
			for i := 0; i < 10; i++ {
				b, err := src.Poll(context.Background(), cur)
				if err != nil {
					all.errs = append(all.errs, err)
					continue
				}
				all.posts = append(all.posts, b.Posts...)
				cur = b.Next
				break
			}
			if tt.between != nil {
				want = tt.between(fake, want)
			}
			for range max(tt.rounds, 1) {
				r := drain(t, src, cur, 30, clk)
				all.posts = append(all.posts, r.posts...)
				all.errs = append(all.errs, r.errs...)
				cur = r.cursor
			}
			assertExactlyOnce(t, all.posts, want)
			if got := errClasses(all.errs); !slices.Equal(got, tt.classes) {
				t.Errorf("error classes %v, want %v (%v)", got, tt.classes, all.errs)
			}
			if got := waits(all.errs); !slices.Equal(got, tt.waits) {
				t.Errorf("waits %v, want %v", got, tt.waits)
			}
			if tt.errText != "" && !slices.ContainsFunc(all.errs, func(e error) bool { return strings.Contains(e.Error(), tt.errText) }) {
				t.Errorf("no error says %q: %v", tt.errText, all.errs)
			}
			for _, e := range all.errs {
				var me *ingest.MalformedError
				if errors.As(e, &me) && len(me.Raw) == 0 && !strings.Contains(me.Reason, "response body larger than") {
					t.Errorf("malformed error without raw body: %v", e)
				}
				if strings.Contains(e.Error(), "_2A25test") {
					t.Errorf("cookie leaked into error: %v", e)
				}
			}
			if tt.name == "relative dates" {
				for _, p := range all.posts {
					var orig time.Time
					for _, fp := range posts {
						if fp.IDString() == p.NativeID {
							orig = fp.CreatedAt
						}
					}
					if d := orig.Sub(p.CreatedAt); d < 0 || d >= time.Minute {
						t.Errorf("post %s: relative date parsed as %v, created %v", p.NativeID, p.CreatedAt, orig)
					}
				}
			}
		})
	}
}

func TestMobileExtendFailures(t *testing.T) {
	clk := newClock()
	fake, src := newMobilePair(t, clk, weibofake.MobileOptions{}, MobileOptions{})
	p := weibofake.Post{ID: 5030112233445566, UID: 7344888668, ScreenName: "市民甲", CreatedAt: clk.Now().Add(-time.Minute),
		Text: "#马上办# " + strings.Repeat("楼道窗户脱落，", 30) + "完"}
	fake.Add(p)

	// 418 on statuses/extend: the whole poll fails, the cursor stays.
	fake.Inject(0, weibofake.FaultTeapot)
	_, err := src.Poll(context.Background(), "")
	var be *ingest.BackoffError
	if !errors.As(err, &be) || be.Wait != 10*time.Minute {
		t.Fatalf("extend 418: %v", err)
	}
	b, err := src.Poll(context.Background(), "")
	if err != nil || len(b.Posts) != 1 || !strings.HasSuffix(b.Posts[0].Text, "完") {
		t.Fatalf("retry: %v %+v", err, b.Posts)
	}

	// The post is gone by the time statuses/extend is called: the
	// truncated text is kept rather than losing the post.
	fake2, src2 := newMobilePair(t, clk, weibofake.MobileOptions{}, MobileOptions{})
	fake2.Add(p)
	fake2.Inject(0, weibofake.FaultTruncated)
	b, err = src2.Poll(context.Background(), "")
	if err != nil || len(b.Posts) != 1 || !strings.HasSuffix(b.Posts[0].Text, "...") || strings.Contains(b.Posts[0].Text, "全文") {
		t.Fatalf("truncated extend: %v %+v", err, b.Posts)
	}
}

func TestMobileLoginWallAndCookie(t *testing.T) {
	clk := newClock()
	fake, src := newMobilePair(t, clk, weibofake.MobileOptions{}, MobileOptions{Cookie: "SUB=wrong"})
	fake.Add(weibofake.NewGenerator(1, "马上办").Next(clk.Now()))
	_, err := src.Poll(context.Background(), "")
	if !errors.Is(err, ingest.ErrAuth) || !errors.Is(err, ErrLoginWall) {
		t.Fatalf("wrong cookie: %v", err)
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Errorf("cookie in error: %v", err)
	}

	// Cookie expires mid-run: auth error, then the cursor still resumes.
	fake2, src2 := newMobilePair(t, clk, weibofake.MobileOptions{}, MobileOptions{})
	posts, _ := makePosts(weibofake.NewGenerator(2, "马上办"), clk.Now(), 15)
	fake2.Add(posts...)
	b, err := src2.Poll(context.Background(), "")
	if err != nil || !b.More {
		t.Fatalf("first page: %v more=%v", err, b.More)
	}
	fake2.ExpireCookie()
	if _, err := src2.Poll(context.Background(), b.Next); !errors.Is(err, ingest.ErrAuth) {
		t.Fatalf("expired cookie: %v", err)
	}
}

func TestMobileRestartMidWalk(t *testing.T) {
	clk := newClock()
	fake, src := newMobilePair(t, clk, weibofake.MobileOptions{}, MobileOptions{})
	gen := weibofake.NewGenerator(5, "马上办")
	posts, want := makePosts(gen, clk.Now(), 37)
	fake.Add(posts...)

	b1, err := src.Poll(context.Background(), "")
	if err != nil || !b1.More || len(b1.Posts) != 10 {
		t.Fatalf("page 1: %v more=%v posts=%d", err, b1.More, len(b1.Posts))
	}
	b2, err := src.Poll(context.Background(), b1.Next)
	if err != nil || !b2.More {
		t.Fatalf("page 2: %v", err)
	}
	// The process dies before b2 is durable: the saved cursor is b1.Next.
	// Meanwhile two posts arrive and push the pages down.
	extra, extraWant := makePosts(gen, clk.Now().Add(time.Minute), 2)
	fake.Add(extra...)
	var c struct {
		Page int `json:"p"`
	}
	if err := json.Unmarshal([]byte(b1.Next), &c); err != nil || c.Page != 2 {
		t.Fatalf("cursor %s: page %d, %v", b1.Next, c.Page, err)
	}
	restarted, err := NewMobile(src.opt)
	if err != nil {
		t.Fatal(err)
	}
	r := drain(t, restarted, b1.Next, 20, clk)
	r2 := drain(t, restarted, r.cursor, 20, clk)
	got := append(append(b1.Posts, r.posts...), r2.posts...)
	assertExactlyOnce(t, got, append(want, extraWant...))
	if len(r.errs)+len(r2.errs) != 0 {
		t.Errorf("errors %v %v", r.errs, r2.errs)
	}
}

func TestMobileBackfillAndBoundedCursor(t *testing.T) {
	clk := newClock()
	fake, src := newMobilePair(t, clk, weibofake.MobileOptions{}, MobileOptions{Backfill: 2 * time.Hour, SeenIDs: 12})
	gen := weibofake.NewGenerator(8, "马上办")
	var want []int64
	for i := range 40 {
		p := gen.Next(clk.Now().Add(-time.Duration(40-i) * 6 * time.Minute)) // 4h back to now
		fake.Add(p)
		if clk.Now().Sub(p.CreatedAt) <= 2*time.Hour {
			want = append(want, p.ID)
		}
	}
	r := drain(t, src, "", 20, clk)
	assertExactlyOnce(t, r.posts, want)
	var w window
	if err := json.Unmarshal([]byte(r.cursor), &w); err != nil || len(w.Seen) > 12 || w.Floor == 0 {
		t.Errorf("cursor not bounded: %s", r.cursor)
	}
	// The window forgot most IDs, but the floor keeps them known.
	r2 := drain(t, src, r.cursor, 20, clk)
	if len(r2.posts) != 0 {
		t.Errorf("second walk returned %v", ids(r2.posts))
	}
}

func TestMobileRejectsBadPostOnce(t *testing.T) {
	clk := newClock()
	bad := `{"ok":1,"data":{"cardlistInfo":{"page":null},"cards":[` +
		`{"card_type":9,"mblog":{"id":"5030112233445567","created_at":"sometime","text":"#马上办# 坏日期","user":{"id":1,"screen_name":"a"}}},` +
		`{"card_type":9,"mblog":{"id":"5030112233445566","created_at":"刚刚","text":"#马上办# 好的","user":{"id":1,"screen_name":"a"}}},` +
		`{"card_type":9,"mblog":{"id":"not-a-number","created_at":"刚刚","text":"x"}}]}}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(bad)) }))
	defer srv.Close()
	src, err := NewMobile(MobileOptions{BaseURL: srv.URL, Topic: "马上办", Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	b, err := src.Poll(context.Background(), "")
	if err != nil || len(b.Posts) != 1 || len(b.Rejected) != 2 {
		t.Fatalf("first poll: %v posts=%d rejected=%d", err, len(b.Posts), len(b.Rejected))
	}
	r := b.Rejected[0]
	if r.Key != "5030112233445567" || r.Source != "weibo-mobile" || !strings.Contains(string(r.Raw), "sometime") || !strings.Contains(r.Reason, "created_at") {
		t.Errorf("rejected %+v", r)
	}
	// The next poll does not dead-letter the same post again; the one
	// without a readable ID cannot be remembered and comes back.
	b2, err := src.Poll(context.Background(), b.Next)
	if err != nil || len(b2.Posts) != 0 || len(b2.Rejected) != 1 || b2.Rejected[0].Key != "not-a-number" {
		t.Fatalf("second poll: %v %+v", err, b2)
	}
}
