package dispatch

import (
	"bytes"
	"context"
	"encoding/csv"
	"flag"
	"fmt"
	"html"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/mashangban/mashangban/model"
	"github.com/mashangban/mashangban/store"
	"github.com/mashangban/mashangban/store/storetest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// longDigits is what must never appear in the citizen's words of a report:
// five digits in a row are part of a phone or ID number left unmasked.
var longDigits = regexp.MustCompile(`[0-9]{5,}`)

// parsedTable is one table read back from a rendered report.
type parsedTable struct {
	head []string
	rows [][]string
}

func renderAll(t *testing.T, r Report) (md, csvText, page string) {
	t.Helper()
	var b1, b2, b3 bytes.Buffer
	if err := r.WriteMarkdown(&b1); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteCSV(&b2); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteHTML(&b3); err != nil {
		t.Fatal(err)
	}
	return b1.String(), b2.String(), b3.String()
}

// parseMarkdown reads the pipe tables of a Markdown report, by the heading
// above each ("## 一、一周一反馈" → 一周一反馈).
func parseMarkdown(t *testing.T, md string) map[string]parsedTable {
	t.Helper()
	out := map[string]parsedTable{}
	title := ""
	for line := range strings.Lines(md) {
		line = strings.TrimRight(line, "\n")
		switch {
		case strings.HasPrefix(line, "## "):
			_, title, _ = strings.Cut(line[3:], "、")
		case strings.HasPrefix(line, "### "):
			title = line[4:]
		case strings.HasPrefix(line, "|"):
			cells := splitMarkdownRow(line)
			tb := out[title]
			switch {
			case tb.head == nil:
				tb.head = cells
			case strings.HasPrefix(cells[0], "---"):
			default:
				tb.rows = append(tb.rows, cells)
			}
			out[title] = tb
		}
	}
	return out
}

// splitMarkdownRow splits "| a | b\\|c |" into "a", "b|c", undoing
// backslash escapes.
func splitMarkdownRow(line string) []string {
	var cells []string
	var cur strings.Builder
	line = strings.TrimSuffix(strings.TrimPrefix(line, "|"), "|")
	for i := 0; i < len(line); i++ {
		switch {
		case line[i] == '\\' && i+1 < len(line) && line[i+1] < utf8.RuneSelf && (unicode.IsPunct(rune(line[i+1])) || unicode.IsSymbol(rune(line[i+1]))):
			cur.WriteByte(line[i+1])
			i++
		case line[i] == '|':
			cells = append(cells, strings.TrimSpace(cur.String()))
			cur.Reset()
		default:
			cur.WriteByte(line[i])
		}
	}
	return append(cells, strings.TrimSpace(cur.String()))
}

// parseCSV reads the tables of a CSV report: a one-field title line, the
// header, the rows.
func parseCSV(t *testing.T, text string) map[string]parsedTable {
	t.Helper()
	rd := csv.NewReader(strings.NewReader(strings.TrimPrefix(text, "\uFEFF")))
	rd.FieldsPerRecord = -1
	recs, err := rd.ReadAll()
	if err != nil {
		t.Fatalf("csv: %v", err)
	}
	out := map[string]parsedTable{}
	title := ""
	for _, rec := range recs {
		if len(rec) == 1 {
			title, _, _ = strings.Cut(rec[0], " ")
			continue
		}
		tb := out[title]
		if tb.head == nil {
			tb.head = rec
			out[title] = tb
			continue
		}
		for i, c := range rec {
			// The guard against spreadsheet formulas, undone.
			if len(c) > 1 && c[0] == '\'' && strings.ContainsRune("=+-@", rune(c[1])) {
				rec[i] = c[1:]
			}
		}
		tb.rows = append(tb.rows, rec)
		out[title] = tb
	}
	for k, tb := range out {
		if len(tb.rows) == 0 {
			delete(out, k) // the other formats say "none" instead of a table
		}
	}
	return out
}

var (
	reTable = regexp.MustCompile(`(?s)<table data-table="([^"]*)">(.*?)</table>`)
	reRow   = regexp.MustCompile(`(?s)<tr>(.*?)</tr>`)
	reCell  = regexp.MustCompile(`(?s)<t[hd][^>]*>(.*?)</t[hd]>`)
)

func parseHTML(t *testing.T, page string) map[string]parsedTable {
	t.Helper()
	out := map[string]parsedTable{}
	for _, m := range reTable.FindAllStringSubmatch(page, -1) {
		var tb parsedTable
		for _, row := range reRow.FindAllStringSubmatch(m[2], -1) {
			var cells []string
			for _, c := range reCell.FindAllStringSubmatch(row[1], -1) {
				cells = append(cells, html.UnescapeString(c[1]))
			}
			if tb.head == nil {
				tb.head = cells
			} else {
				tb.rows = append(tb.rows, cells)
			}
		}
		out[html.UnescapeString(m[1])] = tb
	}
	return out
}

// checkFormats renders r in Markdown, CSV and HTML and checks that the three
// carry the same tables, that the figures are r's, and that the citizen's
// words carry no contact numbers.
func checkFormats(t *testing.T, r Report) {
	t.Helper()
	md, csvText, page := renderAll(t, r)
	fromMD, fromCSV, fromHTML := parseMarkdown(t, md), parseCSV(t, csvText), parseHTML(t, page)
	for name, other := range map[string]map[string]parsedTable{"csv": fromCSV, "html": fromHTML} {
		if len(other) != len(fromMD) {
			t.Errorf("%s has %d tables, markdown %d", name, len(other), len(fromMD))
		}
		for title, tb := range fromMD {
			o := other[title]
			if !slices.Equal(o.head, tb.head) || !slices.EqualFunc(o.rows, tb.rows, slices.Equal) {
				t.Errorf("table %s differs between markdown and %s:\n md %q\n%4s %q", title, name, tb, name, o)
				return
			}
		}
	}

	if !strings.HasPrefix(csvText, "\uFEFF") {
		t.Errorf("csv does not start with the UTF-8 byte-order mark: %q", csvText[:min(20, len(csvText))])
	}
	for title, tb := range fromCSV {
		for _, h := range tb.head {
			if !strings.ContainsFunc(h, func(r rune) bool { return unicode.Is(unicode.Han, r) }) {
				t.Errorf("csv table %s: header %q is not Chinese", title, h)
			}
		}
	}

	// The feedback table, figure by figure against the report's numbers.
	fb := fromMD["一周一反馈"]
	if len(r.Rows) > 0 && len(fb.rows) != len(r.Rows)+1 {
		t.Fatalf("feedback has %d rows, want %d and the total", len(fb.rows), len(r.Rows))
	}
	col := func(head string) int {
		i := slices.Index(fb.head, head)
		if i < 0 {
			t.Fatalf("feedback has no column %s: %q", head, fb.head)
		}
		return i
	}
	for i, x := range append(slices.Clone(r.Rows), r.Total)[:len(fb.rows)] {
		cells := fb.rows[i]
		for head, n := range map[string]int{"收到": x.Received, "按时认领": x.ClaimedOnTime, "按时答复": x.RepliedOnTime,
			"一周内办结": x.ClosedInWeek, "转出": x.Transferred, "已办结": x.Resolved, "当前超期": x.OverdueNow,
			"黄牌": x.Yellow, "橙牌": x.Orange, "红牌": x.Red} {
			if cells[col(head)] != strconv.Itoa(n) {
				t.Errorf("%s %s = %s, want %d", x.Department, head, cells[col(head)], n)
			}
		}
		rate, target := "—", "—"
		if h := x.Received - x.Transferred; h > 0 {
			rate = fmt.Sprintf("%.1f%%", 100*float64(x.Resolved)/float64(h))
			target = "未达标"
			if float64(x.Resolved)/float64(h) >= 0.95 {
				target = "达标"
			}
		}
		if cells[col("办结率")] != rate || cells[col("目标95.0%")] != target {
			t.Errorf("%s rate %s %s, want %s %s", x.Department, cells[col("办结率")], cells[col("目标95.0%")], rate, target)
		}
		switch name := cells[0]; {
		case x.Department == "total":
			if name != "合计" {
				t.Errorf("total row named %q", name)
			}
		case x.Unnamed:
			if name != x.Department+"（未配置名称）" {
				t.Errorf("unnamed %s shown as %q", x.Department, name)
			}
		case name != x.Name || name == x.Department:
			t.Errorf("%s shown as %q, want its name %q", x.Department, name, x.Name)
		}
	}

	ex := fromMD["一周一曝光"]
	if len(ex.rows) != len(r.Exposure) {
		t.Errorf("exposure has %d rows, want %d", len(ex.rows), len(r.Exposure))
	}
	for i, e := range r.Exposure[:min(len(r.Exposure), len(ex.rows))] {
		cells := ex.rows[i]
		if cells[0] != e.CaseNo || cells[4] != strconv.Itoa(e.DaysLate) || !strings.HasPrefix(cells[1], e.Name) {
			t.Errorf("exposure row %d = %q, want %+v", i, cells, e)
		}
	}
	for _, title := range []string{"一周一曝光", "重复反映"} {
		tb := fromMD[title]
		i := slices.Index(tb.head, "群众反映")
		for _, row := range tb.rows {
			if i < 0 || longDigits.MatchString(row[i]) || len([]rune(row[i])) > wordsMax+1 {
				t.Errorf("%s: citizen's words %q (column %d): too long or carry a number", title, row, i)
			}
		}
	}

	for _, want := range []string{`<meta name="viewport"`, `lang="zh-CN"`} {
		if !strings.Contains(page, want) {
			t.Errorf("html lacks %s", want)
		}
	}
	for _, bad := range []string{"<script", "src=", "href=", "<link", "http://", "https://"} {
		if strings.Contains(strings.ReplaceAll(page, `xmlns="http://www.w3.org/2000/svg"`, ""), bad) {
			t.Errorf("html is not self-contained and script-free: has %s", bad)
		}
	}
	rated := 0
	for _, x := range r.Rows {
		if x.Received-x.Transferred > 0 {
			rated++
		}
	}
	if rated > 0 && !strings.Contains(page, "<svg") {
		t.Error("html has no chart")
	}
}

// sampleReport is a report with every part filled, for the golden files.
func sampleReport() Report {
	from := time.Date(2026, 11, 23, 0, 0, 0, 0, model.Shanghai)
	n := func(i int) *int { return &i }
	r := Report{WeekStart: from, WeekEnd: from.AddDate(0, 0, 7), AsOf: from.AddDate(0, 0, 7).Add(9 * time.Hour), Target: Target,
		Rows: []ReportRow{
			{Department: "cgj", Name: "市城市管理局", Received: 40, ClaimedOnTime: 38, RepliedOnTime: 36, ClosedInWeek: 30, Transferred: 2, Resolved: 37, OverdueNow: 3, Yellow: 2, Orange: 1, Red: 1},
			{Department: "ldj", Name: "市路灯管理所", Received: 12, ClaimedOnTime: 12, RepliedOnTime: 12, ClosedInWeek: 12, Resolved: 12},
			{Department: "water", Name: "water", Unnamed: true, Received: 3, ClaimedOnTime: 1, RepliedOnTime: 1, Resolved: 1, OverdueNow: 2, Yellow: 2, Orange: 1},
			{Department: "fire", Name: "市消防救援支队", OverdueNow: 1, Red: 1},
		},
		Exposure: []ExposureItem{
			{CaseNo: "MSB-20261110-0007", Department: "fire", Name: "市消防救援支队", Card: "red", Step: stepClose, DaysLate: 9, StillOverdue: true, State: "replied",
				Words: citizenWords("消防通道被私家车长期占用，物业不管，电话13812345678，身份证340503199001011234，希望尽快处理！！！再不处理要出事了")},
			{CaseNo: "MSB-20261124-0031", Department: "water", Name: "water", Unnamed: true, Card: "orange", Step: stepReply, DaysLate: 2, State: "resolved",
				Words: citizenWords("停水|三天了\n没人管")},
			{CaseNo: "MSB-20261127-0002", Department: "cgj", Name: "市城市管理局", Step: stepClaim, DaysLate: 1, StillOverdue: true, State: "pending",
				Words: citizenWords("广告牌强光扰民到夜里11点")},
			{CaseNo: "MSB-20261128-0005", Department: "cgj", Name: "市城市管理局", Step: stepClaim, DaysLate: 1, StillOverdue: true, State: "pending",
				Words: citizenWords("=SUM(A1) <b>井盖</b>丢了_很危险_ *快来*")},
		},
		Special: Special{
			ThisWeek: WeekFigures{Posts: 61, Repeats: 9, NewCases: 52},
			LastWeek: WeekFigures{Posts: 48, Repeats: 4, NewCases: 44},
			Subjects: []Tally{
				{Key: "路灯", Label: "路灯", Posts: 20, Cases: 14, PrevPosts: n(10)},
				{Key: "噪音", Label: "噪音", Posts: 9, Cases: 9, PrevPosts: n(12)},
				{Key: "停水", Label: "停水", Posts: 3, Cases: 2, PrevPosts: n(0)},
			},
			Districts: []Tally{
				{Key: "340503", Label: "花山区", Posts: 35, Cases: 30, PrevPosts: n(30)},
				{Key: "340504", Label: "雨山区", Posts: 26, Cases: 22, PrevPosts: n(18)},
			},
			Places: []Tally{{Key: "compound:翠湖小区", Label: "翠湖小区", Posts: 6, Cases: 1}},
			Repeated: []RepeatedItem{{CaseNo: "MSB-20261120-0003", Subject: "路灯", Place: "翠湖小区", Lead: "ldj", LeadName: "市路灯管理所",
				Repeats: 5, Posts: 6, Words: citizenWords("翠湖小区门口路灯坏了，晚上很黑")}},
		},
	}
	t := ReportRow{Department: "total", Name: "合计"}
	for i := range r.Rows {
		x := &r.Rows[i]
		x.rate()
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
	r.Total = t
	return r
}

func TestWeeklyReportGolden(t *testing.T) {
	t.Parallel()
	r := sampleReport()
	checkFormats(t, r)
	md, csvText, page := renderAll(t, r)
	for _, f := range []struct{ name, got string }{
		{"weekly_report.golden.md", md}, {"weekly_report.golden.csv", csvText}, {"weekly_report.golden.html", page},
	} {
		t.Run(f.name, func(t *testing.T) {
			path := filepath.Join("testdata", f.name)
			if *update {
				if err := os.WriteFile(path, []byte(f.got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if f.got != string(want) {
				t.Errorf("%s differs from the golden file (run with -update after checking the change):\n%s", f.name, f.got)
			}
		})
	}
	if !strings.Contains(csvText, ",'=SUM(A1) <b>") {
		t.Error("csv lets a spreadsheet run the citizen's words as a formula")
	}
	for _, out := range []string{md, csvText, page} {
		for _, raw := range []string{"13812345678", "340503199001011234"} {
			if strings.Contains(out, raw) {
				t.Errorf("a report carries the citizen's number %s", raw)
			}
		}
	}
	// A few things the office reads, stated plainly.
	for _, want := range []string{"2026-11-23（周一）至 2026-11-29（周日）", "| 市城市管理局 | 40 |", "water（未配置名称）", "| 97.4% | 达标 |",
		"| 33.3% | 未达标 |", "| 94.3% | 未达标 |", "| — | — |", `138\*\*\*\*5678`, `身份证340\*\*…`, `停水\|三天了 没人管`, "上升10（100.0%）", "下降3（25.0%）",
		`| =SUM(A1) \<b\>井盖\</b\>丢了\_很危险\_ \*快来\* |`, "| 停水 | 3 | 2 | 0 | 新增 |"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
}

func TestWeekOfAndParseWeekDate(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in, monday string // monday "" = rejected
	}{
		{"2026-11-23", "2026-11-23"}, // a Monday is its own week
		{"2026-11-26", "2026-11-23"},
		{"2026-11-29", "2026-11-23"}, // Sunday closes the week
		{"2026-11-30", "2026-11-30"},
		{"2027-01-01", "2026-12-28"}, // across the new year
		{"2026-11-29 23:59", "2026-11-23"},
		{"2026-11-29T23:59:59", "2026-11-23"},
		{" 2026-11-26 08:00:00 ", "2026-11-23"},
		{"2026-11-29T16:30:00Z", "2026-11-30"},      // Monday 00:30 in Shanghai
		{"2026-11-29T23:00:00+08:00", "2026-11-23"}, // Sunday 23:00 in Shanghai
		{"2026-11-30T07:59:00+08:00", "2026-11-30"},
		{"yesterday", ""},
		{"23.11.2026", ""},
		{"2026-11-31", ""},
		{"", ""},
	} {
		t.Run(tt.in, func(t *testing.T) {
			day, err := ParseWeekDate(tt.in, model.Shanghai)
			if tt.monday == "" {
				if err == nil {
					t.Fatalf("ParseWeekDate(%q) = %s, want an error", tt.in, day)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			w := WeekOf(day, model.Shanghai)
			if got := w.Format("2006-01-02"); got != tt.monday || w.Weekday() != time.Monday || w.Location() != model.Shanghai ||
				w.Hour() != 0 || w.Minute() != 0 {
				t.Errorf("week of %q = %s (%s), want Monday %s 00:00 in Shanghai", tt.in, w, w.Weekday(), tt.monday)
			}
		})
	}
}

func TestCitizenWords(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ in, want string }{
		{"路灯坏了", "路灯坏了"},
		{"电话13812345678请回电", "电话138****5678请回电"},
		{"电话 138 1234 5678", "电话 138****5678"},
		{"电话138-1234-5678。", "电话138****5678。"},
		{"+86 13812345678", "+861******5678"},
		{"身份证号34050319900101123X", "身份证号340***********123X"},
		{"身份证号340503199001011234，电话13912345678", "身份证号340***********1234，电话139****5678"},
		{"全角１３８１２３４５６７８", "全角１３８****５６７８"},
		{"12栋3单元2026年11月", "12栋3单元2026年11月"}, // short numbers stay
		{"座机0555-2345678", "座机055****5678"},
		{"换行\n和  空格", "换行 和 空格"},
		{strings.Repeat("很", 45), strings.Repeat("很", 40) + "…"},
		{strings.Repeat("字", 36) + "13812345678", strings.Repeat("字", 36) + "138*…"},
	} {
		t.Run(tt.in, func(t *testing.T) {
			if got := citizenWords(tt.in); got != tt.want {
				t.Errorf("citizenWords(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// TestWeeklySpecialReport seeds two weeks of posts about a few problems,
// some reported again and merged, and checks the special report against
// figures computed from the plan.
func TestWeeklySpecialReport(t *testing.T) {
	t.Parallel()
	storetest.ForEachStore(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		from := time.Date(2026, 11, 23, 0, 0, 0, 0, model.Shanghai)
		prevFrom, to := from.AddDate(0, 0, -7), from.AddDate(0, 0, 7)
		at := func(day, hour, minute int) time.Time {
			return from.AddDate(0, 0, day).Add(time.Duration(hour)*time.Hour + time.Duration(minute)*time.Minute)
		}
		// A problem is reported by posts at the given times. With a place,
		// every post after the first is a repeat of the first's case;
		// without, each post is about a different spot and opens a case.
		type problem struct {
			category string
			district model.District
			place    string
			lead     model.Department
			posts    []time.Time
		}
		problems := []problem{
			{"路灯", huashan, "翠湖小区", ldj, []time.Time{at(-3, 9, 0), at(1, 10, 0), at(2, 8, 0), at(3, 20, 0)}},
			{"路灯", yushan, "大华广场", ldj, []time.Time{at(0, 0, 0), at(6, 23, 59)}},
			{"噪音", huashan, "", cgj, []time.Time{at(-6, 9, 0), at(-2, 9, 0), at(4, 9, 0)}},
			{"垃圾", yushan, "东方城二区", cgj, []time.Time{at(-1, 23, 30), at(0, 0, 10)}}, // Sunday night, then Monday just after midnight
			{"", huashan, "金色家园", gas, []time.Time{at(7, 0, 0), at(7, 1, 0)}},       // next week
		}
		clk := newFakeClock(prevFrom)
		d := New(st, Options{Now: clk.Now, Departments: testDepartments}, nil, nil)
		type post struct {
			at      time.Time
			p       int
			caseKey string
			repeat  bool
		}
		var posts []post
		for i, p := range problems {
			for j, when := range p.posts {
				caseKey := fmt.Sprint(i)
				if p.place == "" {
					caseKey = fmt.Sprint(i, "-", j)
				}
				posts = append(posts, post{at: when, p: i, caseKey: caseKey, repeat: p.place != "" && j > 0})
			}
		}
		slices.SortFunc(posts, func(a, b post) int { return a.at.Compare(b.at) })
		for n, ps := range posts {
			p := problems[ps.p]
			clk.Set(ps.at)
			tokens := []string{p.category + "问题", p.place, "已经", "好几天"}
			var places []model.PlaceMatch
			if p.place != "" {
				places = []model.PlaceMatch{{Text: p.place, Kind: "compound", District: p.district.Code}}
			} else {
				tokens = []string{fmt.Sprint("地方", n), fmt.Sprint("情况", n)}
			}
			dec := decision(model.ChannelReplay, fmt.Sprint("sp", n), p.place+p.category+"的问题，电话13812345678", tokens, places, p.district, p.lead)
			dec.Category = p.category
			mustHandle(t, d, dec)
		}
		names := map[string]string{"ldj": ldj.Name, "cgj": cgj.Name} // gas has none
		got, err := BuildReport(ctx, st, at(3, 12, 0), to.Add(time.Hour), model.Shanghai, names)
		if err != nil {
			t.Fatal(err)
		}

		// Expected, from the plan.
		figures := func(from time.Time) (WeekFigures, map[string][2]int, map[string][2]int, map[string][2]int) {
			var f WeekFigures
			count := func() map[string][2]int { return map[string][2]int{} }
			bySubject, byDistrict, byPlace := count(), count(), count()
			seen := map[string]map[string]bool{}
			add := func(m map[string][2]int, kind, key, caseKey string) {
				c := m[key]
				c[0]++
				if seen[kind+key] == nil {
					seen[kind+key] = map[string]bool{}
				}
				if !seen[kind+key][caseKey] {
					seen[kind+key][caseKey] = true
					c[1]++
				}
				m[key] = c
			}
			for _, ps := range posts {
				if ps.at.Before(from) || !ps.at.Before(from.AddDate(0, 0, 7)) {
					continue
				}
				p := problems[ps.p]
				f.Posts++
				if ps.repeat {
					f.Repeats++
				} else {
					f.NewCases++
				}
				subject := p.category
				if subject == "" {
					subject = "未分类"
				}
				add(bySubject, "s", subject, ps.caseKey)
				add(byDistrict, "d", p.district.Name, ps.caseKey)
				if p.place != "" {
					add(byPlace, "p", p.place, ps.caseKey)
				}
			}
			return f, bySubject, byDistrict, byPlace
		}
		thisWeek, subjects, districts, places := figures(from)
		lastWeek, prevSubjects, prevDistricts, _ := figures(prevFrom)
		sp := got.Special
		if sp.ThisWeek != thisWeek || sp.LastWeek != lastWeek {
			t.Errorf("weeks = %+v / %+v, want %+v / %+v", sp.ThisWeek, sp.LastWeek, thisWeek, lastWeek)
		}
		for _, g := range []struct {
			name       string
			got        []Tally
			want, prev map[string][2]int
		}{{"subjects", sp.Subjects, subjects, prevSubjects}, {"districts", sp.Districts, districts, prevDistricts}, {"places", sp.Places, places, nil}} {
			if len(g.got) != len(g.want) {
				t.Errorf("%s = %+v, want %v", g.name, g.got, g.want)
			}
			for i, x := range g.got {
				w := g.want[x.Label]
				if x.Posts != w[0] || x.Cases != w[1] {
					t.Errorf("%s %s = %d posts, %d cases; want %v", g.name, x.Label, x.Posts, x.Cases, w)
				}
				if g.prev != nil && (x.PrevPosts == nil || *x.PrevPosts != g.prev[x.Label][0]) {
					t.Errorf("%s %s last week = %v, want %d", g.name, x.Label, x.PrevPosts, g.prev[x.Label][0])
				}
				if i > 0 && g.got[i-1].Posts < x.Posts {
					t.Errorf("%s not most posts first: %+v", g.name, g.got)
				}
			}
		}
		// Repeated: the problems with a place whose later posts fall in the week.
		wantRepeated := map[string][2]int{}
		for _, ps := range posts {
			if ps.repeat && !ps.at.Before(from) && ps.at.Before(to) {
				p := problems[ps.p]
				w := wantRepeated[p.place]
				w[0]++
				w[1] = len(p.posts)
				wantRepeated[p.place] = w
			}
		}
		if len(sp.Repeated) != len(wantRepeated) {
			t.Errorf("repeated = %+v, want %v", sp.Repeated, wantRepeated)
		}
		for _, c := range sp.Repeated {
			if w := wantRepeated[c.Place]; c.Repeats != w[0] || c.Posts != w[1] || c.LeadName == c.Lead || longDigits.MatchString(c.Words) {
				t.Errorf("repeated %+v, want %v repeats/posts, a lead name, no phone number", c, w)
			}
		}
		checkFormats(t, got)
	})
}
