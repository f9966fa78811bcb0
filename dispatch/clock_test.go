package dispatch

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mashangban/mashangban/model"
	"github.com/mashangban/mashangban/store"
	"github.com/mashangban/mashangban/store/storetest"
)

// notices lists "department:kind" of every issued notice, sorted.
func notices(t *testing.T, st *store.Store) []string {
	t.Helper()
	rows, err := st.DB.Query(context.Background(), `SELECT department, kind FROM notices ORDER BY department, kind`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var d, k string
		if err := rows.Scan(&d, &k); err != nil {
			t.Fatal(err)
		}
		out = append(out, d+":"+k)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func TestClockIssuesEachNoticeOnceAcrossRestart(t *testing.T) {
	t.Parallel()
	storetest.ForEachStore(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		clk := newFakeClock(start)
		d := newTestDispatcher(t, st, clk)
		mustHandle(t, d, decision(model.ChannelReplay, "c1", "路灯坏了", []string{"路灯", "坏"}, nil, huashan, ldj, cgj))
		as, _ := st.ListAssignments(ctx, nil, store.AssignmentFilter{})
		lead, assist := as[0], as[1]
		h := func(n float64) time.Time { return start.Add(time.Duration(n * float64(time.Hour))) }
		steps := []struct {
			at   time.Time
			do   func(d *Dispatcher)
			want []string // all notices issued so far
		}{
			{at: h(19), want: nil},
			{at: h(21), want: []string{"cgj:remind_claim", "ldj:remind_claim"}},
			{at: h(22), do: func(d *Dispatcher) {
				if _, err := d.Claim(ctx, Actor{ID: "ldj"}, lead.ID); err != nil {
					t.Fatal(err)
				}
			}, want: []string{"cgj:remind_claim", "ldj:remind_claim"}},
			{at: h(25), want: []string{"cgj:remind_claim", "cgj:yellow", "ldj:remind_claim"}},
			{at: h(26), want: []string{"cgj:remind_claim", "cgj:yellow", "ldj:remind_claim"}},
			{at: h(69), want: []string{"cgj:remind_claim", "cgj:remind_reply", "cgj:yellow", "ldj:remind_claim", "ldj:remind_reply"}},
			{at: h(73), want: []string{"cgj:orange", "cgj:remind_claim", "cgj:remind_reply", "cgj:yellow", "ldj:orange", "ldj:remind_claim", "ldj:remind_reply"}},
			{at: h(74), do: func(d *Dispatcher) {
				if _, err := d.Reply(ctx, Actor{ID: "ldj"}, lead.ID, "已安排维修"); err != nil {
					t.Fatal(err)
				}
			}, want: []string{"cgj:orange", "cgj:remind_claim", "cgj:remind_reply", "cgj:yellow", "ldj:orange", "ldj:remind_claim", "ldj:remind_reply"}},
			// Closing is the lead's: the assisting department gets no red card.
			{at: h(7*24 + 1), want: []string{"cgj:orange", "cgj:remind_claim", "cgj:remind_reply", "cgj:yellow",
				"ldj:orange", "ldj:red", "ldj:remind_claim", "ldj:remind_reply"}},
		}
		for i, s := range steps {
			clk.Set(s.at)
			if s.do != nil {
				s.do(d)
			}
			// Two dispatchers tick at once, then the process "restarts":
			// a new Dispatcher on the same store ticks again.
			var wg sync.WaitGroup
			for _, x := range []*Dispatcher{d, newTestDispatcher(t, st, clk)} {
				wg.Go(func() {
					if err := x.Tick(ctx, s.at); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			d = newTestDispatcher(t, st, clk)
			if err := d.Tick(ctx, s.at); err != nil {
				t.Fatal(err)
			}
			if got := notices(t, st); strings.Join(got, " ") != strings.Join(s.want, " ") {
				t.Fatalf("step %d (%s): notices\n got %v\nwant %v", i, s.at.Sub(start), got, s.want)
			}
		}
		// No tick fell within 4h before the close deadline: red cards, no
		// close reminders.
		evs, _ := st.ListEvents(ctx, store.EventFilter{})
		kinds := map[string]int{}
		for _, e := range evs {
			kinds[e.Kind]++
		}
		if kinds["card.yellow"] != 1 || kinds["card.orange"] != 2 || kinds["card.red"] != 1 || kinds["reminder.claim"] != 2 {
			t.Errorf("audit events by kind = %v", kinds)
		}
		a, _ := st.GetAssignment(ctx, nil, assist.ID)
		if fmt.Sprint(a.Cards) != "[yellow orange]" {
			t.Errorf("assist cards = %v", a.Cards)
		}
	})
}

func TestClockCatchesUpAfterDowntime(t *testing.T) {
	t.Parallel()
	storetest.ForEachStore(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		clk := newFakeClock(start)
		d := newTestDispatcher(t, st, clk)
		mustHandle(t, d, decision(model.ChannelReplay, "c1", "路灯坏了", []string{"路灯", "坏"}, nil, huashan, ldj))
		// Down for nine days: one tick issues every card, no stale reminder.
		if err := newTestDispatcher(t, st, clk).Tick(ctx, start.Add(9*24*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(notices(t, st), " "); got != "ldj:orange ldj:red ldj:yellow" {
			t.Errorf("notices after downtime = %s", got)
		}
	})
}

func TestTransferFairClock(t *testing.T) {
	t.Parallel()
	storetest.ForEachStore(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		clk := newFakeClock(start)
		d := newTestDispatcher(t, st, clk)
		mustHandle(t, d, decision(model.ChannelReplay, "c1", "燃气味很重", []string{"燃气", "味"}, nil, huashan, cgj))
		mustHandle(t, d, decision(model.ChannelReplay, "c2", "楼道堆物", []string{"楼道", "堆物"}, nil, yushan, cgj))
		as, _ := st.ListAssignments(ctx, nil, store.AssignmentFilter{})
		early, late := as[0], as[1]

		clk.Set(start.Add(20 * time.Hour))
		n, err := d.Transfer(ctx, Actor{ID: "cgj"}, early.ID, "gas", "燃气归燃气公司")
		if err != nil {
			t.Fatal(err)
		}
		if n.Department != "gas" || n.State != model.AssignmentPending || n.TransferredFrom == nil || *n.TransferredFrom != early.ID ||
			!n.ClaimBy.Equal(start.Add(44*time.Hour)) || !n.ReplyBy.Equal(early.ReplyBy) || !n.CloseBy.Equal(early.CloseBy) ||
			n.PolicyVersion != early.PolicyVersion {
			t.Errorf("early transfer: %+v", n)
		}
		if c := caseOf(t, st, "replay:c1"); c.Lead != "gas" {
			t.Errorf("case lead after transfer = %q", c.Lead)
		}
		// At 25h the original claim deadline has passed: the transferring
		// department earns no card any more, the receiver is within its window.
		if err := d.Tick(ctx, start.Add(25*time.Hour)); err != nil {
			t.Fatal(err)
		}
		for _, x := range notices(t, st) {
			if x == "cgj:yellow" && count(t, st, `SELECT count(*) FROM notices WHERE assignment_id = $1 AND kind = 'yellow'`, early.ID) > 0 {
				t.Errorf("the transferred assignment got a yellow card")
			}
			if x == "gas:yellow" {
				t.Errorf("the receiver got a yellow card inside its fresh claim window")
			}
		}

		// A transfer late in the week pushes reply and close only as far as
		// the fresh claim window needs. cgj claimed the second one on day 1.
		if _, err := d.Claim(ctx, Actor{ID: "cgj"}, late.ID); err != nil {
			t.Fatal(err)
		}
		at := start.Add(6*24*time.Hour + 12*time.Hour)
		clk.Set(at)
		n2, err := d.Transfer(ctx, Actor{ID: "cgj"}, late.ID, "fire", "消防通道归消防")
		if err != nil {
			t.Fatal(err)
		}
		if want := at.Add(24 * time.Hour); !n2.ClaimBy.Equal(want) || !n2.ReplyBy.Equal(want) || !n2.CloseBy.Equal(want) {
			t.Errorf("late transfer deadlines = %s %s %s, want all %s", n2.ClaimBy, n2.ReplyBy, n2.CloseBy, want)
		}
		old, _ := st.GetAssignment(ctx, nil, late.ID)
		if old.State != model.AssignmentTransferred || old.TransferredTo != "fire" {
			t.Errorf("old assignment = %+v", old)
		}
		// cgj's orange for the missed reply (day 3) was issued at the transfer,
		// though the clock had not ticked since: it was earned.
		if err := d.Tick(ctx, at); err != nil {
			t.Fatal(err)
		}
		if n := count(t, st, `SELECT count(*) FROM notices WHERE assignment_id = $1 AND kind = 'orange'`, late.ID); n != 1 {
			t.Errorf("orange cards of the transferring department = %d, want 1", n)
		}
		if err := d.Tick(ctx, at.Add(23*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if n := count(t, st, `SELECT count(*) FROM notices WHERE department = 'fire' AND kind IN ('yellow', 'orange', 'red')`); n != 0 {
			t.Errorf("receiver carded within its window: %d", n)
		}
		if n := count(t, st, `SELECT count(*) FROM notices WHERE department = 'cgj' AND kind = 'red'`); n != 0 {
			t.Errorf("transferring department carded after the transfer: %d red", n)
		}
	})
}

func TestClockConfiguredNotices(t *testing.T) {
	t.Parallel()
	storetest.ForEachStore(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		clk := newFakeClock(start)
		d := New(st, Options{Now: clk.Now, Departments: testDepartments, NoCards: []model.Card{model.CardOrange}, ReminderLead: -1}, nil, nil)
		mustHandle(t, d, decision(model.ChannelReplay, "c1", "路灯坏了", []string{"路灯", "坏"}, nil, huashan, ldj))
		for h := 1; h <= 9*24; h++ {
			if err := d.Tick(ctx, start.Add(time.Duration(h)*time.Hour+time.Minute)); err != nil {
				t.Fatal(err)
			}
		}
		if got := strings.Join(notices(t, st), " "); got != "ldj:red ldj:yellow" {
			t.Errorf("notices = %s, want only yellow and red (orange and reminders off)", got)
		}
	})
}

func TestClockCardsAssistOnlyForItsOwnDeadlines(t *testing.T) {
	t.Parallel()
	storetest.ForEachStore(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		clk := newFakeClock(start)
		d := newTestDispatcher(t, st, clk)
		mustHandle(t, d, decision(model.ChannelReplay, "a1", "路灯坏了", []string{"路灯", "坏"}, nil, huashan, ldj, cgj, fire))
		as, _ := st.ListAssignments(ctx, nil, store.AssignmentFilter{})
		lead, onTime, late := as[0], as[1], as[2]
		h := func(n int) time.Time { return start.Add(time.Duration(n) * time.Hour) }
		act := func(at time.Time, f func() (store.Assignment, error)) {
			t.Helper()
			clk.Set(at)
			if _, err := f(); err != nil {
				t.Fatal(err)
			}
		}
		// cgj assists on time; fire claims late and replies late; the lead
		// claims and replies on time but never closes.
		act(h(2), func() (store.Assignment, error) { return d.Claim(ctx, Actor{ID: "cgj"}, onTime.ID) })
		act(h(3), func() (store.Assignment, error) {
			return d.Reply(ctx, Actor{ID: "cgj"}, onTime.ID, "已配合现场核查")
		})
		act(h(4), func() (store.Assignment, error) { return d.Claim(ctx, Actor{ID: "ldj"}, lead.ID) })
		act(h(5), func() (store.Assignment, error) { return d.Reply(ctx, Actor{ID: "ldj"}, lead.ID, "已安排维修") })
		act(h(30), func() (store.Assignment, error) { return d.Claim(ctx, Actor{ID: "fire"}, late.ID) })
		act(h(80), func() (store.Assignment, error) {
			return d.Reply(ctx, Actor{ID: "fire"}, late.ID, "已检查消防设施")
		})
		for n := 6; n <= 10*24; n += 6 {
			if err := d.Tick(ctx, h(n)); err != nil {
				t.Fatal(err)
			}
		}
		cards := map[int64]string{}
		for _, a := range []store.Assignment{lead, onTime, late} {
			got, err := st.GetAssignment(ctx, nil, a.ID)
			if err != nil {
				t.Fatal(err)
			}
			cards[a.ID] = fmt.Sprint(got.Cards)
		}
		if cards[lead.ID] != "[red]" {
			t.Errorf("lead's cards = %s, want [red] for the missed close", cards[lead.ID])
		}
		if cards[onTime.ID] != "[]" {
			t.Errorf("on-time assistant's cards = %s, want none for the lead's lateness", cards[onTime.ID])
		}
		if cards[late.ID] != "[yellow orange]" {
			t.Errorf("late assistant's cards = %s, want [yellow orange] for its own claim and reply", cards[late.ID])
		}
		if n := count(t, st, `SELECT count(*) FROM notices WHERE kind = 'remind_close' AND department <> 'ldj'`); n != 0 {
			t.Errorf("close reminders to assistants = %d", n)
		}
	})
}

func TestReminderAtAFractionOfAShortDeadline(t *testing.T) {
	t.Parallel()
	storetest.ForEachStore(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		clk := newFakeClock(start)
		// remind_before (6h) is longer than the urgent route's claim (2h)
		// and reply (4h) deadlines.
		d := New(st, Options{Now: clk.Now, Departments: testDepartments, ReminderLead: 6 * time.Hour}, nil, nil)
		dec := decision(model.ChannelReplay, "u1", "燃气泄漏", []string{"燃气", "泄漏"}, nil, huashan, gas)
		dec.Priority = model.PriorityUrgent
		dec.SLA = &model.SLA{Claim: model.Duration(2 * time.Hour), Reply: model.Duration(4 * time.Hour), Close: model.Duration(24 * time.Hour)}
		mustHandle(t, d, dec)
		for m := 1; m <= 25*60; m += 5 {
			if err := d.Tick(ctx, start.Add(time.Duration(m)*time.Minute)); err != nil {
				t.Fatal(err)
			}
		}
		issued := map[string]time.Duration{}
		rows, err := st.DB.Query(ctx, `SELECT kind, issued_at FROM notices`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var kind string
			var at time.Time
			if err := rows.Scan(&kind, &at); err != nil {
				t.Fatal(err)
			}
			issued[kind] = at.Sub(start)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		// Ticks every five minutes from 1m: the first tick at or after two
		// thirds of each short deadline; the week-long close keeps its 6h lead.
		for kind, want := range map[string]time.Duration{
			store.NoticeRemindClaim: 81 * time.Minute,           // 2/3 of 2h = 80m
			store.NoticeRemindReply: 161 * time.Minute,          // 2/3 of 4h = 160m
			store.NoticeRemindClose: 18*time.Hour + time.Minute, // 24h - 6h
			store.NoticeYellow:      2*time.Hour + time.Minute,
			store.NoticeOrange:      4*time.Hour + time.Minute,
			store.NoticeRed:         24*time.Hour + time.Minute,
		} {
			if got, ok := issued[kind]; !ok || got != want {
				t.Errorf("%s issued at %s after opening (issued: %v), want %s", kind, got, ok, want)
			}
		}
	})
}
