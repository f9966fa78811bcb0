package dispatch

import (
	"embed"
	"encoding/csv"
	"fmt"
	"html/template"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The weekly report's text is laid out once, as titled tables of display
// cells (reportTables); Markdown, CSV and HTML only differ in how they write
// those cells, so the three always carry the same figures.

// reportTable is one table of the report as the office reads it.
type reportTable struct {
	Part  string // 反馈, 曝光 or 专报
	Title string
	Note  string // a line under the title
	Head  []string
	// Align has a letter per column: r for figures (right-aligned), l for
	// short text, w for running text that may wrap.
	Align string
	Rows  [][]string
	Empty string // said instead of an empty table
}

func itoa(n int) string { return strconv.Itoa(n) }

// pct writes a share as a percentage with one decimal, "—" when there is
// nothing to measure.
func pct(x float64, measured bool) string {
	if !measured {
		return "—"
	}
	return fmt.Sprintf("%.1f%%", 100*x)
}

// change is the week-on-week change of a count in words: "上升4（50.0%）",
// "下降3（25.0%）", "持平", "新增" when last week had none. (Words, not a
// sign: a cell starting with + or - is a formula to a spreadsheet.)
func change(now, prev int) string {
	switch {
	case now == 0 && prev == 0:
		return "—"
	case prev == 0:
		return "新增"
	case now == prev:
		return "持平"
	case now > prev:
		return fmt.Sprintf("上升%d（%.1f%%）", now-prev, 100*float64(now-prev)/float64(prev))
	}
	return fmt.Sprintf("下降%d（%.1f%%）", prev-now, 100*float64(prev-now)/float64(prev))
}

// label is how a department appears: its name, or its ID marked as having
// no name configured.
func label(name string, unnamed bool) string {
	if unnamed {
		return name + "（未配置名称）"
	}
	return name
}

var (
	cardWords  = map[string]string{"red": "红牌", "orange": "橙牌", "": "—"}
	stepWords  = map[string]string{stepClaim: "认领", stepReply: "答复", stepClose: "办结"}
	stateWords = map[string]string{"pending": "待认领", "claimed": "已认领，未答复", "replied": "已答复，未办结",
		"resolved": "已办结", "transferred": "已转办"}
)

func (r ReportRow) targetWord() string {
	switch {
	case r.Handled <= 0:
		return "—"
	case r.MeetsTarget:
		return "达标"
	}
	return "未达标"
}

// period is the week in words: "2026-11-23（周一）至 2026-11-29（周日）".
func (r Report) period() string {
	return r.WeekStart.Format("2006-01-02") + "（周一）至 " + r.WeekEnd.AddDate(0, 0, -1).Format("2006-01-02") + "（周日）"
}

func (r Report) asOfText() string {
	return r.AsOf.In(r.WeekStart.Location()).Format("2006-01-02 15:04")
}

func (r Report) title() string { return "马上办周报 " + r.period() }

func (r Report) intro() string {
	return fmt.Sprintf("统计截至 %s。“24小时认领、72小时答复、一周办结”；办结率 = 已办结 ÷（收到 − 转出），目标 %.0f%%。当前超期与状态按统计时间计。",
		r.asOfText(), 100*r.Target)
}

func (r Report) tables() []reportTable {
	fb := reportTable{Part: "反馈", Title: "一周一反馈",
		Head:  []string{"部门", "收到", "按时认领", "按时答复", "一周内办结", "转出", "已办结", "当前超期", "黄牌", "橙牌", "红牌", "办结率", "目标" + pct(r.Target, true)},
		Align: "lrrrrrrrrrrrr", Empty: "本周无办件。"}
	for _, x := range append(slices.Clone(r.Rows), r.Total) {
		fb.Rows = append(fb.Rows, []string{label(x.Name, x.Unnamed), itoa(x.Received), itoa(x.ClaimedOnTime), itoa(x.RepliedOnTime),
			itoa(x.ClosedInWeek), itoa(x.Transferred), itoa(x.Resolved), itoa(x.OverdueNow), itoa(x.Yellow), itoa(x.Orange), itoa(x.Red),
			pct(x.CompletionRate, x.Handled > 0), x.targetWord()})
	}
	if len(r.Rows) == 0 {
		fb.Rows = nil
	}

	ex := reportTable{Part: "曝光", Title: "一周一曝光",
		Note: "本周被亮橙牌、红牌或统计时仍超期的办件。逾期天数按最严重的一项超时计，不足一天按一天计；群众反映只摘前" + itoa(wordsMax) + "字，电话、证件号码已隐去。",
		Head: []string{"编号", "责任部门", "本周亮牌", "逾期环节", "逾期天数", "当前状态", "群众反映"}, Align: "llllrlw", Empty: "本周无曝光办件。"}
	for _, e := range r.Exposure {
		state := stateWords[e.State]
		if e.StillOverdue {
			state += "（仍超期）"
		}
		ex.Rows = append(ex.Rows, []string{e.CaseNo, label(e.Name, e.Unnamed), cardWords[e.Card], stepWords[e.Step], itoa(e.DaysLate), state, e.Words})
	}

	sp := r.Special
	tw, lw := sp.ThisWeek, sp.LastWeek
	totals := reportTable{Part: "专报", Title: "总体情况", Head: []string{"指标", "本周", "上周", "环比"}, Align: "lrrr", Rows: [][]string{
		{"群众反映（人次）", itoa(tw.Posts), itoa(lw.Posts), change(tw.Posts, lw.Posts)},
		{"新立案件", itoa(tw.NewCases), itoa(lw.NewCases), change(tw.NewCases, lw.NewCases)},
		{"重复反映（并入已有案件）", itoa(tw.Repeats), itoa(lw.Repeats), change(tw.Repeats, lw.Repeats)},
	}}
	compared := func(title, what string, ts []Tally) reportTable {
		t := reportTable{Part: "专报", Title: title, Head: []string{what, "反映人次", "案件数", "上周人次", "环比"}, Align: "lrrrr", Empty: "本周无。"}
		for _, x := range ts {
			prev := 0
			if x.PrevPosts != nil {
				prev = *x.PrevPosts
			}
			t.Rows = append(t.Rows, []string{x.Label, itoa(x.Posts), itoa(x.Cases), itoa(prev), change(x.Posts, prev)})
		}
		return t
	}
	places := reportTable{Part: "专报", Title: "热点地点", Head: []string{"地点", "反映人次", "案件数"}, Align: "lrr", Empty: "本周无具体地点。"}
	for _, x := range sp.Places {
		places.Rows = append(places.Rows, []string{x.Label, itoa(x.Posts), itoa(x.Cases)})
	}
	repeated := reportTable{Part: "专报", Title: "重复反映", Note: "本周有市民再次反映、已并入原案件的问题。",
		Head: []string{"编号", "问题类别", "地点", "牵头部门", "本周重复", "累计反映", "群众反映"}, Align: "llllrrw", Empty: "本周无重复反映。"}
	for _, c := range sp.Repeated {
		place := c.Place
		if place == "" {
			place = "—"
		}
		repeated.Rows = append(repeated.Rows, []string{c.CaseNo, c.Subject, place, label(c.LeadName, c.LeadUnnamed),
			itoa(c.Repeats), itoa(c.Posts), c.Words})
	}
	return []reportTable{fb, ex, totals, compared("热点问题", "问题类别", sp.Subjects), compared("区域分布", "区县", sp.Districts), places, repeated}
}

// WriteMarkdown writes the report as the office's weekly briefing.
func (r Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n%s\n", r.title(), r.intro())
	part := ""
	for _, t := range r.tables() {
		if t.Part != part {
			part = t.Part
			n := map[string]string{"反馈": "一", "曝光": "二", "专报": "三"}[part]
			fmt.Fprintf(&b, "\n## %s、一周一%s\n", n, part)
		}
		if t.Title != "一周一"+t.Part {
			fmt.Fprintf(&b, "\n### %s\n", t.Title)
		}
		if t.Note != "" {
			fmt.Fprintf(&b, "\n%s\n", t.Note)
		}
		if len(t.Rows) == 0 {
			fmt.Fprintf(&b, "\n%s\n", t.Empty)
			continue
		}
		b.WriteString("\n|")
		for _, h := range t.Head {
			b.WriteString(" " + mdEscape(h) + " |")
		}
		b.WriteString("\n|")
		for i := range t.Head {
			if t.Class(i) == "num" {
				b.WriteString("---:|")
			} else {
				b.WriteString("---|")
			}
		}
		b.WriteString("\n")
		for _, row := range t.Rows {
			b.WriteString("|")
			for _, c := range row {
				b.WriteString(" " + mdEscape(c) + " |")
			}
			b.WriteString("\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// mdEscape makes s one table cell of plain text: the citizen's words may
// hold |, emphasis marks (a masked number is 138****5678) or HTML.
var mdEscape = strings.NewReplacer("\\", `\\`, "|", `\|`, "*", `\*`, "_", `\_`, "`", "\\`", "<", `\<`, ">", `\>`,
	"[", `\[`, "]", `\]`, "~", `\~`, "\n", " ", "\r", " ").Replace

// utf8BOM lets Excel open the CSV as UTF-8.
const utf8BOM = "\uFEFF"

// WriteCSV writes the report for spreadsheets: UTF-8 with a byte-order mark,
// each table as a title line, a header line of Chinese column names and its
// rows, tables separated by an empty line.
func (r Report) WriteCSV(w io.Writer) error {
	if _, err := io.WriteString(w, utf8BOM); err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	cw.UseCRLF = true // what Excel writes and expects
	for i, t := range r.tables() {
		title := t.Title
		if i == 0 {
			title += " " + r.period()
		}
		recs := [][]string{{title}, t.Head}
		for _, row := range t.Rows {
			recs = append(recs, csvCells(row))
		}
		if i > 0 {
			recs = append([][]string{{}}, recs...)
		}
		if err := cw.WriteAll(recs); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// csvCells guards cells a spreadsheet would run as a formula (a citizen's
// words may start with = or +): such a cell gets a leading apostrophe,
// which Excel reads as "text follows".
func csvCells(row []string) []string {
	out := slices.Clone(row)
	for i, c := range out {
		if c != "" && strings.ContainsRune("=+-@\t\r", rune(c[0])) {
			out[i] = "'" + c
		}
	}
	return out
}

//go:embed templates/weekly_report.html
var reportFS embed.FS

var reportPage = template.Must(template.New("weekly_report.html").Funcs(template.FuncMap{
	"add":  func(a, b int) int { return a + b },
	"sub":  func(a, b int) int { return a - b },
	"addf": func(a float64, b, c int) float64 { return a + float64(b+c) },
}).ParseFS(reportFS, "templates/weekly_report.html"))

// Class is the style of column i: num (a figure), text (short text) or
// wrap (running text).
func (t reportTable) Class(i int) string {
	if i < len(t.Align) {
		switch t.Align[i] {
		case 'r':
			return "num"
		case 'w':
			return "wrap"
		}
	}
	return "text"
}

// reportPageData is what the HTML template shows.
type reportPageData struct {
	Title, Intro string
	Parts        []reportPart
}

type reportPart struct {
	Title  string
	Charts []barChart
	Tables []reportTable
}

// barChart is a horizontal bar chart laid out on the server, drawn as SVG.
type barChart struct {
	Title         string
	Width, Height int
	LabelWidth    int
	Bars          []bar
	Target        float64 // x of the target line, 0 for none
	Compare       bool    // bars carry last week's figure too
	Legend        string
}

type bar struct {
	Label, Value string
	Y            int
	W, PrevW     float64 // bar lengths: this week, last week (0: none)
	Low          bool    // below the target
}

// Chart geometry, in SVG user units; the SVG scales to the page width.
const (
	chartWidth  = 360
	chartLabelW = 110
	chartValueW = 78
	chartRow    = 26
	chartTop    = 8
)

func newChart(title, legend string, n int) barChart {
	return barChart{Title: title, Legend: legend, Width: chartWidth, LabelWidth: chartLabelW, Height: chartTop*2 + n*chartRow}
}

// chartLabelRunes is how many characters of a name fit left of the bars;
// the tables beside the charts carry the full names.
const chartLabelRunes = 8

func chartLabel(s string) string {
	if r := []rune(s); len(r) > chartLabelRunes {
		return string(r[:chartLabelRunes-1]) + "…"
	}
	return s
}

// span is the length of the bars' area.
func span() float64 { return chartWidth - chartLabelW - chartValueW }

// charts draws the figures of the tables: completion rate per department
// against the target, and this week's posts against last week's per subject
// and per district.
func (r Report) charts() (feedback []barChart, special []barChart) {
	var rated []ReportRow
	for _, x := range r.Rows {
		if x.Handled > 0 {
			rated = append(rated, x)
		}
	}
	if len(rated) > 0 {
		c := newChart("各部门办结率", "竖线为目标 "+pct(r.Target, true), len(rated))
		c.Target = chartLabelW + span()*r.Target
		for i, x := range rated {
			c.Bars = append(c.Bars, bar{Label: chartLabel(label(x.Name, x.Unnamed)), Value: pct(x.CompletionRate, true), Y: chartTop + i*chartRow,
				W: span() * x.CompletionRate, Low: !x.MeetsTarget})
		}
		feedback = append(feedback, c)
	}
	compared := func(title string, ts []Tally) {
		if len(ts) == 0 {
			return
		}
		most := 1
		for _, x := range ts {
			most = max(most, x.Posts)
			if x.PrevPosts != nil {
				most = max(most, *x.PrevPosts)
			}
		}
		c := newChart(title, "粗条为本周反映人次，细条为上周", len(ts))
		c.Compare = true
		for i, x := range ts {
			prev := 0
			if x.PrevPosts != nil {
				prev = *x.PrevPosts
			}
			c.Bars = append(c.Bars, bar{Label: chartLabel(x.Label), Value: itoa(x.Posts), Y: chartTop + i*chartRow,
				W: span() * float64(x.Posts) / float64(most), PrevW: span() * float64(prev) / float64(most)})
		}
		special = append(special, c)
	}
	compared("热点问题", r.Special.Subjects)
	compared("区域分布", r.Special.Districts)
	return feedback, special
}

// WriteHTML writes the report as one self-contained page: no script, no
// external resources, charts as inline SVG, readable on a phone.
func (r Report) WriteHTML(w io.Writer) error {
	d := reportPageData{Title: r.title(), Intro: r.intro()}
	fbCharts, spCharts := r.charts()
	for _, t := range r.tables() {
		if len(d.Parts) == 0 || d.Parts[len(d.Parts)-1].Title != "一周一"+t.Part {
			p := reportPart{Title: "一周一" + t.Part}
			switch t.Part {
			case "反馈":
				p.Charts = fbCharts
			case "专报":
				p.Charts = spCharts
			}
			d.Parts = append(d.Parts, p)
		}
		p := &d.Parts[len(d.Parts)-1]
		p.Tables = append(p.Tables, t)
	}
	return reportPage.Execute(w, d)
}

// ReportFileName is the download name of the report of the week starting
// weekStart in format ext (md, csv, html, json).
func ReportFileName(weekStart time.Time, ext string) string {
	return "mashangban-weekly-" + weekStart.Format("20060102") + "." + ext
}
