package weibo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mashangban/mashangban/ingest"
	"github.com/mashangban/mashangban/ingest/weibo/weibofake"
	"github.com/mashangban/mashangban/model"
)

// clock is a settable clock shared by a fake and the code under test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 11, 26, 10, 47, 30, 0, Shanghai)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// run is what a poller would see: the posts it got, the errors, and the
// cursor it saved.
type run struct {
	posts  []model.Post
	errs   []error
	rej    []ingest.Rejected
	cursor ingest.Cursor
	polls  int
}

// drain polls src like the poller does, without sleeping: it keeps the
// cursor only from successful polls, polls again while More is set, and
// after an error polls again from the same cursor; after a BackoffError it
// first moves clk on by the wait, as the poller would sleep. It stops after
// a poll that returns More == false (or maxPolls).
func drain(t *testing.T, src ingest.Source, cur ingest.Cursor, maxPolls int, clk *clock) run {
	t.Helper()
	r := run{cursor: cur}
	for r.polls < maxPolls {
		r.polls++
		b, err := src.Poll(context.Background(), r.cursor)
		if err != nil {
			r.errs = append(r.errs, err)
			var be *ingest.BackoffError
			if errors.As(err, &be) {
				clk.Advance(be.Wait)
			}
			continue
		}
		r.posts = append(r.posts, b.Posts...)
		r.rej = append(r.rej, b.Rejected...)
		r.cursor = b.Next
		if !b.More {
			return r
		}
	}
	return r
}

// ids returns the native IDs of posts, in order.
func ids(posts []model.Post) []string {
	out := make([]string, 0, len(posts))
	for _, p := range posts {
		out = append(out, p.NativeID)
	}
	return out
}

// assertExactlyOnce fails unless got holds every ID of want exactly once
// and nothing else.
func assertExactlyOnce(t *testing.T, got []model.Post, want []int64) {
	t.Helper()
	count := map[string]int{}
	for _, p := range got {
		count[p.NativeID]++
	}
	for id, n := range count {
		if n > 1 {
			t.Errorf("post %s returned %d times", id, n)
		}
	}
	for _, id := range want {
		if count[fmt.Sprint(id)] == 0 {
			t.Errorf("post %d lost", id)
		}
		delete(count, fmt.Sprint(id))
	}
	for id := range count {
		t.Errorf("unexpected post %s", id)
	}
}

// makePosts returns n posts with increasing IDs under #topic#, the newest
// created a minute before now.
func makePosts(gen *weibofake.Generator, now time.Time, n int) ([]weibofake.Post, []int64) {
	var posts []weibofake.Post
	var want []int64
	for i := range n {
		p := gen.Next(now.Add(-time.Duration(n-i) * time.Minute))
		posts = append(posts, p)
		want = append(want, p.ID)
	}
	return posts, want
}

// errClasses are the ingest classes of errs.
func errClasses(errs []error) []string {
	var out []string
	for _, e := range errs {
		out = append(out, ingest.Class(e))
	}
	return out
}

func waits(errs []error) []time.Duration {
	var out []time.Duration
	for _, e := range errs {
		var be *ingest.BackoffError
		if errors.As(e, &be) {
			out = append(out, be.Wait)
		}
	}
	return out
}

func sortedIDs(posts []model.Post) []string {
	s := ids(posts)
	slices.Sort(s)
	return s
}
