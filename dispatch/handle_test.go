package dispatch

import (
	"context"
	"errors"
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
	t.Parallel()
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
	t.Parallel()
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

func TestRepeatMergesAndRepliesOnce(t *testing.T) {
	t.Parallel()
	storetest.ForEachStore(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		clk := newFakeClock(start)
		d := newTestDispatcher(t, st, clk)
		first := decision(model.ChannelWeibo, "1001", "翠湖小区门口路灯坏了，晚上很黑", lightA, lightPlace, huashan, ldj, cgj)
		first.Category = "streetlight"
		mustHandle(t, d, first)
		clk.Add(3 * time.Hour)
		again := decision(model.ChannelWeibo, "1002", "翠湖小区门口的路灯不亮好几天了，晚上很黑", lightB, lightPlace, huashan, ldj)
		other := decision(model.ChannelWeibo, "1003", "翠湖小区门口垃圾堆积很多天了，很臭", garbage, lightPlace, huashan, cgj)
		elsewhere := decision(model.ChannelWeibo, "1004", "翠湖小区门口路灯坏了，晚上很黑", lightA, lightPlace, yushan, ldj)
		again.Category, elsewhere.Category, other.Category = "streetlight", "streetlight", "sanitation"
		for range 2 { // redelivered
			mustHandle(t, d, again)
			mustHandle(t, d, other)
			mustHandle(t, d, elsewhere)
		}
		c := caseOf(t, st, first.Post.ID)
		if got := caseOf(t, st, again.Post.ID); got.ID != c.ID {
			t.Fatalf("repeat went to %s, want %s", got.No, c.No)
		}
		if got := caseOf(t, st, other.Post.ID); got.ID == c.ID {
			t.Errorf("a different problem at the same place was merged into %s", c.No)
		}
		if got := caseOf(t, st, elsewhere.Post.ID); got.ID == c.ID {
			t.Errorf("the same text in another district was merged into %s", c.No)
		}
		if n := count(t, st, `SELECT count(*) FROM assignments WHERE case_id = $1`, c.ID); n != 2 {
			t.Errorf("assignments of merged case = %d, want the original 2", n)
		}
		replies, err := st.RepliesOf(ctx, again.Post.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(replies) != 1 || !strings.Contains(replies[0].Text, c.No) || !strings.Contains(replies[0].Text, "第2位") {
			t.Fatalf("repeat replies = %+v, want one quoting %s", replies, c.No)
		}
		first0, _ := st.RepliesOf(ctx, first.Post.ID)
		if len(first0) != 1 || first0[0].Text == replies[0].Text {
			t.Errorf("origin and repeat acks must differ (Weibo refuses repeats): %q vs %q", first0[0].Text, replies[0].Text)
		}
		if n := count(t, st, `SELECT count(*) FROM events WHERE kind = 'case.merged'`); n != 1 {
			t.Errorf("merge events = %d, want 1", n)
		}
		// Outside the window a repeat starts a new case.
		clk.Add(8 * 24 * time.Hour)
		late := decision(model.ChannelWeibo, "1005", "翠湖小区门口路灯坏了，晚上很黑", lightA, lightPlace, huashan, ldj)
		mustHandle(t, d, late)
		if got := caseOf(t, st, late.Post.ID); got.ID == c.ID {
			t.Errorf("a post 8 days later was merged into %s (window is 7 days)", c.No)
		}
	})
}

func TestUnmerge(t *testing.T) {
	t.Parallel()
	storetest.ForEachStore(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		clk := newFakeClock(start)
		d := newTestDispatcher(t, st, clk)
		first := decision(model.ChannelReplay, "a", "翠湖小区门口路灯坏了", lightA, lightPlace, huashan, ldj, cgj)
		again := decision(model.ChannelReplay, "b", "翠湖小区门口路灯不亮", lightB, lightPlace, huashan, ldj)
		mustHandle(t, d, first)
		clk.Add(time.Hour)
		mustHandle(t, d, again)
		orig := caseOf(t, st, first.Post.ID)
		if _, err := d.Unmerge(ctx, Actor{ID: "cgj"}, again.Post.ID, "不是同一盏灯"); !errors.Is(err, ErrForbidden) {
			t.Errorf("an assisting department undid a merge: %v", err)
		}
		if _, err := d.Unmerge(ctx, Actor{ID: "ldj"}, first.Post.ID, "x"); !errors.Is(err, ErrConflict) {
			t.Errorf("unmerging the origin: %v, want conflict", err)
		}
		if _, err := d.Unmerge(ctx, Actor{ID: "ldj"}, "replay:nope", "x"); !errors.Is(err, ErrNotFound) {
			t.Errorf("unmerging an unknown post: %v, want not found", err)
		}
		clk.Add(time.Hour)
		nc, err := d.Unmerge(ctx, Actor{ID: "ldj"}, again.Post.ID, "不是同一盏灯")
		if err != nil {
			t.Fatal(err)
		}
		if nc.ID == orig.ID || len(nc.PostIDs) != 1 || nc.PostIDs[0] != again.Post.ID || nc.Lead != "ldj" {
			t.Fatalf("new case = %+v", nc)
		}
		if o := caseOf(t, st, first.Post.ID); len(o.PostIDs) != 1 {
			t.Errorf("original case still has %v", o.PostIDs)
		}
		as, _ := st.ListAssignments(ctx, nil, store.AssignmentFilter{CaseID: nc.ID})
		if len(as) != 2 || as[0].Department != "ldj" || as[0].Role != model.RoleLead || !as[0].ClaimBy.Equal(clk.Now().Add(24*time.Hour)) {
			t.Errorf("assignments of the split case = %+v", as)
		}
		replies, _ := st.RepliesOf(ctx, again.Post.ID)
		if len(replies) != 2 || replies[1].Kind != store.ReplyProgress || !strings.Contains(replies[1].Text, nc.No) {
			t.Errorf("replies after unmerge = %+v, want a progress reply with %s", replies, nc.No)
		}
		if _, err := d.Unmerge(ctx, Actor{ID: "duty", Supervisor: true}, again.Post.ID, "again"); !errors.Is(err, ErrConflict) {
			t.Errorf("second unmerge: %v, want conflict", err)
		}
		// Redelivery of the split post's decision still changes nothing.
		mustHandle(t, d, again)
		if got := caseOf(t, st, again.Post.ID); got.ID != nc.ID {
			t.Errorf("redelivery moved the post to %s", got.No)
		}
	})
}

func TestTriageRoutedByHand(t *testing.T) {
	t.Parallel()
	storetest.ForEachStore(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		clk := newFakeClock(start)
		d := newTestDispatcher(t, st, clk)
		dec := decision(model.ChannelWeChat, "rec-1", "我家楼下有个东西坏了好久了", []string{"楼下", "东西", "坏"}, nil, huashan, cgj)
		dec.Lead, dec.Triage, dec.TriageReason, dec.Confidence = nil, true, "confidence 0.31 below 0.6", 0.31
		mustHandle(t, d, dec)
		mustHandle(t, d, dec)
		items, err := st.ListTriage(ctx, store.TriageWaiting, 0)
		if err != nil || len(items) != 1 || items[0].Reason != dec.TriageReason {
			t.Fatalf("triage = %+v, %v", items, err)
		}
		acks, _ := st.RepliesOf(ctx, dec.Post.ID)
		if len(acks) != 1 || !strings.Contains(acks[0].Text, "T-20261126-0001") || acks[0].Fields["character_string2"] != "T-20261126-0001" {
			t.Fatalf("triage ack = %+v", acks)
		}
		if n := count(t, st, `SELECT count(*) FROM cases`); n != 0 {
			t.Fatalf("a triage decision made %d cases", n)
		}
		if _, err := d.RouteTriage(ctx, Actor{ID: "cgj"}, dec.Post.ID, Route{Lead: "cgj", Reason: "x"}); !errors.Is(err, ErrForbidden) {
			t.Errorf("a department routed triage: %v", err)
		}
		sup := Actor{ID: "duty", Supervisor: true}
		if _, err := d.RouteTriage(ctx, sup, dec.Post.ID, Route{Lead: "nobody", Reason: "x"}); !errors.Is(err, ErrInvalid) {
			t.Errorf("routing to an unknown department: %v", err)
		}
		if _, err := d.RouteTriage(ctx, sup, dec.Post.ID, Route{Lead: "cgj"}); !errors.Is(err, ErrInvalid) {
			t.Errorf("routing without a reason: %v", err)
		}
		if _, err := d.RouteTriage(ctx, sup, "wechat:nope", Route{Lead: "cgj", Reason: "x"}); !errors.Is(err, ErrNotFound) {
			t.Errorf("routing an unknown post: %v", err)
		}
		clk.Add(30 * time.Minute)
		c, err := d.RouteTriage(ctx, sup, dec.Post.ID, Route{Lead: "cgj", Assist: []string{"ldj"}, Category: "市容", Reason: "电话回访确认是广告牌"})
		if err != nil {
			t.Fatal(err)
		}
		if c.Lead != "cgj" || c.Category != "市容" || len(c.PostIDs) != 1 {
			t.Fatalf("routed case = %+v", c)
		}
		it, _ := st.GetTriage(ctx, nil, dec.Post.ID)
		if it.State != store.TriageRouted || it.RoutedBy != "duty" || it.RoutedWhy != "电话回访确认是广告牌" || it.CaseID == nil || *it.CaseID != c.ID {
			t.Errorf("triage entry after routing = %+v", it)
		}
		replies, _ := st.RepliesOf(ctx, dec.Post.ID)
		if len(replies) != 2 || replies[1].Kind != store.ReplyProgress || replies[1].Fields["character_string2"] != c.No {
			t.Errorf("replies = %+v, want the ack then a progress reply with %s", replies, c.No)
		}
		if _, err := d.RouteTriage(ctx, sup, dec.Post.ID, Route{Lead: "cgj", Reason: "x"}); !errors.Is(err, ErrConflict) {
			t.Errorf("routing twice: %v, want conflict", err)
		}
		evs, _ := st.ListEvents(ctx, store.EventFilter{Kind: "triage.routed"})
		if len(evs) != 1 || evs[0].Actor != "duty" || !strings.Contains(string(evs[0].Detail), "电话回访") {
			t.Errorf("routing events = %+v", evs)
		}
	})
}

func TestCaseNumbersFollowShanghaiDays(t *testing.T) {
	t.Parallel()
	storetest.ForEachStore(t, func(t *testing.T, st *store.Store) {
		clk := newFakeClock(time.Date(2026, 11, 26, 15, 59, 0, 0, time.UTC)) // 23:59 in Shanghai
		d := newTestDispatcher(t, st, clk)
		want := []string{"MSB-20261126-0001", "MSB-20261127-0001", "MSB-20261127-0002"}
		for i, w := range want {
			dec := decision(model.ChannelReplay, fmt.Sprint("n", i), "问题", []string{fmt.Sprint("词", i)}, nil, huashan, cgj)
			dec.Category = fmt.Sprint("c", i)
			mustHandle(t, d, dec)
			if got := caseOf(t, st, dec.Post.ID).No; got != w {
				t.Errorf("case %d = %s, want %s", i, got, w)
			}
			clk.Add(2 * time.Minute)
		}
	})
}

func TestHandleOddText(t *testing.T) {
	t.Parallel()
	storetest.ForEachStore(t, func(t *testing.T, st *store.Store) {
		clk := newFakeClock(start)
		d := newTestDispatcher(t, st, clk)
		for i, text := range []string{
			"路灯\x00坏了", // NUL: PostgreSQL text refuses it
			"<a href='#'>#马上办#</a> 路灯坏了 😡😡 " + strings.Repeat("很黑", 2000), // HTML, emoji, huge
			"",
		} {
			dec := decision(model.ChannelWeibo, fmt.Sprint("odd", i), text, []string{"路灯\x00", "坏"}, nil, huashan, ldj)
			dec.Category = fmt.Sprint("odd", i)
			mustHandle(t, d, dec)
			rs, err := st.RepliesOf(context.Background(), dec.Post.ID)
			if err != nil || len(rs) != 1 {
				t.Fatalf("replies to %q: %+v, %v", text, rs, err)
			}
			checkWeibo(t, rs[0].Text, rs[0].CaseNo)
		}
	})
}
