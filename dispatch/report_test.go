package dispatch

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
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
			as      []*planned
		}
		var cases []*caseplan
		for i := range 45 {
			c := &caseplan{created: simStart.Add(hours(rng.IntN(9 * 24))), lead: depts[rng.IntN(len(depts))]}
			if rng.IntN(4) == 0 && c.lead != "cgj" {
				c.assist = "cgj"
			}
			for _, dep := range []string{c.lead, c.assist} {
				if dep == "" {
					continue
				}
				p := &planned{dept: dep, created: c.created, caseIdx: i,
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
					dec := decision(model.ChannelReplay, fmt.Sprint("w", i), "问题", []string{fmt.Sprint("词", i)}, nil, huashan,
						model.Department{ID: c.lead})
					dec.Category = fmt.Sprint("cat", i) // never merged
					if c.assist != "" {
						dec.Assist = []model.Department{{ID: c.assist}}
					}
					mustHandle(t, d, dec)
					cid := caseOf(t, st, dec.Post.ID).ID
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
		want := map[string]*ReportRow{}
		row := func(dep string) *ReportRow {
			if want[dep] == nil {
				want[dep] = &ReportRow{Department: dep}
			}
			return want[dep]
		}
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
				if active && ((!claimed && p.claimBy.Before(asOf)) || (claimed && !replied && p.replyBy.Before(asOf)) || p.closeBy.Before(asOf)) {
					row(p.dept).OverdueNow++
				}
				// A card is issued at the first tick after a deadline the
				// step was still open at.
				openAt := func(doneAt *time.Time, deadline time.Time) bool {
					return !(doneAt != nil && !doneAt.After(deadline)) && !(p.transferAt != nil && !p.transferAt.After(deadline))
				}
				card := func(doneAt *time.Time, deadline time.Time, n *int) {
					if tick := nextTick(deadline); openAt(doneAt, deadline) && !tick.After(asOf) && inWeek(tick) {
						*n++
					}
				}
				r := row(p.dept)
				card(p.claimAt, p.claimBy, &r.Yellow)
				card(p.replyAt, p.replyBy, &r.Orange)
				card(p.resolveAt, p.closeBy, &r.Red)
			}
		}

		got, err := BuildReport(ctx, st, time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC), asOf, loc, nil)
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
			w.CompletionRate = ratio(w.Resolved, w.Received-w.Transferred)
			g := gotRows[dep]
			g.Name = ""
			if g != w {
				t.Errorf("%s:\n got %+v\nwant %+v", dep, g, w)
			}
			total += w.Received
		}
		if got.Total.Received != total || total == 0 {
			t.Errorf("total received = %d, want %d (> 0)", got.Total.Received, total)
		}
		t.Logf("seeded week: %d assignments received, total row %+v", total, got.Total)

		// The CSV carries the same numbers.
		var buf bytes.Buffer
		if err := got.WriteCSV(&buf); err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(&buf).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != len(got.Rows)+2 || strings.Join(recs[0], ",") != strings.Join(reportColumns, ",") ||
			recs[len(recs)-1][0] != "total" || recs[len(recs)-1][2] != fmt.Sprint(total) {
			t.Errorf("csv = %v", recs)
		}
		buf.Reset()
		if err := got.WriteMarkdown(&buf); err != nil {
			t.Fatal(err)
		}
		if md := buf.String(); !strings.Contains(md, "2026-11-23 至 2026-11-29") || strings.Count(md, "\n| ") != len(got.Rows)+2 {
			t.Errorf("markdown:\n%s", md)
		}
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
