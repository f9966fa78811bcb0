package dispatch

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/mashangban/mashangban/model"
	"github.com/mashangban/mashangban/store"
	"github.com/mashangban/mashangban/store/storetest"
)

// planned is one assignment of the seeded week as the test plans it; the
// expected report is computed from these plans alone.
type planned struct {
	dept                        string
	assist                      bool // an assisting department: no close step
	created                     time.Time
	claimBy, replyBy, closeBy   time.Time
	claimAt, replyAt, resolveAt *time.Time // planned actions (may lie after asOf: not done)
	transferAt                  *time.Time
	transferTo                  string
	id                          int64 // learned when the assignment exists
	caseIdx                     int
}

func at(t time.Time) *time.Time { return &t }

// done reports whether a planned action happened by asOf.
func done(p *time.Time, asOf time.Time) bool { return p != nil && !p.After(asOf) }

// nextTick is when the test's clock, ticking at :15 each hour, first runs
// strictly after t.
func nextTick(t time.Time) time.Time {
	tick := t.Truncate(time.Hour).Add(15 * time.Minute)
	if !tick.After(t) {
		tick = tick.Add(time.Hour)
	}
	return tick
}

func TestWeeklyReportMatchesSeededWeek(t *testing.T) {
	t.Parallel()
	storetest.ForEachStore(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		loc, _ := time.LoadLocation("Asia/Shanghai")
		from := time.Date(2026, 11, 23, 0, 0, 0, 0, loc) // a Monday
		to := from.AddDate(0, 0, 7)
		simStart := from.Add(-2 * 24 * time.Hour)
		asOf := to.Add(20*time.Hour + 50*time.Minute)
		clk := newFakeClock(simStart)
		d := New(st, Options{Now: clk.Now, Departments: testDepartments, Location: loc}, nil, nil)

		rng := rand.New(rand.NewPCG(7, 11))
		depts := []string{"ldj", "cgj", "gas", "fire"}
		hours := func(n int) time.Duration { return time.Duration(n) * time.Hour }
		type caseplan struct {
			created time.Time
			lead    string
			assist  string
			text    string
			no      string
			as      []*planned
		}
		var cases []*caseplan
		for i := range 45 {
			c := &caseplan{created: simStart.Add(hours(rng.IntN(9 * 24))), lead: depts[rng.IntN(len(depts))],
				text: fmt.Sprintf("第%d件：小区门口路灯坏了好几天，晚上很黑", i)}
			if i%3 == 0 {
				// Contact details the exposure list must not publish.
				c.text = fmt.Sprintf("路灯坏了，联系电话1391234%04d，身份证34050319900101%03dX，请尽快处理，谢谢！", i, i)
			}
			if rng.IntN(4) == 0 && c.lead != "cgj" {
				c.assist = "cgj"
			}
			for _, dep := range []string{c.lead, c.assist} {
				if dep == "" {
					continue
				}
				p := &planned{dept: dep, assist: dep == c.assist, created: c.created, caseIdx: i,
					claimBy: c.created.Add(24 * time.Hour), replyBy: c.created.Add(72 * time.Hour), closeBy: c.created.Add(168 * time.Hour)}
				c.as = append(c.as, p)
				if dep == c.lead && rng.IntN(8) == 0 {
					// Transferred before anyone claimed it; the receiver claims 3h later.
					p.transferAt = at(c.created.Add(hours(rng.IntN(30)) + 45*time.Minute))
					for p.transferTo == "" || p.transferTo == c.lead || p.transferTo == c.assist {
						p.transferTo = depts[rng.IntN(len(depts))]
					}
					n := &planned{dept: p.transferTo, created: *p.transferAt, caseIdx: i, claimBy: p.transferAt.Add(24 * time.Hour)}
					n.replyBy = maxTime(p.replyBy, n.claimBy)
					n.closeBy = maxTime(p.closeBy, n.replyBy)
					n.claimAt = at(p.transferAt.Add(3 * time.Hour))
					c.as = append(c.as, n)
					continue
				}
				if rng.IntN(7) == 0 {
					continue // never claimed
				}
				p.claimAt = at(c.created.Add(hours(rng.IntN(40)) + 45*time.Minute))
				if rng.IntN(5) == 0 {
					continue
				}
				p.replyAt = at(p.claimAt.Add(hours(1 + rng.IntN(90))))
				if rng.IntN(4) == 0 {
					continue
				}
				p.resolveAt = at(p.replyAt.Add(hours(1 + rng.IntN(120))))
			}
			cases = append(cases, c)
		}

		// Run the plan hour by hour: cases at :00, the clock at :15, the
		// departments act at :45.
		for h := simStart; h.Before(asOf); h = h.Add(time.Hour) {
			clk.Set(h)
			for i, c := range cases {
				if c.created.Equal(h) {
					dec := decision(model.ChannelReplay, fmt.Sprint("w", i), c.text, []string{fmt.Sprint("词", i)}, nil, huashan,
						model.Department{ID: c.lead})
					dec.Category = fmt.Sprint("cat", i) // never merged
					if c.assist != "" {
						dec.Assist = []model.Department{{ID: c.assist}}
					}
					mustHandle(t, d, dec)
					kase := caseOf(t, st, dec.Post.ID)
					cid := kase.ID
					c.no = kase.No
					as, err := st.ListAssignments(ctx, nil, store.AssignmentFilter{CaseID: cid})
					if err != nil {
						t.Fatal(err)
					}
					for _, a := range as {
						for _, p := range c.as {
							if p.dept == a.Department && p.created.Equal(c.created) {
								p.id = a.ID
							}
						}
					}
				}
			}
			if err := d.Tick(ctx, h.Add(15*time.Minute)); err != nil {
				t.Fatal(err)
			}
			act := h.Add(45 * time.Minute)
			if act.After(asOf) {
				break
			}
			clk.Set(act)
			for _, c := range cases {
				for _, p := range c.as {
					actor := Actor{ID: p.dept}
					var err error
					switch {
					case p.transferAt != nil && p.transferAt.Equal(act):
						var n store.Assignment
						n, err = d.Transfer(ctx, actor, p.id, p.transferTo, "不属本部门职责")
						for _, q := range c.as {
							if q.dept == p.transferTo && q.created.Equal(act) {
								q.id = n.ID
							}
						}
					case p.claimAt != nil && p.claimAt.Equal(act):
						_, err = d.Claim(ctx, actor, p.id)
					case p.replyAt != nil && p.replyAt.Equal(act):
						_, err = d.Reply(ctx, actor, p.id, "正在处理")
					case p.resolveAt != nil && p.resolveAt.Equal(act):
						_, err = d.Resolve(ctx, actor, p.id, "已办结")
					}
					if err != nil {
						t.Fatalf("%s on %d at %s: %v", p.dept, p.id, act, err)
					}
				}
			}
		}

		// Expected figures, from the plans only.
		names := map[string]string{"ldj": ldj.Name, "cgj": cgj.Name, "gas": gas.Name} // fire has none
		want := map[string]*ReportRow{}
		row := func(dep string) *ReportRow {
			if want[dep] == nil {
				want[dep] = &ReportRow{Department: dep, Name: names[dep]}
				if names[dep] == "" {
					want[dep].Name, want[dep].Unnamed = dep, true
				}
			}
			return want[dep]
		}
		wantExposed := map[string]ExposureItem{} // by case number and department
		inWeek := func(t time.Time) bool { return !t.Before(from) && t.Before(to) }
		for _, c := range cases {
			for _, p := range c.as {
				transferred := done(p.transferAt, asOf)
				claimed, replied, resolved := done(p.claimAt, asOf), done(p.replyAt, asOf), done(p.resolveAt, asOf)
				if inWeek(p.created) {
					r := row(p.dept)
					r.Received++
					if claimed && !p.claimAt.After(p.claimBy) {
						r.ClaimedOnTime++
					}
					if replied && !p.replyAt.After(p.replyBy) {
						r.RepliedOnTime++
					}
					if resolved && p.resolveAt.Sub(p.created) <= 7*24*time.Hour {
						r.ClosedInWeek++
					}
					if resolved {
						r.Resolved++
					}
					if transferred {
						r.Transferred++
					}
				}
				active := !transferred && !resolved
				overdue := active && ((!claimed && p.claimBy.Before(asOf)) || (claimed && !replied && p.replyBy.Before(asOf)) || (!p.assist && p.closeBy.Before(asOf)))
				if overdue {
					row(p.dept).OverdueNow++
				}
				// A card is issued at the first tick after a deadline the
				// step was still open at.
				openAt := func(doneAt *time.Time, deadline time.Time) bool {
					return !(doneAt != nil && !doneAt.After(deadline)) && !(p.transferAt != nil && !p.transferAt.After(deadline))
				}
				card := func(doneAt *time.Time, deadline time.Time, n *int) bool {
					if tick := nextTick(deadline); openAt(doneAt, deadline) && !tick.After(asOf) && inWeek(tick) {
						*n++
						return true
					}
					return false
				}
				r := row(p.dept)
				card(p.claimAt, p.claimBy, &r.Yellow)
				orange := card(p.replyAt, p.replyBy, &r.Orange)
				red := !p.assist && card(p.resolveAt, p.closeBy, &r.Red) // closing is the lead's
				if !orange && !red && !overdue {
					continue
				}
				// Exposed: lateness against the most serious deadline missed,
				// until the step was done, the work ended, or asOf.
				e := ExposureItem{CaseNo: c.no, Department: p.dept, Name: row(p.dept).Name, Unnamed: row(p.dept).Unnamed}
				switch {
				case red:
					e.Card = "red"
				case orange:
					e.Card = "orange"
				}
				end := asOf
				switch {
				case resolved:
					end = *p.resolveAt
				case transferred:
					end = *p.transferAt
				}
				for _, step := range []struct {
					name     string
					deadline time.Time
					at       *time.Time
				}{{"close", p.closeBy, p.resolveAt}, {"reply", p.replyBy, p.replyAt}, {"claim", p.claimBy, p.claimAt}} {
					if step.name == "close" && p.assist {
						continue
					}
					stop := end
					if done(step.at, asOf) && step.at.Before(end) {
						stop = *step.at
					}
					if late := stop.Sub(step.deadline); late > 0 {
						e.Step, e.DaysLate = step.name, int(math.Ceil(late.Hours()/24))
						e.StillOverdue = active && stop.Equal(asOf)
						break
					}
				}
				wantExposed[c.no+" "+p.dept] = e
			}
		}

		got, err := BuildReport(ctx, st, time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC), asOf, loc, names)
		if err != nil {
			t.Fatal(err)
		}
		if !got.WeekStart.Equal(from) || !got.WeekEnd.Equal(to) {
			t.Fatalf("week = %s..%s, want %s..%s", got.WeekStart, got.WeekEnd, from, to)
		}
		gotRows := map[string]ReportRow{}
		for _, r := range got.Rows {
			gotRows[r.Department] = r
		}
		var deps []string
		for dep := range want {
			deps = append(deps, dep)
		}
		sort.Strings(deps)
		total := 0
		for _, dep := range deps {
			w := *want[dep]
			w.Handled = w.Received - w.Transferred
			if w.Handled > 0 {
				w.CompletionRate = float64(w.Resolved) / float64(w.Handled)
			}
			w.MeetsTarget = w.Handled > 0 && w.CompletionRate >= 0.95
			if g := gotRows[dep]; g != w {
				t.Errorf("%s:\n got %+v\nwant %+v", dep, g, w)
			}
			total += w.Received
		}
		if got.Total.Received != total || total == 0 {
			t.Errorf("total received = %d, want %d (> 0)", got.Total.Received, total)
		}
		if len(got.Rows) != len(want) || !gotRows["fire"].Unnamed || gotRows["cgj"].Name != cgj.Name {
			t.Errorf("rows = %+v: want %d, fire unnamed, cgj named", got.Rows, len(want))
		}

		if len(got.Exposure) != len(wantExposed) {
			t.Errorf("exposed %d assignments, want %d", len(got.Exposure), len(wantExposed))
		}
		red := 0
		for i, e := range got.Exposure {
			w, ok := wantExposed[e.CaseNo+" "+e.Department]
			if !ok {
				t.Errorf("exposed %s %s, not planned to be", e.CaseNo, e.Department)
				continue
			}
			if e.Card != w.Card || e.Step != w.Step || e.DaysLate != w.DaysLate || e.StillOverdue != w.StillOverdue || e.Name != w.Name || e.Unnamed != w.Unnamed {
				t.Errorf("exposed %s %s:\n got %+v\nwant %+v", e.CaseNo, e.Department, e, w)
			}
			if longDigits.MatchString(e.Words) {
				t.Errorf("exposed words carry a long number: %q", e.Words)
			}
			if e.Card == "red" {
				red++
			}
			// Red cards first, then orange, then the merely overdue; the
			// longest late first within each.
			if i > 0 {
				rank := map[string]int{"red": 2, "orange": 1}
				p := got.Exposure[i-1]
				if rank[p.Card] < rank[e.Card] || (rank[p.Card] == rank[e.Card] && p.DaysLate < e.DaysLate) {
					t.Errorf("exposure order: %+v before %+v", p, e)
				}
			}
		}
		if got.Total.Red == 0 || got.Total.Orange == 0 || red == 0 || len(got.Exposure) == 0 {
			t.Errorf("the seeded week should have red and orange cards and exposed work: total %+v, exposed %d", got.Total, len(got.Exposure))
		}
		t.Logf("seeded week: %d assignments received, %d exposed, total row %+v", total, len(got.Exposure), got.Total)

		// No merges in this week: every post opened its own case.
		opened := 0
		for _, c := range cases {
			if inWeek(c.created) {
				opened++
			}
		}
		if sp := got.Special; sp.ThisWeek != (WeekFigures{Posts: opened, NewCases: opened}) || len(sp.Repeated) != 0 {
			t.Errorf("special this week = %+v, repeated %v; want %d new cases, no repeats", sp.ThisWeek, sp.Repeated, opened)
		}
		checkFormats(t, got)
	})
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func TestLastFullWeek(t *testing.T) {
	t.Parallel()
	loc, _ := time.LoadLocation("Asia/Shanghai")
	for _, tt := range []struct {
		now  time.Time
		want string
	}{
		{time.Date(2026, 11, 26, 1, 0, 0, 0, time.UTC), "2026-11-16"},   // Thursday
		{time.Date(2026, 11, 29, 17, 0, 0, 0, time.UTC), "2026-11-23"},  // Monday 01:00 in Shanghai
		{time.Date(2026, 11, 29, 15, 59, 0, 0, time.UTC), "2026-11-16"}, // Sunday 23:59 in Shanghai
	} {
		if got := LastFullWeek(tt.now, loc).Format("2006-01-02"); got != tt.want {
			t.Errorf("LastFullWeek(%s) = %s, want %s", tt.now, got, tt.want)
		}
	}
}
