package dispatch

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/mashangban/mashangban/model"
	"github.com/mashangban/mashangban/store"
)

// Report is the weekly feedback per department ("一周一反馈"): what each
// department received in the week and how it kept its deadlines.
type Report struct {
	WeekStart time.Time   `json:"week_start"` // midnight, local time
	WeekEnd   time.Time   `json:"week_end"`   // exclusive
	AsOf      time.Time   `json:"as_of"`      // when states and "overdue now" were read
	Rows      []ReportRow `json:"departments"`
	Total     ReportRow   `json:"total"`
}

// ReportRow is one department's line.
type ReportRow struct {
	Department string `json:"department"`
	Name       string `json:"name,omitempty"`
	// Received: assignments created in the week, transfers in included.
	Received int `json:"received"`
	// ClaimedOnTime, RepliedOnTime: of those, claimed (first reply given) by
	// the deadline. ClosedInWeek: resolved within 7 days of creation.
	ClaimedOnTime int `json:"claimed_on_time"`
	RepliedOnTime int `json:"replied_on_time"`
	ClosedInWeek  int `json:"closed_within_week"`
	// Transferred: handed on to another department; Resolved: resolved by AsOf.
	Transferred int `json:"transferred"`
	Resolved    int `json:"resolved"`
	// OverdueNow: active assignments (any week) past the deadline of their
	// current step at AsOf.
	OverdueNow int `json:"overdue_now"`
	// Cards issued in the week, whatever week the assignment is from.
	Yellow int `json:"yellow_cards"`
	Orange int `json:"orange_cards"`
	Red    int `json:"red_cards"`
	// CompletionRate is Resolved / (Received - Transferred), 0 when nothing
	// was received.
	CompletionRate float64 `json:"completion_rate"`
}

// Cards is the number of cards of all colours.
func (r ReportRow) Cards() int { return r.Yellow + r.Orange + r.Red }

// BuildReport builds the report for the 7 days starting on weekStart's
// calendar date, midnight in loc (nil: Asia/Shanghai), reading states at asOf; names maps department
// IDs to names.
func BuildReport(ctx context.Context, st *store.Store, weekStart, asOf time.Time, loc *time.Location, names map[string]string) (Report, error) {
	if loc == nil {
		loc = model.Shanghai
	}
	// The calendar date of weekStart as written (a parsed "2026-11-23" is
	// that date whatever its zone) names the first local day.
	y, m, day := weekStart.Date()
	from := time.Date(y, m, day, 0, 0, 0, 0, loc)
	to := from.AddDate(0, 0, 7)
	r := Report{WeekStart: from, WeekEnd: to, AsOf: asOf}
	counts, err := st.WeekAssignmentCounts(ctx, from, to, asOf)
	if err != nil {
		return Report{}, err
	}
	overdue, err := st.OverdueCounts(ctx, asOf)
	if err != nil {
		return Report{}, err
	}
	cards, err := st.CardCounts(ctx, from, to)
	if err != nil {
		return Report{}, err
	}
	rows := map[string]*ReportRow{}
	row := func(dep string) *ReportRow {
		if rows[dep] == nil {
			rows[dep] = &ReportRow{Department: dep, Name: names[dep]}
		}
		return rows[dep]
	}
	for _, c := range counts {
		x := row(c.Department)
		x.Received, x.ClaimedOnTime, x.RepliedOnTime, x.ClosedInWeek = c.Received, c.ClaimedOnTime, c.RepliedOnTime, c.ClosedInWeek
		x.Resolved, x.Transferred = c.Resolved, c.TransferredOut
	}
	for dep, n := range overdue {
		row(dep).OverdueNow = n
	}
	for dep, byKind := range cards {
		x := row(dep)
		x.Yellow, x.Orange, x.Red = byKind[store.NoticeYellow], byKind[store.NoticeOrange], byKind[store.NoticeRed]
	}
	t := ReportRow{Department: "total", Name: "合计"}
	for _, x := range rows {
		x.CompletionRate = ratio(x.Resolved, x.Received-x.Transferred)
		r.Rows = append(r.Rows, *x)
		t.Received += x.Received
		t.ClaimedOnTime += x.ClaimedOnTime
		t.RepliedOnTime += x.RepliedOnTime
		t.ClosedInWeek += x.ClosedInWeek
		t.Transferred += x.Transferred
		t.Resolved += x.Resolved
		t.OverdueNow += x.OverdueNow
		t.Yellow += x.Yellow
		t.Orange += x.Orange
		t.Red += x.Red
	}
	t.CompletionRate = ratio(t.Resolved, t.Received-t.Transferred)
	r.Total = t
	slices.SortFunc(r.Rows, func(a, b ReportRow) int {
		if a.Received != b.Received {
			return b.Received - a.Received
		}
		if a.Department < b.Department {
			return -1
		}
		if a.Department > b.Department {
			return 1
		}
		return 0
	})
	return r, nil
}

func ratio(n, d int) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / float64(d)
}

var reportColumns = []string{"department", "name", "received", "claimed_on_time", "replied_on_time", "closed_within_week",
	"transferred", "resolved", "overdue_now", "yellow_cards", "orange_cards", "red_cards", "completion_rate"}

func (r ReportRow) cells() []string {
	return []string{r.Department, r.Name, strconv.Itoa(r.Received), strconv.Itoa(r.ClaimedOnTime), strconv.Itoa(r.RepliedOnTime),
		strconv.Itoa(r.ClosedInWeek), strconv.Itoa(r.Transferred), strconv.Itoa(r.Resolved), strconv.Itoa(r.OverdueNow),
		strconv.Itoa(r.Yellow), strconv.Itoa(r.Orange), strconv.Itoa(r.Red), strconv.FormatFloat(r.CompletionRate, 'f', 3, 64)}
}

// WriteCSV writes one header line and one line per department, then the total.
func (r Report) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(reportColumns); err != nil {
		return err
	}
	for _, x := range append(slices.Clone(r.Rows), r.Total) {
		if err := cw.Write(x.cells()); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// WriteMarkdown writes the report as the city's weekly briefing table.
func (r Report) WriteMarkdown(w io.Writer) error {
	last := r.WeekEnd.AddDate(0, 0, -1)
	if _, err := fmt.Fprintf(w, "# 马上办一周一反馈 %s 至 %s\n\n统计时间 %s。超期为统计时仍未完成当前环节的办件。\n\n",
		r.WeekStart.Format("2006-01-02"), last.Format("2006-01-02"), r.AsOf.In(r.WeekStart.Location()).Format("2006-01-02 15:04")); err != nil {
		return err
	}
	if _, err := io.WriteString(w, "| 部门 | 收到 | 按时签收 | 按时答复 | 一周内办结 | 转办 | 已办结 | 当前超期 | 黄牌 | 橙牌 | 红牌 | 办结率 |\n"+
		"|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"); err != nil {
		return err
	}
	for _, x := range append(slices.Clone(r.Rows), r.Total) {
		name := x.Name
		if name == "" {
			name = x.Department
		}
		if _, err := fmt.Fprintf(w, "| %s | %d | %d | %d | %d | %d | %d | %d | %d | %d | %d | %.1f%% |\n", mdEscape(name),
			x.Received, x.ClaimedOnTime, x.RepliedOnTime, x.ClosedInWeek, x.Transferred, x.Resolved, x.OverdueNow,
			x.Yellow, x.Orange, x.Red, 100*x.CompletionRate); err != nil {
			return err
		}
	}
	return nil
}

func mdEscape(s string) string {
	out := make([]rune, 0, len(s))
	for _, r := range s {
		if r == '|' {
			out = append(out, '\\')
		}
		out = append(out, r)
	}
	return string(out)
}
