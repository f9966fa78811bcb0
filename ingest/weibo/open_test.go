package weibo

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/mashangban/mashangban/ingest"
	"github.com/mashangban/mashangban/ingest/weibo/weibofake"
)

const testToken = "2.00SECRETtoken"

func newOpenPair(t *testing.T, clk *clock, fo weibofake.OpenOptions, so OpenOptions) (*weibofake.Open, *Open) {
	t.Helper()
	fo.Now = clk.Now
	fo.Token = testToken
	fake := weibofake.NewOpen(fo)
	t.Cleanup(fake.Close)
	so.BaseURL = fake.URL
	so.AccessToken = testToken
	so.Now = clk.Now
	if !so.Mentions && so.Topic == "" {
		so.Mentions = true
	}
	src, err := NewOpen(so)
	if err != nil {
		t.Fatal(err)
	}
	return fake, src
}

// bigPosts returns n posts that @ the account, with IDs above 2^53 so that
// any trip through float64 would change them.
func bigPosts(seed uint64, now time.Time, n int, mentions bool) ([]weibofake.Post, []int64) {
	gen := weibofake.NewGenerator(seed, "马上办")
	var posts []weibofake.Post
	var want []int64
	for i := range n {
		p := gen.Next(now.Add(-time.Duration(n-i) * time.Minute))
		p.ID += 1 << 53
		p.Mentions = mentions
		posts = append(posts, p)
		want = append(want, p.ID)
	}
	return posts, want
}

func TestOpenMentionsWalk(t *testing.T) {
	clk := newClock()
	fake, src := newOpenPair(t, clk, weibofake.OpenOptions{}, OpenOptions{MentionsCount: 40})
	posts, want := bigPosts(1, clk.Now(), 130, true)
	posts[129].Geo = &[2]float64{31.6705, 118.5068}
	posts[129].Pics = []string{"aac5fc13ly1gegxoh1xa5j20v91vo46j"}
	fake.Add(posts...)
	others, _ := bigPosts(2, clk.Now(), 10, false) // not mentions
	fake.Add(others...)

	r := drain(t, src, "", 20, clk)
	if len(r.errs) != 0 {
		t.Fatal(r.errs)
	}
	assertExactlyOnce(t, r.posts, want)
	for _, p := range r.posts {
		if p.NativeID == strconv.FormatInt(want[129], 10) {
			if p.Geo == nil || p.Geo.Lat != 31.6705 || p.Geo.Lon != 118.5068 {
				t.Errorf("geo %+v (latitude comes first)", p.Geo)
			}
			if len(p.Images) != 1 || p.Images[0] != "http://wx1.sinaimg.cn/large/aac5fc13ly1gegxoh1xa5j20v91vo46j.jpg" {
				t.Errorf("images %v", p.Images)
			}
			if p.Region != "安徽 马鞍山" || p.Source != "weibo-open" || p.ID != "weibo:"+p.NativeID {
				t.Errorf("post %+v", p)
			}
		}
	}
	// since_id on the first page of a walk, max_id from the second, and the
	// walk ended on a page that was not full.
	reqs := fake.Requests()
	if len(reqs) != 4 {
		t.Fatalf("requests %v", reqs)
	}
	q1 := query(t, reqs[1])
	if q1.Get("max_id") == "" || q1.Get("count") != "40" || q1.Get("since_id") != "" {
		t.Errorf("second request %s", reqs[1])
	}

	// Idle: one request with since_id = newest, nothing returned.
	r2 := drain(t, src, r.cursor, 5, clk)
	reqs = fake.Requests()
	if len(r2.posts) != 0 || query(t, reqs[len(reqs)-1]).Get("since_id") != strconv.FormatInt(slices.Max(want), 10) {
		t.Errorf("idle poll %v, last request %s", ids(r2.posts), reqs[len(reqs)-1])
	}
	// New mentions: exactly those.
	more, moreWant := bigPosts(3, clk.Now().Add(time.Hour), 45, true)
	for i := range more {
		more[i].ID += 1 << 40
		moreWant[i] = more[i].ID
	}
	fake.Add(more...)
	r3 := drain(t, src, r2.cursor, 10, clk)
	assertExactlyOnce(t, r3.posts, moreWant)
}

func query(t *testing.T, req string) url.Values {
	t.Helper()
	_, q, _ := strings.Cut(req, "?")
	v, err := url.ParseQuery(q)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestOpenMisbehaviour(t *testing.T) {
	// The clock is at 10:47:30 Shanghai: hourly limits reset in 12m30s.
	const toNextHour = 12*time.Minute + 30*time.Second
	tests := []struct {
		name    string
		fake    weibofake.OpenOptions
		between func(f *weibofake.Open, want []int64) []int64
		classes []string
		waits   []time.Duration
		rounds  int
		errText string // a text one of the errors must contain
	}{
		{name: "10022 ip limit", between: inject(weibofake.FaultIPLimit), classes: []string{"rate_limited"}, waits: []time.Duration{toNextHour}},
		{name: "10023 user limit", between: inject(weibofake.FaultUserLimit), classes: []string{"rate_limited"}, waits: []time.Duration{toNextHour}},
		{name: "10024 endpoint limit", between: inject(weibofake.FaultEndpointLimit), classes: []string{"rate_limited"}, waits: []time.Duration{toNextHour}},
		{name: "10001 system error", between: inject(weibofake.FaultSystemError), classes: []string{"transient"}},
		{name: "502 html", between: inject(weibofake.Fault502), classes: []string{"transient"}},
		{name: "truncated", between: inject(weibofake.FaultTruncated), classes: []string{"malformed"}},
		{name: "non-json", between: inject(weibofake.FaultVisitor), classes: []string{"malformed"}},
		{name: "huge body", between: inject(weibofake.FaultHuge), classes: []string{"malformed"},
			errText: "response body larger than 16777216 bytes"},
		{name: "21327 expired token", between: inject(weibofake.FaultExpiredToken), classes: []string{"auth"}},
		{name: "21332 invalid token", between: inject(weibofake.FaultInvalidToken), classes: []string{"auth"}},
		{name: "post deleted between pages", between: func(f *weibofake.Open, w []int64) []int64 {
			f.Delete(w[10]) // on a page not read yet
			return slices.Delete(w, 10, 11)
		}},
		{name: "new posts during the walk", between: func(f *weibofake.Open, w []int64) []int64 {
			p, nw := bigPosts(9, time.Now(), 7, true)
			for i := range p {
				p[i].ID += 1 << 41
				nw[i] = p[i].ID
			}
			f.Add(p...)
			return append(w, nw...)
		}, rounds: 2},
		{name: "hourly quota", fake: weibofake.OpenOptions{HourlyCalls: 2}, classes: []string{"rate_limited"}, waits: []time.Duration{toNextHour}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock()
			fake, src := newOpenPair(t, clk, tt.fake, OpenOptions{MentionsCount: 20})
			posts, want := bigPosts(4, clk.Now(), 75, true)
			fake.Add(posts...)
			b, err := src.Poll(context.Background(), "")
			if err != nil || !b.More {
				t.Fatalf("first page: %v", err)
			}
			all := run{posts: b.Posts, cursor: b.Next}
			if tt.between != nil {
				want = tt.between(fake, want)
			}
			for range max(tt.rounds, 1) {
				r := drain(t, src, all.cursor, 30, clk)
				all.posts = append(all.posts, r.posts...)
				all.errs = append(all.errs, r.errs...)
				all.cursor = r.cursor
			}
			assertExactlyOnce(t, all.posts, want)
			if got := errClasses(all.errs); !slices.Equal(got, tt.classes) {
				t.Errorf("classes %v, want %v (%v)", got, tt.classes, all.errs)
			}
			if got := waits(all.errs); !slices.Equal(got, tt.waits) {
				t.Errorf("waits %v, want %v", got, tt.waits)
			}
			if tt.errText != "" && !slices.ContainsFunc(all.errs, func(e error) bool { return strings.Contains(e.Error(), tt.errText) }) {
				t.Errorf("no error says %q: %v", tt.errText, all.errs)
			}
			for _, e := range all.errs {
				if strings.Contains(e.Error(), testToken) {
					t.Errorf("token leaked: %v", e)
				}
			}
		})
	}
}

func inject(f ...weibofake.Fault) func(*weibofake.Open, []int64) []int64 {
	return func(o *weibofake.Open, w []int64) []int64 {
		o.Inject(f...)
		return w
	}
}

func TestOpenTokenExpiresMidRun(t *testing.T) {
	clk := newClock()
	fake, src := newOpenPair(t, clk, weibofake.OpenOptions{}, OpenOptions{MentionsCount: 20})
	posts, want := bigPosts(5, clk.Now(), 50, true)
	fake.Add(posts...)
	b, err := src.Poll(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	fake.ExpireToken()
	_, err = src.Poll(context.Background(), b.Next)
	var oe *OpenError
	if !errors.Is(err, ingest.ErrAuth) || !errors.As(err, &oe) || oe.Code != 21327 {
		t.Fatalf("expired: %v", err)
	}
	// Re-authorised with the same token value restored: the walk resumes.
	fake.SetToken(testToken)
	r := drain(t, src, b.Next, 10, clk)
	assertExactlyOnce(t, append(b.Posts, r.posts...), want)
}

func TestOpenRestartMidWalk(t *testing.T) {
	clk := newClock()
	fake, src := newOpenPair(t, clk, weibofake.OpenOptions{}, OpenOptions{MentionsCount: 25})
	posts, want := bigPosts(6, clk.Now(), 90, true)
	fake.Add(posts...)
	b1, _ := src.Poll(context.Background(), "")
	b2, err := src.Poll(context.Background(), b1.Next)
	if err != nil || !b2.More {
		t.Fatal(err)
	}
	// Crash before b2 was durable: restart from b1.Next with a new source.
	restarted, err := NewOpen(src.opt)
	if err != nil {
		t.Fatal(err)
	}
	r := drain(t, restarted, b1.Next, 10, clk)
	assertExactlyOnce(t, append(b1.Posts, r.posts...), want)
}

func TestOpenTopics(t *testing.T) {
	clk := newClock()
	fake, src := newOpenPair(t, clk, weibofake.OpenOptions{TopicsPermission: true}, OpenOptions{Topic: "#马上办#"})
	posts, want := bigPosts(7, clk.Now(), 120, false)
	fake.Add(posts...)
	r := drain(t, src, "", 10, clk)
	if len(r.errs) != 0 {
		t.Fatal(r.errs)
	}
	assertExactlyOnce(t, r.posts, want)
	if q := query(t, fake.Requests()[0]); q.Get("q") != "马上办" || q.Get("count") != "50" || q.Get("page") != "1" {
		t.Errorf("request %v", fake.Requests()[0])
	}
	// A deleted post pulls the next one onto a page already read; the next
	// walk finds it.
	p2, w2 := bigPosts(8, clk.Now(), 60, false)
	for i := range p2 {
		p2[i].ID += 1 << 42
		w2[i] = p2[i].ID
	}
	fake.Add(p2...)
	b, err := src.Poll(context.Background(), r.cursor)
	if err != nil || !b.More {
		t.Fatal(err)
	}
	fake.Delete(w2[len(w2)-1])
	rr := drain(t, src, b.Next, 10, clk)
	rr2 := drain(t, src, rr.cursor, 10, clk)
	assertExactlyOnce(t, append(append(b.Posts, rr.posts...), rr2.posts...), w2)

	// Without the permission: 10014 is a permission error.
	fake2, src2 := newOpenPair(t, clk, weibofake.OpenOptions{}, OpenOptions{Topic: "马上办"})
	fake2.Add(posts...)
	if _, err := src2.Poll(context.Background(), ""); !errors.Is(err, ingest.ErrPermission) {
		t.Errorf("no permission: %v", err)
	}
}

func TestOpenBothEndpointsTakeTurns(t *testing.T) {
	clk := newClock()
	fake, src := newOpenPair(t, clk, weibofake.OpenOptions{TopicsPermission: true}, OpenOptions{Mentions: true, Topic: "马上办"})
	if src.Query() != "mentions+topics:#马上办#" {
		t.Errorf("query %q", src.Query())
	}
	posts, want := bigPosts(10, clk.Now(), 30, false)
	for i := range posts {
		posts[i].Mentions = i%3 == 0
	}
	fake.Add(posts...)
	r := drain(t, src, "", 10, clk)
	// Every post is under the topic; the mentions are returned twice (once
	// per endpoint) with the same post ID, which downstream dedupes by key.
	if r.polls != 2 || len(r.errs) != 0 {
		t.Fatalf("polls %d errs %v", r.polls, r.errs)
	}
	count := map[string]int{}
	for _, p := range r.posts {
		count[p.NativeID]++
	}
	for i, id := range want {
		wantN := 1
		if i%3 == 0 {
			wantN = 2
		}
		if count[strconv.FormatInt(id, 10)] != wantN {
			t.Errorf("post %d seen %d times, want %d", id, count[strconv.FormatInt(id, 10)], wantN)
		}
	}
	if got, want := src.Rate(), rate.Limit(90.0/3600); got != want {
		t.Errorf("rate %v want %v", got, want)
	}
}

func TestOpenTransportErrorHidesToken(t *testing.T) {
	clk := newClock()
	fake, src := newOpenPair(t, clk, weibofake.OpenOptions{}, OpenOptions{})
	fake.Close()
	_, err := src.Poll(context.Background(), "")
	if !errors.Is(err, ingest.ErrTransient) || strings.Contains(err.Error(), testToken) {
		t.Errorf("closed server: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := src.Poll(ctx, ""); !errors.Is(err, context.Canceled) || errors.Is(err, ingest.ErrTransient) {
		t.Errorf("cancelled: %v", err)
	}
}

func TestOpenErrorClass(t *testing.T) {
	tests := map[int]string{
		10001: "transient", 10002: "transient", 10003: "transient",
		10022: "rate_limited", 10023: "rate_limited", 10024: "rate_limited", 20016: "rate_limited",
		21327: "auth", 21332: "auth", 21315: "auth", 10006: "auth",
		10014: "permission", 10005: "permission", 21337: "permission",
		20101: "gone", 10017: "other", 20019: "other",
	}
	for code, want := range tests {
		if got := ingest.Class(&OpenError{Code: code}); got != want {
			t.Errorf("%d: %q want %q", code, got, want)
		}
	}
	// error_code as a string (old wiki sample).
	e, ok := ParseOpenError(400, []byte(`{"error":"x","error_code":"20502","request":"statuses/update.json"}`))
	if !ok || e.Code != 20502 {
		t.Errorf("string code: %+v", e)
	}
}

// A server that ignores max_id repeats the first page: the walk must end
// (no progress) without handing out duplicates.
func TestOpenServerIgnoresMaxID(t *testing.T) {
	clk := newClock()
	fake, src := newOpenPair(t, clk, weibofake.OpenOptions{}, OpenOptions{MentionsCount: 20})
	posts, want := bigPosts(12, clk.Now(), 50, true)
	fake.Add(posts...)
	fake.IgnoreMaxID(true)
	r := drain(t, src, "", 10, clk)
	if r.polls != 2 || len(r.errs) != 0 {
		t.Fatalf("polls %d errs %v", r.polls, r.errs)
	}
	// Only the newest page could be read; each post once.
	assertExactlyOnce(t, r.posts, want[30:])
	// Later polls ask for posts above the newest one and get nothing twice.
	r2 := drain(t, src, r.cursor, 10, clk)
	if len(r2.posts) != 0 {
		t.Errorf("repeat: %v", ids(r2.posts))
	}
}

// A status that cannot be read is dead-lettered once, and still counts for
// how far a walk has come.
func TestOpenRejectedStatusInWalk(t *testing.T) {
	status := func(id int, date string) string {
		return `{"id":` + strconv.Itoa(id) + `,"idstr":"` + strconv.Itoa(id) + `","created_at":"` + date + `","text":"@马鞍山发布 路灯坏了","user":{"id":1,"idstr":"1","screen_name":"a"}}`
	}
	good := "Wed Nov 26 10:00:00 +0800 2026"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var list []string
		switch r.URL.Query().Get("max_id") {
		case "": // newest page: full, the older status unreadable
			list = []string{status(1000, good), status(900, "yesterday-ish")}
		case "900":
			list = []string{status(900, "yesterday-ish"), status(800, good)}
		case "800":
			list = []string{status(800, good)}
		}
		_, _ = w.Write([]byte(`{"statuses":[` + strings.Join(list, ",") + `],"next_cursor":0,"total_number":3}`))
	}))
	defer srv.Close()
	clk := newClock()
	src, err := NewOpen(OpenOptions{BaseURL: srv.URL, AccessToken: "t", Mentions: true, MentionsCount: 2, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	r := drain(t, src, "", 10, clk)
	if got := sortedIDs(r.posts); !slices.Equal(got, []string{"1000", "800"}) {
		t.Errorf("posts %v", got)
	}
	if len(r.rej) != 1 || r.rej[0].Key != "900" || r.rej[0].Source != "weibo-open" || !strings.Contains(string(r.rej[0].Raw), "yesterday-ish") {
		t.Errorf("rejected %+v", r.rej)
	}
}
