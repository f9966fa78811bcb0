package dispatch

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mashangban/mashangban/model"
	"github.com/mashangban/mashangban/store"
	"github.com/mashangban/mashangban/store/storetest"
)

func TestHandleCreatesCaseOnce(t *testing.T) {
	storetest.ForEachStore(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		clk := newFakeClock(start)
		d := newTestDispatcher(t, st, clk)
		dec := decision(model.ChannelWeibo, "5030112233445566", "#马上办# 翠湖小区门口路灯坏了，晚上很黑", lightA, lightPlace, huashan, cgj, ldj)
		for range 3 { // redelivery
			mustHandle(t, d, dec)
		}
		c := caseOf(t, st, dec.Post.ID)
		if c.No != "MSB-20261126-0001" || c.Lead != "cgj" || c.Status != model.CaseOpen || len(c.PostIDs) != 1 {
			t.Fatalf("case = %+v", c)
		}
		as, err := st.ListAssignments(ctx, nil, store.AssignmentFilter{CaseID: c.ID})
		if err != nil {
			t.Fatal(err)
		}
		if len(as) != 2 || as[0].Department != "cgj" || as[0].Role != model.RoleLead || as[1].Department != "ldj" || as[1].Role != model.RoleAssist {
			t.Fatalf("assignments = %+v", as)
		}
		for _, a := range as {
			if !a.ClaimBy.Equal(start.Add(24*time.Hour)) || !a.ReplyBy.Equal(start.Add(72*time.Hour)) || !a.CloseBy.Equal(start.Add(7*24*time.Hour)) ||
				a.PolicyVersion != "seed-2026" || a.State != model.AssignmentPending {
				t.Errorf("assignment deadlines/policy = %+v", a)
			}
		}
		replies, err := st.RepliesOf(ctx, dec.Post.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(replies) != 1 || replies[0].Kind != store.ReplyAck || replies[0].State != store.OutboxQueued ||
			!strings.Contains(replies[0].Text, c.No) || !strings.Contains(replies[0].Text, cgj.Name) || strings.Contains(replies[0].Text, "#") {
			t.Fatalf("replies = %+v", replies)
		}
		if n := count(t, st, `SELECT count(*) FROM events WHERE kind = 'case.created'`); n != 1 {
			t.Errorf("case.created events = %d, want 1", n)
		}
		if n := count(t, st, `SELECT count(*) FROM posts`); n != 1 {
			t.Errorf("posts = %d, want 1", n)
		}
	})
}

func TestHandleConcurrentRedelivery(t *testing.T) {
	storetest.ForEachStore(t, func(t *testing.T, st *store.Store) {
		clk := newFakeClock(start)
		// Two dispatchers on one store, as after a consumer-group rebalance.
		d1, d2 := newTestDispatcher(t, st, clk), newTestDispatcher(t, st, clk)
		var decs []model.Decision
		for i := range 10 {
			decs = append(decs, decision(model.ChannelReplay, fmt.Sprint("p", i), "路灯坏了", []string{"路灯", fmt.Sprint("坏", i)}, nil,
				[]model.District{huashan, yushan}[i%2], cgj))
		}
		var wg sync.WaitGroup
		errs := make(chan error, 40)
		for _, d := range []*Dispatcher{d1, d2, d1, d2} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for _, dec := range decs {
					if err := d.Handle(context.Background(), dec); err != nil {
						errs <- err
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		// Every post in exactly one case entry, one ack each, case numbers 1..n without gaps.
		if n := count(t, st, `SELECT count(*) FROM case_posts`); n != 10 {
			t.Errorf("case entries = %d, want 10", n)
		}
		if n := count(t, st, `SELECT count(*) FROM outbox WHERE kind = 'ack'`); n != 10 {
			t.Errorf("acks = %d, want 10", n)
		}
		cases := count(t, st, `SELECT count(*) FROM cases`)
		if n := count(t, st, `SELECT count(*) FROM assignments`); n != cases {
			t.Errorf("assignments = %d, want one per case (%d)", n, cases)
		}
		if n := count(t, st, `SELECT value FROM counters WHERE name = 'case:20261126'`); n != cases {
			t.Errorf("case counter = %d, cases = %d: numbers have gaps", n, cases)
		}
	})
}
