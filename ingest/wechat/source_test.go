package wechat

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/mashangban/mashangban/ingest"
	"github.com/mashangban/mashangban/ingest/wechat/wechatfake"
	"github.com/mashangban/mashangban/model"
)

// clientNow is the clients' clock: 10:00 in Beijing, so a daily quota
// (45009) resets 14h01m later.
var clientNow = time.Date(2026, 11, 26, 2, 0, 0, 0, time.UTC)

func newFake(t *testing.T, opt wechatfake.Options) *wechatfake.Server {
	t.Helper()
	s := wechatfake.New(opt)
	t.Cleanup(s.Close)
	return s
}

func newClient(t *testing.T, fake *wechatfake.Server) *Client {
	t.Helper()
	o := fake.Options()
	c, err := NewClient(ClientOptions{BaseURL: fake.URL, AppID: o.AppID, AppSecret: o.Secret, Now: func() time.Time { return clientNow }})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newSource(t *testing.T, fake *wechatfake.Server, opt SourceOptions) *Source {
	t.Helper()
	o := fake.Options()
	if opt.Env == "" {
		opt.Env = o.Env
	}
	if opt.Collection == "" {
		opt.Collection = o.Collection
	}
	if opt.PageSize == 0 {
		opt.PageSize = 3
	}
	s, err := NewSource(newClient(t, fake), opt)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var base = time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)

// addRecords adds n submissions one minute apart, ids r00, r01, …; two share
// a creation time so paging must break ties on _id.
func addRecords(fake *wechatfake.Server, from, n int) []string {
	var ids []string
	for i := from; i < from+n; i++ {
		id := fmt.Sprintf("r%02d", i)
		at := base.Add(time.Duration(i) * time.Minute)
		if i == 4 {
			at = base.Add(3 * time.Minute)
		}
		fake.Add(map[string]any{"_id": id, "_openid": "oUser" + id, "title": "路灯不亮", "content": fmt.Sprintf("第%d条：小区门口路灯坏了", i), "createdAt": at})
		ids = append(ids, id)
	}
	return ids
}

type memPub struct {
	mu    sync.Mutex
	posts []model.Post
}

func (p *memPub) PublishPosts(ctx context.Context, posts []model.Post) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.posts = append(p.posts, posts...)
	return nil
}

func (p *memPub) ids() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]string, len(p.posts))
	for i, x := range p.posts {
		out[i] = x.NativeID
	}
	return out
}

type memCursors struct{ m map[string][2]string }

func (c *memCursors) Cursor(ctx context.Context, source string) (string, string, error) {
	v, ok := c.m[source]
	if !ok {
		return "", "", ingest.ErrNoCursor
	}
	return v[0], v[1], nil
}

func (c *memCursors) SaveCursor(ctx context.Context, source, query, cursor string) error {
	c.m[source] = [2]string{query, cursor}
	return nil
}

type memDead struct {
	mu    sync.Mutex
	items []ingest.Rejected
}

func (d *memDead) AddDeadLetter(ctx context.Context, r ingest.Rejected) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.items = append(d.items, r)
	return nil
}

type pollResult struct {
	pub     *memPub
	dead    *memDead
	cursors *memCursors
	sleeps  []time.Duration
	poller  *ingest.Poller
}

// runPoller runs the real ingest poller over src with a fake sleep until
// done reports true or 100 waits have passed.
func runPoller(t *testing.T, src ingest.Source, cursors *memCursors, done func(r *pollResult) bool) *pollResult {
	t.Helper()
	if cursors == nil {
		cursors = &memCursors{m: map[string][2]string{}}
	}
	r := &pollResult{pub: &memPub{}, dead: &memDead{}, cursors: cursors}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sleep := func(ctx context.Context, d time.Duration) error {
		r.sleeps = append(r.sleeps, d)
		if done(r) || len(r.sleeps) >= 100 {
			cancel()
			return context.Canceled
		}
		return ctx.Err()
	}
	p, err := ingest.NewPoller(src, r.pub, cursors, r.dead, ingest.PollerOptions{
		Interval: time.Minute, Sleep: sleep, Rand: func() float64 { return 0.5 }, Rate: rate.Inf,
	}, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	r.poller = p
	if err := p.Run(ctx); err != nil {
		t.Fatal(err)
	}
	return r
}

func allRead(n int) func(r *pollResult) bool {
	return func(r *pollResult) bool { return len(r.pub.ids()) >= n }
}

func TestSourceMisbehaviour(t *testing.T) {
	const n = 10
	want := make([]string, n)
	for i := range want {
		want[i] = fmt.Sprintf("r%02d", i)
	}
	tests := []struct {
		name  string
		setup func(f *wechatfake.Server)
		// extra checks of waits and dead letters
		check func(t *testing.T, f *wechatfake.Server, r *pollResult)
		want  []string // default: all n in key order
	}{
		{name: "clean"},
		{
			name:  "daily quota 45009 waits until the next Beijing day",
			setup: func(f *wechatfake.Server) { f.Fail("/tcb/databasequery", wechatfake.Errcode(45009, 2)...) },
			check: func(t *testing.T, f *wechatfake.Server, r *pollResult) {
				want := 14*time.Hour + time.Minute
				if r.sleeps[0] != want || r.sleeps[1] != want {
					t.Errorf("waits %v, want %v twice", r.sleeps[:2], want)
				}
			},
		},
		{
			name:  "minute quota 45011 waits a minute",
			setup: func(f *wechatfake.Server) { f.Fail("/tcb/databasequery", wechatfake.Errcode(45011, 3)...) },
			check: func(t *testing.T, f *wechatfake.Server, r *pollResult) {
				if fmt.Sprint(r.sleeps[:3]) != "[1m0s 1m0s 1m0s]" {
					t.Errorf("waits %v", r.sleeps[:3])
				}
			},
		},
		{
			name: "5xx and system busy back off and retry",
			setup: func(f *wechatfake.Server) {
				f.Fail("/tcb/databasequery", wechatfake.Fault{Status: 502}, wechatfake.Fault{Status: 503}, wechatfake.Fault{Errcode: -1})
			},
			check: func(t *testing.T, f *wechatfake.Server, r *pollResult) {
				if fmt.Sprint(r.sleeps[:3]) != "[750ms 1.5s 3s]" {
					t.Errorf("waits %v", r.sleeps[:3])
				}
			},
		},
		{
			name: "truncated and non-JSON bodies",
			setup: func(f *wechatfake.Server) {
				f.Fail("/tcb/databasequery", wechatfake.Fault{Truncate: true}, wechatfake.Fault{NonJSON: true})
			},
			check: func(t *testing.T, f *wechatfake.Server, r *pollResult) {
				if len(r.dead.items) != 1 || !strings.Contains(r.dead.items[0].Reason, "malformed") || len(r.dead.items[0].Raw) == 0 {
					t.Errorf("dead letters %+v, want the first broken body kept", r.dead.items)
				}
			},
		},
		{
			name:  "huge body",
			setup: func(f *wechatfake.Server) { f.Fail("/tcb/databasequery", wechatfake.Fault{Huge: true}) },
			check: func(t *testing.T, f *wechatfake.Server, r *pollResult) {
				const reason = "wechat /tcb/databasequery: response body larger than 16777216 bytes, not read"
				if len(r.dead.items) != 1 || !strings.Contains(r.dead.items[0].Reason, reason) {
					t.Errorf("dead letters %+v, want one saying %q", r.dead.items, reason)
				}
			},
		},
		{
			name: "token expires mid-run",
			setup: func(f *wechatfake.Server) {
				f.OnQuery(func(n int) {
					if n == 2 {
						f.ExpireTokens()
					}
				})
			},
			check: func(t *testing.T, f *wechatfake.Server, r *pollResult) {
				if got := f.Calls("/cgi-bin/stable_token"); got != 2 {
					t.Errorf("stable_token called %d times, want 2", got)
				}
				if ok, _ := r.poller.Healthy(); !ok {
					t.Error("an expired token must not make the source unhealthy")
				}
			},
		},
		{
			name: "token revoked mid-run",
			setup: func(f *wechatfake.Server) {
				f.OnQuery(func(n int) {
					if n == 1 {
						f.RevokeTokens()
					}
				})
			},
		},
		{
			name:  "pages repeat",
			setup: func(f *wechatfake.Server) { f.RepeatPages(true) },
		},
		{
			name:  "pages reordered",
			setup: func(f *wechatfake.Server) { f.ShufflePages(true) },
		},
		{
			name: "records deleted between pages",
			setup: func(f *wechatfake.Server) {
				f.OnQuery(func(n int) {
					if n == 1 {
						f.Delete("r01") // already read
						f.Delete("r05") // not read yet: gone for good
					}
				})
			},
			want: slices.DeleteFunc(slices.Clone(want), func(s string) bool { return s == "r05" }),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, wechatfake.Options{})
			addRecords(f, 0, n)
			if tt.setup != nil {
				tt.setup(f)
			}
			wantIDs := tt.want
			if wantIDs == nil {
				wantIDs = want
			}
			src := newSource(t, f, SourceOptions{})
			r := runPoller(t, src, nil, allRead(len(wantIDs)))
			got := r.pub.ids()
			// r04 shares r03's creation time: key order is r00 r01 r02 r03 r04 r05 …
			if fmt.Sprint(got) != fmt.Sprint(wantIDs) {
				t.Fatalf("published %v\nwant      %v", got, wantIDs)
			}
			if tt.check != nil {
				tt.check(t, f, r)
			}
		})
	}
}

func TestSourcePicksUpNewRecordsAndResumes(t *testing.T) {
	f := newFake(t, wechatfake.Options{})
	addRecords(f, 0, 5)
	cursors := &memCursors{m: map[string][2]string{}}
	src := newSource(t, f, SourceOptions{})
	r := runPoller(t, src, cursors, allRead(5))
	if len(r.pub.ids()) != 5 {
		t.Fatalf("first run %v", r.pub.ids())
	}
	// New submissions arrive; a new process (new client, new source) resumes.
	addRecords(f, 5, 4)
	src2 := newSource(t, f, SourceOptions{})
	r2 := runPoller(t, src2, cursors, allRead(4))
	if fmt.Sprint(r2.pub.ids()) != "[r05 r06 r07 r08]" {
		t.Fatalf("second run %v", r2.pub.ids())
	}
}

func TestSourceRejectsBadRecordsAndMovesOn(t *testing.T) {
	f := newFake(t, wechatfake.Options{})
	addRecords(f, 0, 2)
	ms := base.Add(time.Hour).UnixMilli()
	if err := f.AddJSON(
		fmt.Sprintf(`{"_id":"bad1","content":"","createdAt":{"$date":%d}}`, ms), // no text
		fmt.Sprintf(`{"_id":"bad2","content":"x","createdAt":{"$date":%d},"location":{"type":"Point","coordinates":[500,1]}}`, ms+1),
		fmt.Sprintf(`{"_id":"ok3","content":"井盖缺失","createdAt":{"$date":%d}}`, ms+2),
	); err != nil {
		t.Fatal(err)
	}
	src := newSource(t, f, SourceOptions{})
	r := runPoller(t, src, nil, allRead(3))
	if fmt.Sprint(r.pub.ids()) != "[r00 r01 ok3]" {
		t.Fatalf("published %v", r.pub.ids())
	}
	if len(r.dead.items) != 2 || r.dead.items[0].Key != "bad1" || r.dead.items[1].Key != "bad2" || !strings.Contains(string(r.dead.items[0].Raw), `"_id":"bad1"`) {
		t.Fatalf("dead letters %+v", r.dead.items)
	}
}

func TestSourceQueryIsSafe(t *testing.T) {
	f := newFake(t, wechatfake.Options{})
	// An _id full of quote characters must travel in the cursor and the next
	// query without changing the statement.
	f.Add(
		map[string]any{"_id": `a"),db.collection("x`, "content": "一", "createdAt": base},
		map[string]any{"_id": `b\"}'`, "content": "二", "createdAt": base},
		map[string]any{"_id": "c", "content": "三", "createdAt": base.Add(time.Second)},
	)
	src := newSource(t, f, SourceOptions{PageSize: 1})
	r := runPoller(t, src, nil, allRead(3))
	if fmt.Sprint(r.pub.ids()) != `[a"),db.collection("x b\"}' c]` {
		t.Fatalf("published %v", r.pub.ids())
	}
	for _, q := range f.Queries() {
		if !strings.HasPrefix(q, `db.collection("submissions")`) {
			t.Errorf("query %s", q)
		}
	}
	for _, bad := range []string{`subs")`, "a.b", "", "1abc"} {
		if _, err := NewSource(newClient(t, f), SourceOptions{Env: "e", Collection: bad}); err == nil {
			t.Errorf("collection %q accepted", bad)
		}
	}
	if _, err := NewSource(newClient(t, f), SourceOptions{Env: "e", Collection: "c", Fields: Fields{Created: `x"]`}}); err == nil {
		t.Error("bad created field accepted")
	}
	if _, err := parseCursor(`{"t":1,"k":"date","v":"1);db.x(","id":"a"}`); err == nil {
		t.Error("cursor with a foreign literal accepted")
	}
}

func TestSourceMarkRead(t *testing.T) {
	f := newFake(t, wechatfake.Options{})
	addRecords(f, 0, 4)
	src := newSource(t, f, SourceOptions{MarkRead: "acked"})
	runPoller(t, src, nil, allRead(4))
	for _, id := range []string{"r00", "r03"} {
		rec, ok := f.Record(id)
		if !ok || rec["acked"] != true {
			t.Errorf("record %s: %v", id, rec)
		}
	}
	// A failing mark does not fail the poll.
	addRecords(f, 4, 1)
	f.Fail("/tcb/databaseupdate", wechatfake.Fault{Status: 500})
	b, err := src.Poll(context.Background(), "")
	if err != nil || len(b.Posts) != 3 {
		t.Fatalf("%d posts, %v", len(b.Posts), err)
	}
}

func TestSourceConfigErrors(t *testing.T) {
	tests := []struct {
		name      string
		secret    string
		env, coll string
		want      error
		wantCode  int
	}{
		{"wrong secret", "WRONG", "", "", ingest.ErrAuth, CodeInvalidSecret},
		{"unknown env", "", "prod-nope", "", ingest.ErrPermission, -501009},
		{"missing collection", "", "", "nope", ingest.ErrPermission, -502005},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, wechatfake.Options{})
			o := f.Options()
			secret := o.Secret
			if tt.secret != "" {
				secret = tt.secret
			}
			c, err := NewClient(ClientOptions{BaseURL: f.URL, AppID: o.AppID, AppSecret: secret})
			if err != nil {
				t.Fatal(err)
			}
			env, coll := o.Env, o.Collection
			if tt.env != "" {
				env = tt.env
			}
			if tt.coll != "" {
				coll = tt.coll
			}
			src, err := NewSource(c, SourceOptions{Env: env, Collection: coll})
			if err != nil {
				t.Fatal(err)
			}
			_, err = src.Poll(context.Background(), "")
			var ae *APIError
			if !errors.Is(err, tt.want) || !errors.As(err, &ae) || ae.Code != tt.wantCode {
				t.Fatalf("err = %v, want %v with code %d", err, tt.want, tt.wantCode)
			}
			if strings.Contains(err.Error(), secret) {
				t.Error("error reveals the secret")
			}
			// The poller pauses the source and reports it unhealthy.
			r := runPoller(t, src, nil, func(r *pollResult) bool { return len(r.sleeps) >= 2 })
			if ok, reason := r.poller.Healthy(); ok || reason == "" {
				t.Errorf("healthy %v %q", ok, reason)
			}
			if r.sleeps[0] != 10*time.Minute {
				t.Errorf("pause %v", r.sleeps[0])
			}
		})
	}
}

func TestSourceRestartMidWalk(t *testing.T) {
	f := newFake(t, wechatfake.Options{})
	addRecords(f, 0, 10)
	cursors := &memCursors{m: map[string][2]string{}}
	// The first process stops after two of four pages (page size 3).
	r1 := runPoller(t, newSource(t, f, SourceOptions{}), cursors, allRead(6))
	if len(r1.pub.ids()) != 6 {
		t.Fatalf("first run published %v", r1.pub.ids())
	}
	r2 := runPoller(t, newSource(t, f, SourceOptions{}), cursors, allRead(4))
	all := append(r1.pub.ids(), r2.pub.ids()...)
	if fmt.Sprint(all) != "[r00 r01 r02 r03 r04 r05 r06 r07 r08 r09]" {
		t.Fatalf("over both runs: %v", all)
	}
}

func TestSourceUnderMinuteQuota(t *testing.T) {
	var mu sync.Mutex
	now := clientNow
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	f := newFake(t, wechatfake.Options{MinuteQuota: 2, Now: clock})
	addRecords(f, 0, 10)
	src := newSource(t, f, SourceOptions{})
	r := runPoller(t, src, nil, func(r *pollResult) bool {
		mu.Lock()
		now = now.Add(r.sleeps[len(r.sleeps)-1])
		mu.Unlock()
		return len(r.pub.ids()) >= 10
	})
	if fmt.Sprint(r.pub.ids()) != "[r00 r01 r02 r03 r04 r05 r06 r07 r08 r09]" {
		t.Fatalf("published %v", r.pub.ids())
	}
	// Two queries a minute: pages 1 and 2 (1s apart: More), page 3 refused
	// with 45011 and retried a minute later with page 4, then the interval.
	if fmt.Sprint(r.sleeps) != "[1s 1s 1m0s 1s 1m0s]" || f.Calls("/tcb/databasequery") != 5 {
		t.Errorf("sleeps %v, %d queries", r.sleeps, f.Calls("/tcb/databasequery"))
	}
}

func TestSourceUnreadableCursorStartsOver(t *testing.T) {
	f := newFake(t, wechatfake.Options{})
	addRecords(f, 0, 2)
	src := newSource(t, f, SourceOptions{})
	b, err := src.Poll(context.Background(), `{"t":1,"k":"date","v":"1);db.x(","id":"a"}`)
	if err != nil || len(b.Posts) != 2 {
		t.Fatalf("%+v, %v", b, err)
	}
	if _, err := parseCursor(b.Next); err != nil {
		t.Fatalf("next cursor %q: %v", b.Next, err)
	}
}

// pollUntilIdle polls until a walk ends and returns the posts' IDs and the
// duplicates reported.
func pollUntilIdle(t *testing.T, src *Source, cur *ingest.Cursor) ([]string, int) {
	t.Helper()
	var ids []string
	dups := 0
	for range 50 {
		b, err := src.Poll(context.Background(), *cur)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range b.Posts {
			ids = append(ids, p.NativeID)
		}
		dups += b.Duplicates
		if b.Next != "" {
			*cur = b.Next
		}
		if !b.More {
			return ids, dups
		}
	}
	t.Fatal("walk never ended")
	return nil, 0
}

func TestSourceOverlapCatchesLateRecords(t *testing.T) {
	tests := []struct {
		name   string
		fields Fields
		at     func(m time.Time) any // how records store their creation time
	}{
		{"date", Fields{}, func(m time.Time) any { return m }},
		{"epoch seconds", Fields{Created: "ts"}, func(m time.Time) any { return m.Unix() }},
		{"epoch ms", Fields{Created: "ts"}, func(m time.Time) any { return m.UnixMilli() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, wechatfake.Options{})
			field := tt.fields.withDefaults().Created
			add := func(id string, at time.Time) {
				f.Add(map[string]any{"_id": id, "content": "路灯坏了 " + id, field: tt.at(at)})
			}
			// Seven records within the overlap window, more than a page.
			for i := range 7 {
				add(fmt.Sprintf("r%d", i), base.Add(time.Duration(i)*20*time.Second))
			}
			src := newSource(t, f, SourceOptions{Fields: tt.fields})
			var cur ingest.Cursor
			ids, _ := pollUntilIdle(t, src, &cur)
			if fmt.Sprint(ids) != "[r0 r1 r2 r3 r4 r5 r6]" {
				t.Fatalf("first walk %v", ids)
			}
			// Idle walks read the window again but hand out nothing.
			ids, dups := pollUntilIdle(t, src, &cur)
			if len(ids) != 0 || dups != 0 {
				t.Fatalf("idle walk handed out %v, %d duplicates", ids, dups)
			}
			high := base.Add(120 * time.Second)
			add("late", high.Add(-2*time.Minute+time.Second)) // dated before r1..r6, within the window
			add("new", high.Add(time.Second))
			add("ancient", high.Add(-time.Hour)) // beyond the window: the documented limit
			ids, _ = pollUntilIdle(t, src, &cur)
			if fmt.Sprint(ids) != "[late new]" {
				t.Fatalf("after late records: %v", ids)
			}
			ids, _ = pollUntilIdle(t, src, &cur)
			if len(ids) != 0 {
				t.Fatalf("read again: %v", ids)
			}
			c, err := parseCursor(cur)
			if err != nil || len(c.Seen) == 0 || len(c.Seen) > 9 {
				t.Fatalf("cursor %s: %v", cur, err)
			}
		})
	}
}

func TestSourceSkipsRecordsWithoutCreationTime(t *testing.T) {
	f := newFake(t, wechatfake.Options{})
	for i := range 4 {
		f.Add(map[string]any{"_id": fmt.Sprintf("x%d", i), "content": "没有时间"})
	}
	addRecords(f, 0, 2)
	src := newSource(t, f, SourceOptions{})
	var cur ingest.Cursor
	ids, _ := pollUntilIdle(t, src, &cur)
	if fmt.Sprint(ids) != "[r00 r01]" {
		t.Fatalf("got %v", ids)
	}
}

// TestSourceHostileRecords: records with deep nesting, numbers no float
// holds and fields of the wrong type each end as a post or a dead letter
// with its reason, and the record after them is read.
func TestSourceHostileRecords(t *testing.T) {
	f := newFake(t, wechatfake.Options{})
	ms := base.Add(time.Hour).UnixMilli()
	deep := strings.Repeat("[", 5000) + strings.Repeat("]", 5000)
	if err := f.AddJSON(
		fmt.Sprintf(`{"_id":"deep","content":"路灯坏了","createdAt":{"$date":%d},"extra":%s}`, ms, deep),
		fmt.Sprintf(`{"_id":"hugenum","content":"路灯坏了","createdAt":{"$date":%d},"location":{"latitude":1e300,"longitude":118.5}}`, ms+1),
		fmt.Sprintf(`{"_id":"hugedate","content":"路灯坏了","createdAt":1e300,"n":%d}`, ms+2),
		fmt.Sprintf(`{"_id":"types","content":123,"title":["路灯"],"createdAt":{"$date":%d}}`, ms+3),
		fmt.Sprintf(`{"_id":"types2","content":"井盖缺失","createdAt":{"$date":%d},"images":{"a":1},"_openid":[1],"location":"here"}`, ms+4),
		fmt.Sprintf(`{"_id":"after","content":"井盖缺失","createdAt":{"$date":%d}}`, ms+5),
	); err != nil {
		t.Fatal(err)
	}
	src := newSource(t, f, SourceOptions{})
	r := runPoller(t, src, nil, func(r *pollResult) bool { return slices.Contains(r.pub.ids(), "after") })
	seen := map[string]bool{}
	for _, id := range r.pub.ids() {
		seen[id] = true
	}
	for _, d := range r.dead.items {
		if d.Reason == "" || len(d.Raw) == 0 {
			t.Errorf("dead letter without reason or body: %+v", d)
		}
		if seen[d.Key] {
			t.Errorf("%s both published and dead-lettered", d.Key)
		}
		seen[d.Key] = true
	}
	for _, id := range []string{"deep", "hugenum", "types", "types2", "after"} {
		if !seen[id] {
			t.Errorf("record %s neither published nor a dead letter (published %v, dead %+v)", id, r.pub.ids(), r.dead.items)
		}
	}
}
