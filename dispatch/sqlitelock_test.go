package dispatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mashangban/mashangban/model"
	"github.com/mashangban/mashangban/reply"
	"github.com/mashangban/mashangban/store"
)

// TestSQLiteWritersNeverLocked runs dispatchers, the outbox sender and the
// deadline clock at once on one SQLite file whose busy timeout is zero: a
// write that had to wait for SQLite's lock would fail at once with
// "database is locked". None may: the store queues its writers on its one
// writer connection, so the lock is never contended inside the process.
func TestSQLiteWritersNeverLocked(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "mashangban.db")
	st, err := store.Open(ctx, "sqlite:"+path+"?_pragma=busy_timeout(0)&_pragma=synchronous(OFF)", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	clk := newFakeClock(start)
	d := New(st, Options{Now: clk.Now, Departments: testDepartments}, nil, nil)
	repliers := map[model.Channel]reply.Replier{model.ChannelReplay: LogReplier{Logger: slog.New(slog.DiscardHandler)}}

	const handlers, perHandler = 4, 60
	var (
		mu   sync.Mutex
		errs []error
		done atomic.Bool
		wg   sync.WaitGroup
	)
	fail := func(what string, err error) {
		mu.Lock()
		errs = append(errs, fmt.Errorf("%s: %w", what, err))
		mu.Unlock()
	}
	for h := range handlers {
		wg.Go(func() {
			for i := range perHandler {
				n := h*perHandler + i
				dec := decision(model.ChannelReplay, fmt.Sprint("load-", n), "路灯坏了",
					[]string{"路灯", "坏", fmt.Sprint("楼", n%7)}, nil, []model.District{huashan, yushan}[n%2], cgj, ldj)
				if err := d.Handle(ctx, dec); err != nil {
					fail("handle "+dec.Post.ID, err)
				}
			}
		})
	}
	var senders, ticks sync.WaitGroup
	senders.Go(func() {
		for !done.Load() {
			if _, err := d.SendDue(ctx, repliers); err != nil {
				fail("send", err)
			}
		}
	})
	ticks.Go(func() {
		for !done.Load() {
			if err := d.Tick(ctx, clk.Now()); err != nil {
				fail("tick", err)
			}
		}
	})
	wg.Wait()
	done.Store(true)
	senders.Wait()
	ticks.Wait()
	// What is still queued goes out now that the load has stopped.
	for {
		n, err := d.SendDue(ctx, repliers)
		if err != nil {
			fail("send", err)
		}
		if n == 0 || err != nil {
			break
		}
	}
	for _, err := range errs {
		if strings.Contains(err.Error(), "database is locked") || strings.Contains(err.Error(), "SQLITE_BUSY") {
			t.Errorf("SQLite lock contended: %v", err)
		} else {
			t.Errorf("%v", errors.Unwrap(err))
		}
	}
	if n := count(t, st, `SELECT count(*) FROM case_posts`); n != handlers*perHandler {
		t.Errorf("posts in cases = %d, want %d", n, handlers*perHandler)
	}
	if n := count(t, st, `SELECT count(*) FROM outbox WHERE state = 'sent'`); n != handlers*perHandler {
		t.Errorf("acknowledgements sent = %d, want %d", n, handlers*perHandler)
	}
}
