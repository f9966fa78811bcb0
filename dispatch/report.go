package dispatch

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mashangban/mashangban/model"
	"github.com/mashangban/mashangban/privacy"
	"github.com/mashangban/mashangban/store"
)

// Target is the share of a department's assignments the city expects closed
// ("事件办结率95%以上").
const Target = 0.95

// How many lines each list of the special report keeps.
const specialTop = 10

// wordsMax is how many characters of the citizen's words the exposure list
// and the repeated-problem list show.
const wordsMax = 40

// Report is the city's weekly report on the 马上办 channel, in the three
// parts its office publishes ("一周一反馈、一周一曝光、一周一专报"):
// per-department feedback, the exposure of late cases, and the special
// report on what citizens raised.
type Report struct {
	WeekStart time.Time `json:"week_start"` // Monday midnight, local time
	WeekEnd   time.Time `json:"week_end"`   // the next Monday midnight (exclusive)
	AsOf      time.Time `json:"as_of"`      // when states and "overdue now" were read
	Target    float64   `json:"target"`     // completion rate the city expects
	// Rows is the feedback ("反馈"), one line per department, most received first.
	Rows  []ReportRow `json:"departments"`
	Total ReportRow   `json:"total"`
	// Exposure ("曝光"): assignments that earned an orange or red card in
	// the week, or are overdue at AsOf; most serious first.
	Exposure []ExposureItem `json:"exposure"`
	Special  Special        `json:"special"`
}

// ReportRow is one department's line.
type ReportRow struct {
	Department string `json:"department"`
	// Name is the department's name, or its ID when the names given to
	// BuildReport have none (then Unnamed is set).
	Name    string `json:"name"`
	Unnamed bool   `json:"unnamed,omitempty"`
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
	// Handled is Received - Transferred: what the department itself had to
	// close. CompletionRate is Resolved / Handled (0 when Handled is 0);
	// MeetsTarget says whether it reaches Target.
	Handled        int     `json:"handled"`
	CompletionRate float64 `json:"completion_rate"`
	MeetsTarget    bool    `json:"meets_target"`
}

// Cards is the number of cards of all colours.
func (r ReportRow) Cards() int { return r.Yellow + r.Orange + r.Red }

// ExposureItem is one department's late work on one case.
type ExposureItem struct {
	CaseNo     string `json:"case_no"`
	Department string `json:"department"`
	Name       string `json:"name"`
	Unnamed    bool   `json:"unnamed,omitempty"`
	// Card is the most serious card earned in the week: "red", "orange",
	// or "" for work that is only overdue.
	Card string `json:"card,omitempty"`
	// Step is the most serious deadline missed (close, reply, claim) and
	// Deadline that deadline; DaysLate counts whole days past it until the
	// step was done or, if it still is not (StillOverdue), until AsOf. A part
	// of a day counts as a day.
	Step         string    `json:"step"`
	Deadline     time.Time `json:"deadline"`
	DaysLate     int       `json:"days_late"`
	StillOverdue bool      `json:"still_overdue"`
	State        string    `json:"state"`
	// Words are the citizen's words, shortened, with phone and ID numbers masked.
	Words string `json:"words"`
}

// Special is the special report ("专报"): what citizens raised in the week,
// and how that compares with the week before.
type Special struct {
	ThisWeek  WeekFigures    `json:"this_week"`
	LastWeek  WeekFigures    `json:"last_week"`
	Subjects  []Tally        `json:"subjects"`  // by category, with last week's posts
	Districts []Tally        `json:"districts"` // by first district, with last week's posts
	Places    []Tally        `json:"places"`    // by the finest place named
	Repeated  []RepeatedItem `json:"repeated"`  // cases reported again in the week
}

// WeekFigures are a week's totals: posts placed into cases, how many of
// them were merged into an existing case, and cases opened.
type WeekFigures struct {
	Posts    int `json:"posts"`
	Repeats  int `json:"repeats"`
	NewCases int `json:"new_cases"`
}

// Tally is one line of a top list: the posts of the week about it and the
// distinct cases they are in. PrevPosts is last week's posts, where the list
// compares weeks.
type Tally struct {
	Key       string `json:"key"`
	Label     string `json:"label"`
	Posts     int    `json:"posts"`
	Cases     int    `json:"cases"`
	PrevPosts *int   `json:"prev_posts,omitempty"`
}

// RepeatedItem is a case citizens reported again in the week.
type RepeatedItem struct {
	CaseNo   string `json:"case_no"`
	Subject  string `json:"subject"`
	Place    string `json:"place"`
	Lead     string `json:"lead"`
	LeadName string `json:"lead_name"`
	// LeadUnnamed is set when no name is known for Lead (LeadName is the ID).
	LeadUnnamed bool   `json:"lead_unnamed,omitempty"`
	Repeats     int    `json:"repeats"`     // repeat posts merged in the week
	Posts       int    `json:"posts_total"` // posts in the case, all time
	Words       string `json:"words"`
}

// WeekOf is midnight, in loc (nil: Asia/Shanghai), of the Monday that
// starts the Monday-to-Sunday week containing day's calendar date as written
// (a parsed "2026-11-26" is that date whatever its zone).
func WeekOf(day time.Time, loc *time.Location) time.Time {
	if loc == nil {
		loc = model.Shanghai
	}
	y, m, dd := day.Date()
	d := time.Date(y, m, dd, 0, 0, 0, 0, loc)
	return d.AddDate(0, 0, -((int(d.Weekday()) + 6) % 7))
}

// weekInputLayouts are the forms ParseWeekDate accepts without an offset.
var weekInputLayouts = []string{"2006-01-02", "2006-01-02 15:04", "2006-01-02 15:04:05", "2006-01-02T15:04", "2006-01-02T15:04:05"}

// ParseWeekDate reads the date that picks a report's week: a date
// (2026-11-26), a date and time (2026-11-26 15:04, 2026-11-26T15:04:05) read
// in loc, or an RFC 3339 time with an offset, turned into loc. The result is
// in loc; WeekOf gives its week.
func ParseWeekDate(s string, loc *time.Location) (time.Time, error) {
	if loc == nil {
		loc = model.Shanghai
	}
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.In(loc), nil
	}
	for _, l := range weekInputLayouts {
		if t, err := time.ParseInLocation(l, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%w: week %q: want a date such as 2026-11-26, optionally with a time", ErrInvalid, s)
}

// ReportOption adjusts what BuildReport shows.
type ReportOption func(*reportOptions)

type reportOptions struct {
	categories map[string]string // category id → name
}

// WithCategoryNames shows subjects by the rule set's category names
// instead of their IDs.
func WithCategoryNames(names map[string]string) ReportOption {
	return func(o *reportOptions) { o.categories = names }
}

// BuildReport builds the report for the Monday-to-Sunday week (midnight to
// midnight in loc, nil: Asia/Shanghai) that contains the calendar date of
// day, reading states at asOf. names maps department IDs to names; a
// department without one is shown by its ID and marked Unnamed.
func BuildReport(ctx context.Context, st *store.Store, day, asOf time.Time, loc *time.Location, names map[string]string, opts ...ReportOption) (Report, error) {
	var o reportOptions
	for _, opt := range opts {
		opt(&o)
	}
	if loc == nil {
		loc = model.Shanghai
	}
	from := WeekOf(day, loc)
	to := from.AddDate(0, 0, 7)
	r := Report{WeekStart: from, WeekEnd: to, AsOf: asOf, Target: Target}
	var err error
	if r.Rows, r.Total, err = feedback(ctx, st, from, to, asOf, names); err != nil {
		return Report{}, err
	}
	if r.Exposure, err = exposure(ctx, st, from, to, asOf, names); err != nil {
		return Report{}, err
	}
	if r.Special, err = special(ctx, st, from, to, names, o.categories); err != nil {
		return Report{}, err
	}
	return r, nil
}

// deptName is the name of dep, or dep itself and true when names has none.
func deptName(names map[string]string, dep string) (string, bool) {
	if n := names[dep]; n != "" {
		return n, false
	}
	return dep, true
}

func feedback(ctx context.Context, st *store.Store, from, to, asOf time.Time, names map[string]string) ([]ReportRow, ReportRow, error) {
	counts, err := st.WeekAssignmentCounts(ctx, from, to, asOf)
	if err != nil {
		return nil, ReportRow{}, err
	}
	overdue, err := st.OverdueCounts(ctx, asOf)
	if err != nil {
		return nil, ReportRow{}, err
	}
	cards, err := st.CardCounts(ctx, from, to)
	if err != nil {
		return nil, ReportRow{}, err
	}
	byDept := map[string]*ReportRow{}
	row := func(dep string) *ReportRow {
		if byDept[dep] == nil {
			name, unnamed := deptName(names, dep)
			byDept[dep] = &ReportRow{Department: dep, Name: name, Unnamed: unnamed}
		}
		return byDept[dep]
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
	rows := []ReportRow{}
	t := ReportRow{Department: "total", Name: "合计"}
	for _, x := range byDept {
		x.rate()
		rows = append(rows, *x)
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
	t.rate()
	slices.SortFunc(rows, func(a, b ReportRow) int {
		if a.Received != b.Received {
			return b.Received - a.Received
		}
		return strings.Compare(a.Department, b.Department)
	})
	return rows, t, nil
}

func (r *ReportRow) rate() {
	r.Handled = r.Received - r.Transferred
	r.CompletionRate = ratio(r.Resolved, r.Handled)
	r.MeetsTarget = r.Handled > 0 && r.CompletionRate >= Target
}

func ratio(n, d int) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / float64(d)
}

// Deadline steps, most serious first.
const (
	stepClose = "close"
	stepReply = "reply"
	stepClaim = "claim"
)

func exposure(ctx context.Context, st *store.Store, from, to, asOf time.Time, names map[string]string) ([]ExposureItem, error) {
	as, err := st.ExposedAssignments(ctx, from, to, asOf)
	if err != nil {
		return nil, err
	}
	out := make([]ExposureItem, 0, len(as))
	for _, a := range as {
		name, unnamed := deptName(names, a.Department)
		e := ExposureItem{CaseNo: a.CaseNo, Department: a.Department, Name: name, Unnamed: unnamed, State: a.State,
			Words: citizenWords(a.Summary)}
		switch {
		case a.Red > 0:
			e.Card = store.NoticeRed
		case a.Orange > 0:
			e.Card = store.NoticeOrange
		}
		lateness(&e, a, asOf)
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b ExposureItem) int {
		if c := cardRank(b.Card) - cardRank(a.Card); c != 0 {
			return c
		}
		if a.DaysLate != b.DaysLate {
			return b.DaysLate - a.DaysLate
		}
		if c := strings.Compare(a.CaseNo, b.CaseNo); c != 0 {
			return c
		}
		return strings.Compare(a.Department, b.Department)
	})
	return out, nil
}

func cardRank(card string) int {
	switch card {
	case store.NoticeRed:
		return 2
	case store.NoticeOrange:
		return 1
	}
	return 0
}

// lateness sets e's missed step, deadline and days late: the most serious
// deadline (close, then reply, then claim) that passed before its step was
// done. A step's time runs until it was done, the assignment was resolved
// or handed on, or AsOf, whichever came first.
func lateness(e *ExposureItem, a store.ExposedAssignment, asOf time.Time) {
	end := asOf
	active := false
	switch model.AssignmentState(a.State) {
	case model.AssignmentResolved:
		if a.ResolvedAt != nil && a.ResolvedAt.Before(end) {
			end = *a.ResolvedAt
		}
	case model.AssignmentTransferred:
		if a.UpdatedAt.Before(end) {
			end = a.UpdatedAt
		}
	default:
		active = true
	}
	for _, s := range []struct {
		step     string
		deadline time.Time
		done     *time.Time
	}{{stepClose, a.CloseBy, a.ResolvedAt}, {stepReply, a.ReplyBy, a.RepliedAt}, {stepClaim, a.ClaimBy, a.ClaimedAt}} {
		if s.step == stepClose && a.Role == string(model.RoleAssist) {
			continue // closing is the lead's
		}
		stop := end
		if s.done != nil && s.done.Before(stop) {
			stop = *s.done
		}
		if stop.After(s.deadline) {
			e.Step, e.Deadline = s.step, s.deadline
			e.DaysLate = int((stop.Sub(s.deadline) + 24*time.Hour - 1) / (24 * time.Hour))
			e.StillOverdue = active && stop.Equal(end)
			return
		}
	}
	// A card for a deadline since moved (a reopened assignment): the card's
	// step, no lateness left to count.
	if e.Card == store.NoticeRed {
		e.Step = stepClose
	} else {
		e.Step = stepReply
	}
}

// citizenWords is a post's text as the report shows it: on one line, phone
// and ID numbers masked, at most wordsMax characters and "…" after a cut.
// Masking comes first so that a cut cannot leave part of a number readable.
func citizenWords(s string) string {
	s = privacy.Mask(strings.Join(strings.Fields(s), " "))
	if utf8.RuneCountInString(s) <= wordsMax {
		return s
	}
	return string([]rune(s)[:wordsMax]) + "…"
}

func special(ctx context.Context, st *store.Store, from, to time.Time, names, categories map[string]string) (Special, error) {
	prevFrom := from.AddDate(0, 0, -7)
	var sp Special
	for _, w := range []struct {
		from time.Time
		dst  *WeekFigures
	}{{from, &sp.ThisWeek}, {prevFrom, &sp.LastWeek}} {
		t, err := st.WeekTotals(ctx, w.from, w.from.AddDate(0, 0, 7))
		if err != nil {
			return Special{}, err
		}
		*w.dst = WeekFigures{Posts: t.Posts, Repeats: t.Repeats, NewCases: t.NewCases}
	}
	for _, g := range []struct {
		by      store.TallyBy
		dst     *[]Tally
		compare bool
	}{{store.ByCategory, &sp.Subjects, true}, {store.ByDistrict, &sp.Districts, true}, {store.ByPlace, &sp.Places, false}} {
		cur, err := st.WeekTally(ctx, from, to, g.by, specialTop)
		if err != nil {
			return Special{}, err
		}
		var prev map[string]int
		if g.compare {
			// Every group of last week, so that a subject this week's top
			// list names is compared even when it was rare last week.
			all, err := st.WeekTally(ctx, prevFrom, from, g.by, 0)
			if err != nil {
				return Special{}, err
			}
			prev = map[string]int{}
			for _, x := range all {
				prev[x.Key] = x.Posts
			}
		}
		*g.dst = []Tally{}
		for _, x := range cur {
			t := Tally{Key: x.Key, Label: tallyLabel(g.by, x, categories), Posts: x.Posts, Cases: x.Cases}
			if g.compare {
				n := prev[x.Key]
				t.PrevPosts = &n
			}
			*g.dst = append(*g.dst, t)
		}
	}
	rep, err := st.RepeatedCases(ctx, from, to, specialTop)
	if err != nil {
		return Special{}, err
	}
	sp.Repeated = []RepeatedItem{}
	for _, c := range rep {
		lead, unnamed := deptName(names, c.Lead)
		sp.Repeated = append(sp.Repeated, RepeatedItem{CaseNo: c.CaseNo, Subject: subjectLabel(c.Category, categories), Place: placeLabel(c.Place),
			Lead: c.Lead, LeadName: lead, LeadUnnamed: unnamed, Repeats: c.Repeats, Posts: c.Posts, Words: citizenWords(c.Summary)})
	}
	return sp, nil
}

func subjectLabel(category string, names map[string]string) string {
	if category == "" {
		return "未分类"
	}
	if n := names[category]; n != "" {
		return n
	}
	return category
}

// placeLabel is the place name of a place key ("compound:东方城二区").
func placeLabel(key string) string {
	if _, name, ok := strings.Cut(key, ":"); ok {
		return name
	}
	return key
}

func tallyLabel(by store.TallyBy, t store.Tally, categories map[string]string) string {
	switch by {
	case store.ByCategory:
		return subjectLabel(t.Key, categories)
	case store.ByPlace:
		return placeLabel(t.Key)
	}
	if t.Key == "" {
		return "未定区县"
	}
	var ds []model.District
	if json.Unmarshal([]byte(t.Districts), &ds) == nil {
		for _, d := range ds {
			if d.Code == t.Key && d.Name != "" {
				return d.Name
			}
		}
	}
	return t.Key
}
