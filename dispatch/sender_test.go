package dispatch

import (
	"context"

	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/time/rate"

	"github.com/mashangban/mashangban/ingest"
	"github.com/mashangban/mashangban/model"
	"github.com/mashangban/mashangban/reply"
	"github.com/mashangban/mashangban/store"
	"github.com/mashangban/mashangban/store/storetest"
)

// behaviour is what the fake platform does with one Send call.
type behaviour int

const (
	deliver        behaviour = iota
	crashBefore              // the daemon dies before the request leaves
	crashAfter               // the platform takes it, the daemon dies before recording
	failTransient            // 5xx, nothing delivered
	failAmbiguous            // delivered, but the answer was lost (timeout)
	failGone                 // the post was deleted (Weibo 20101)
	failBackoff              // rate limited, wait asked
	refuseTemplate           // the platform refuses the text for good
)

// fakePlatform is a Replier that records what citizens would see. Like
// Weibo it refuses comments over 140 characters or with hashtags, and like
// WeChat subscribe messages it checks each field against its type's limit.
type fakePlatform struct {
	t       *testing.T
	ch      model.Channel
	mu      sync.Mutex
	script  map[string][]behaviour // by post ID: behaviours of successive Send calls
	calls   map[string]int         // Send calls by post ID
	seen    []reply.Reply          // delivered
	cancel  context.CancelFunc     // "kills the daemon"
	sentErr error                  // Sent fails with this when set
}

func newFakePlatform(t *testing.T, ch model.Channel) *fakePlatform {
	return &fakePlatform{t: t, ch: ch, script: map[string][]behaviour{}, calls: map[string]int{}}
}

func (f *fakePlatform) Channel() model.Channel { return f.ch }

func (f *fakePlatform) check(r reply.Reply) {
	switch f.ch {
	case model.ChannelWeibo:
		if n := utf8.RuneCountInString(r.Text); n > 140 || strings.Contains(r.Text, "#") || r.Text == "" {
			f.t.Errorf("weibo would refuse comment (%d characters): %q", n, r.Text)
		}
		if !strings.Contains(r.Text, r.CaseNo) {
			f.t.Errorf("weibo comment without its case number %s: %q", r.CaseNo, r.Text)
		}
	case model.ChannelWeChat:
		for k, v := range r.Fields {
			n := utf8.RuneCountInString(v)
			switch {
			case strings.HasPrefix(k, "thing") && (n > 20 || n == 0),
				strings.HasPrefix(k, "character_string") && (n > 32 || n != len(v)),
				strings.HasPrefix(k, "phrase") && n > 5:
				f.t.Errorf("wechat 47003: data.%s.value invalid: %q", k, v)
			}
		}
	}
}

func (f *fakePlatform) Send(ctx context.Context, r reply.Reply) (reply.SendResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.calls[r.PostID]
	f.calls[r.PostID]++
	b := deliver
	if s := f.script[r.PostID]; n < len(s) {
		b = s[n]
	}
	switch b {
	case crashBefore:
		f.cancel()
		return reply.SendResult{}, ctx.Err()
	case crashAfter:
		f.check(r)
		f.seen = append(f.seen, r)
		f.cancel()
		return reply.SendResult{}, ctx.Err()
	case failTransient:
		return reply.SendResult{}, fmt.Errorf("weibo 10001 system error: %w", ingest.ErrTransient)
	case failAmbiguous:
		f.check(r)
		f.seen = append(f.seen, r)
		return reply.SendResult{}, fmt.Errorf("read response: timeout: %w", ingest.ErrTransient)
	case failGone:
		return reply.SendResult{}, fmt.Errorf("weibo 20101 target weibo does not exist: %w", reply.ErrGone)
	case failBackoff:
		return reply.SendResult{}, &ingest.BackoffError{Wait: 10 * time.Minute, Cause: fmt.Errorf("weibo 10023: %w", ingest.ErrRateLimited)}
	case refuseTemplate:
		return reply.SendResult{Skipped: true, Reason: "content filtered (20021)"}, nil
	}
	f.check(r)
	f.seen = append(f.seen, r)
	return reply.SendResult{RemoteID: fmt.Sprint("c", len(f.seen))}, nil
}

func (f *fakePlatform) Sent(_ context.Context, r reply.Reply) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.sentErr != nil {
		return false, f.sentErr
	}
	for _, s := range f.seen {
		if s.PostID == r.PostID && s.Kind == r.Kind && s.Text == r.Text {
			return true, nil
		}
	}
	return false, nil
}

// delivered counts what the citizen of postID saw, by kind.
func (f *fakePlatform) delivered(postID, kind string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, s := range f.seen {
		if s.PostID == postID && s.Kind == kind {
			n++
		}
	}
	return n
}

func (f *fakePlatform) sendCalls(postID string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[postID]
}

func TestSenderCrashSendsEachAckOnce(t *testing.T) {
	t.Parallel()
	storetest.ForEachStore(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		clk := newFakeClock(start)
		d := newTestDispatcher(t, st, clk)
		plat := newFakePlatform(t, model.ChannelWeibo)
		var ids []string
		for i, b := range []behaviour{crashBefore, crashAfter, deliver, failAmbiguous, crashAfter} {
			dec := decision(model.ChannelWeibo, fmt.Sprint(500+i), "路灯坏了", []string{"路灯", fmt.Sprint("坏", i)}, nil, huashan, ldj)
			mustHandle(t, d, dec)
			plat.script[dec.Post.ID] = []behaviour{b}
			ids = append(ids, dec.Post.ID)
		}
		// Each round is one life of the daemon: a fresh Dispatcher, run until
		// the fake platform kills it or the outbox is drained; then time
		// passes beyond the lease and the next life starts.
		for round := 0; round < 8; round++ {
			rctx, cancel := context.WithCancel(ctx)
			plat.mu.Lock()
			plat.cancel = cancel
			plat.mu.Unlock()
			if _, err := newTestDispatcher(t, st, clk).SendDue(rctx, map[model.Channel]reply.Replier{model.ChannelWeibo: plat}); err != nil {
				t.Fatal(err)
			}
			cancel()
			clk.Add(45 * time.Minute) // beyond the lease and the first backoffs
		}
		for i, id := range ids {
			if n := plat.delivered(id, store.ReplyAck); n != 1 {
				t.Errorf("post %d (%s): the citizen got %d acknowledgements, want 1", i, id, n)
			}
			rs, _ := st.RepliesOf(ctx, id)
			if len(rs) != 1 || rs[0].State != store.OutboxSent {
				t.Errorf("post %d: outbox = %+v, want sent", i, rs)
			}
		}
		// The request that went out before the crash was checked, not resent.
		for _, i := range []int{1, 3, 4} {
			if n := plat.sendCalls(ids[i]); n != 1 {
				t.Errorf("post %d: %d Send calls, want 1 (the recovered attempt must be checked with Sent)", i, n)
			}
		}
		if n := plat.sendCalls(ids[0]); n != 2 {
			t.Errorf("post 0 (crashed before sending): %d Send calls, want 2", n)
		}
	})
}

func TestSenderOutcomes(t *testing.T) {
	t.Parallel()
	storetest.ForEachStore(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		clk := newFakeClock(start)
		d := New(st, Options{Now: clk.Now, Departments: testDepartments, MaxAttempts: 3, RetryBase: time.Minute, RetryMax: 3 * time.Minute}, nil, nil)
		plat := newFakePlatform(t, model.ChannelWeibo)
		plat.cancel = func() {}
		script := map[string][]behaviour{
			"gone":      {failGone},
			"refused":   {refuseTemplate},
			"flaky":     {failTransient, deliver},
			"hopeless":  {failTransient, failTransient, failTransient, deliver},
			"throttled": {failBackoff, deliver},
		}
		for native, b := range script {
			dec := decision(model.ChannelWeibo, native, "路灯坏了", []string{"路灯", native}, nil, huashan, ldj)
			mustHandle(t, d, dec)
			plat.script[dec.Post.ID] = b
		}
		reps := map[model.Channel]reply.Replier{model.ChannelWeibo: plat}
		for range 6 {
			if _, err := d.SendDue(ctx, reps); err != nil {
				t.Fatal(err)
			}
			clk.Add(4 * time.Minute)
		}
		// The backoff pause is per worker; SendDue makes new workers, so the
		// throttled reply is held by its next_attempt_at (10 minutes).
		for range 3 {
			if _, err := d.SendDue(ctx, reps); err != nil {
				t.Fatal(err)
			}
			clk.Add(4 * time.Minute)
		}
		want := map[string]struct {
			state    string
			attempts int
		}{
			"gone":      {store.OutboxSkipped, 1},
			"refused":   {store.OutboxSkipped, 1},
			"flaky":     {store.OutboxSent, 2},
			"hopeless":  {store.OutboxFailed, 3},
			"throttled": {store.OutboxSent, 2},
		}
		for native, w := range want {
			rs, _ := st.RepliesOf(ctx, "weibo:"+native)
			if len(rs) != 1 || rs[0].State != w.state || rs[0].Attempts != w.attempts {
				t.Errorf("%s: outbox = %+v, want state %s after %d attempts", native, rs, w.state, w.attempts)
			}
		}
		if n := count(t, st, `SELECT count(*) FROM events WHERE kind LIKE 'reply.%'`); n != 5 {
			t.Errorf("reply events = %d, want one per final outcome (5)", n)
		}
	})
}

func TestBackoffIsCapped(t *testing.T) {
	t.Parallel()
	d := New(nil, Options{RetryBase: time.Second, RetryMax: time.Minute}, nil, nil)
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second, time.Minute, time.Minute}
	for i, w := range want {
		if got := d.backoff(i + 1); got != w {
			t.Errorf("backoff(%d) = %s, want %s", i+1, got, w)
		}
	}
}

func TestRunSenderDeliversAndStops(t *testing.T) {
	t.Parallel()
	storetest.ForEachStore(t, func(t *testing.T, st *store.Store) {
		ctx, cancel := context.WithCancel(context.Background())
		d := New(st, Options{Departments: testDepartments, PollEvery: 20 * time.Millisecond,
			Rates: map[model.Channel]rate.Limit{model.ChannelWeChat: rate.Inf}}, nil, nil)
		plat := newFakePlatform(t, model.ChannelWeChat)
		plat.cancel = func() {}
		done := make(chan error)
		go func() { done <- d.RunSender(ctx, map[model.Channel]reply.Replier{model.ChannelWeChat: plat}) }()
		dec := decision(model.ChannelWeChat, "b15498af", "小区门口的路灯坏了好几天了晚上出行非常不方便请尽快修理", []string{"路灯", "坏"}, nil, huashan, ldj)
		mustHandle(t, d, dec)
		deadline := time.Now().Add(20 * time.Second)
		for plat.delivered(dec.Post.ID, store.ReplyAck) == 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if n := plat.delivered(dec.Post.ID, store.ReplyAck); n != 1 {
			t.Fatalf("delivered %d acknowledgements, want 1", n)
		}
		plat.mu.Lock()
		f := plat.seen[0].Fields
		plat.mu.Unlock()
		if f["thing1"] != "小区门口的路灯坏了好几天了晚上出行非常…" || f["phrase3"] != "已受理" || !strings.HasPrefix(f["character_string2"], "MSB-") {
			t.Errorf("subscribe message fields = %v", f)
		}
	})
}
