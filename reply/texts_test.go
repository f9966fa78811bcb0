package reply

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/mashangban/mashangban/model"
	"github.com/mashangban/mashangban/rules"
	defaultrules "github.com/mashangban/mashangban/rules/default"
)

var channels = []model.Channel{model.ChannelWeibo, model.ChannelWeChat, model.ChannelReplay}

// longestDepartment is the longest department name of the built-in rule set.
func longestDepartment(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if _, err := defaultrules.WriteTo(dir); err != nil {
		t.Fatal(err)
	}
	rs, err := rules.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	long := ""
	for _, d := range rs.Departments {
		if utf8.RuneCountInString(d.Name) > utf8.RuneCountInString(long) {
			long = d.Name
		}
	}
	if long == "" {
		t.Fatal("the built-in rule set names no department")
	}
	return long
}

// checkChannel checks m against ch's rules and that it carries caseNo.
func checkChannel(t *testing.T, ch model.Channel, m Message, caseNo string) {
	t.Helper()
	if !strings.Contains(m.Text, caseNo) {
		t.Errorf("case number %q missing: %q", caseNo, m.Text)
	}
	if !utf8.ValidString(m.Text) {
		t.Errorf("invalid UTF-8: %q", m.Text)
	}
	switch ch {
	case model.ChannelWeibo:
		if n := WeiboLength(m.Text); n > WeiboMaxUnits {
			t.Errorf("weibo text is %d units > %d: %q", n, WeiboMaxUnits, m.Text)
		}
		if strings.ContainsAny(m.Text, "#＃") {
			t.Errorf("hashtag mark left: %q", m.Text)
		}
	case model.ChannelWeChat:
		if n := utf8.RuneCountInString(m.Title); n == 0 || n > 20 || strings.ContainsAny(m.Title, "\n\r") {
			t.Errorf("title is not a thing value (%d characters): %q", n, m.Title)
		}
		if !IsPhrase(m.Status) {
			t.Errorf("status is not a phrase: %q", m.Status)
		}
		if cs := CharacterString(caseNo); cs != caseNo {
			t.Errorf("case number %q is not a character_string value (%q)", caseNo, cs)
		}
	}
}

// TestEveryTemplateWithinLimits renders every template for every channel
// with the longest department name of the built-in rule set, the longest
// case number and long citizen and department words.
func TestEveryTemplateWithinLimits(t *testing.T) {
	t.Parallel()
	set := Default()
	long := longestDepartment(t)
	words := strings.Repeat("楼道窗户脱落，存在安全隐患，请尽快处理。", 20)
	data := []struct {
		name string
		d    Data
	}{
		{"longest", Data{CaseNo: "MSB-20261231-99999", Lead: long, Dept: long, To: long, From: "MSB-20261231-99998",
			District: "花山区、雨山区", Problem: words, Text: words, Count: 99999, Claim: "24小时", Reply: "72小时", Close: "7天",
			Link: "https://mashangban.example.gov.cn/c/MSB-20261231-99999"}},
		{"without free text", Data{CaseNo: "MSB-20261231-99999", Lead: long, Dept: long, To: long, From: "MSB-20261231-99998",
			Count: 2, Claim: "90分钟", Reply: "12小时", Close: "30天"}},
		{"hashtags in the words", Data{CaseNo: "MSB-20261126-0001", Lead: long, Dept: long, To: long, From: "MSB-20261126-0002",
			Problem: "#马上办# 路灯不亮", Text: "#马上办# 已修复", Count: 3, Claim: "24小时", Reply: "72小时", Close: "7天"}},
	}
	for _, name := range Names {
		for _, ch := range channels {
			for _, dd := range data {
				t.Run(name+"/"+string(ch)+"/"+dd.name, func(t *testing.T) {
					m, err := set.Render(ch, name, dd.d)
					if err != nil {
						t.Fatal(err)
					}
					checkChannel(t, ch, m, dd.d.CaseNo)
					for _, code := range []string{"cgj", "huashan", "district."} {
						if strings.Contains(m.Text, code) {
							t.Errorf("department code %q in %q", code, m.Text)
						}
					}
				})
			}
		}
	}
}

func TestRenderTexts(t *testing.T) {
	t.Parallel()
	set := Default()
	d := Data{CaseNo: "MSB-20261126-0042", Lead: "市城市管理局", Dept: "市城市管理局", To: "花山区城市管理局", Problem: "路灯不亮",
		Count: 2, Claim: "2小时", Reply: "12小时", Close: "72小时"}
	tests := []struct {
		ch     model.Channel
		name   string
		d      func(Data) Data
		want   string
		status string
	}{
		{model.ChannelWeibo, Ack, nil, "您反映的问题已收到，办件编号MSB-20261126-0042，已转交市城市管理局办理，2小时内签收，12小时内答复，72小时内办结。", "已受理"},
		{model.ChannelReplay, Ack, func(d Data) Data { d.Link = "https://msb.example.cn/c/MSB-20261126-0042"; return d },
			"您反映的问题已收到，办件编号MSB-20261126-0042，已转交市城市管理局办理，2小时内签收，12小时内答复，72小时内办结。办理进度：https://msb.example.cn/c/MSB-20261126-0042", "已受理"},
		{model.ChannelWeChat, Merge, nil, "您反映的问题此前已有市民反映，已并入办件MSB-20261126-0042，由市城市管理局办理中。您是第2位反映此问题的市民。", "已受理"},
		{model.ChannelWeChat, Transfer, nil, "您反映的问题（办件编号MSB-20261126-0042）已由市城市管理局转交花山区城市管理局办理。", "已转办"},
		{model.ChannelWeibo, Resolve, nil, "【市城市管理局】您反映的问题已办理完毕，感谢您的监督。（办件编号MSB-20261126-0042）", "已办结"},
		{model.ChannelWeibo, Progress, func(d Data) Data { d.Text = "已安排维修"; return d }, "【市城市管理局】已安排维修（办件编号MSB-20261126-0042）", "处理中"},
		{model.ChannelWeChat, Triage, func(d Data) Data { d.CaseNo = "T-20261126-0001"; return d },
			"您反映的问题已收到（登记号T-20261126-0001），正在分派办理部门，分派后将告知您办件编号。", "分派中"},
	}
	for _, tt := range tests {
		t.Run(tt.name+"/"+string(tt.ch), func(t *testing.T) {
			in := d
			if tt.d != nil {
				in = tt.d(d)
			}
			m, err := set.Render(tt.ch, tt.name, in)
			if err != nil {
				t.Fatal(err)
			}
			if m.Text != tt.want || m.Status != tt.status {
				t.Errorf("got %q (%s), want %q (%s)", m.Text, m.Status, tt.want, tt.status)
			}
		})
	}
}

// TestWeiboShortensTheMiddle: a long answer is shortened inside the text;
// the department's name and the case number at the end stay whole.
func TestWeiboShortensTheMiddle(t *testing.T) {
	t.Parallel()
	d := Data{CaseNo: "MSB-20261231-99999", Dept: "花山区城市管理局", Text: strings.Repeat("已安排人员到现场处理。", 30)}
	m, err := Default().Render(model.ChannelWeibo, Progress, d)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(m.Text, "【花山区城市管理局】已安排") || !strings.HasSuffix(m.Text, "…（办件编号MSB-20261231-99999）") {
		t.Errorf("got %q", m.Text)
	}
	if n := WeiboLength(m.Text); n > WeiboMaxUnits || n < WeiboMaxUnits-2 {
		t.Errorf("length %d, want the most that fits in %d", n, WeiboMaxUnits)
	}
}

func TestCutWeibo(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("您反映的问题我们已经收到并高度重视", 12)
	tests := []struct {
		name, text, caseNo string
		want               string // "" means only the invariants are checked
	}{
		{"fits", "您反映的问题已收到，编号MSB-20261126-0001。", "MSB-20261126-0001", "您反映的问题已收到，编号MSB-20261126-0001。"},
		{"case number added", "您反映的问题已收到。", "MSB-20261126-0002", "您反映的问题已收到。（编号MSB-20261126-0002）"},
		{"hashtags dropped", "#马上办# 已转交#市城市管理局#办理", "MSB-20261126-0003", "马上办 已转交市城市管理局办理（编号MSB-20261126-0003）"},
		{"stray hash", "第#3号", "MSB-1", "第3号（编号MSB-1）"},
		{"too long", long, "MSB-20261126-0004", ""},
		{"too long with case number inside", "编号MSB-20261126-0005，" + long, "MSB-20261126-0005", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := cutWeibo(tt.text, tt.caseNo)
			if tt.want != "" && got != tt.want {
				t.Errorf("cutWeibo = %q, want %q", got, tt.want)
			}
			checkChannel(t, model.ChannelWeibo, Message{Text: got}, tt.caseNo)
		})
	}
}

func FuzzCutWeibo(f *testing.F) {
	f.Add("#马上办# 您反映的问题已收到", "MSB-20261126-0001")
	f.Add(strings.Repeat("很长的回复", 40), "MSB-20261126-9999")
	f.Add("##", "MSB-1")
	f.Add("编号MSB-1在这里"+strings.Repeat("字", 200), "MSB-1")
	f.Add("详见 https://example.com/"+strings.Repeat("a", 300), "MSB-1")
	f.Fuzz(func(t *testing.T, text, caseNo string) {
		if !utf8.ValidString(text) || !utf8.ValidString(caseNo) || strings.ContainsAny(caseNo, "#＃") || utf8.RuneCountInString(caseNo) > 40 ||
			strings.ContainsFunc(caseNo, unicode.IsSpace) || caseNo == "" {
			return // case numbers are ours: short, no spaces, no '#'
		}
		checkChannel(t, model.ChannelWeibo, Message{Text: cutWeibo(text, caseNo)}, caseNo)
	})
}

func TestWeiboLength(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want int
	}{
		{"您的诉求已收到", 7},
		{"abcd", 2},
		{"abc", 2},
		{"编号MSB-20261126-0042", 2 + 9}, // 18 ASCII → 9
		{"详见 https://example.com/a/very/long/path/that/is/long", 1 + 2 + 20},
		{"[微笑]", 3}, // ] and [ are ASCII halves
	}
	for _, tt := range tests {
		if got := WeiboLength(tt.in); got != tt.want {
			t.Errorf("WeiboLength(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestWeChatValues(t *testing.T) {
	t.Parallel()
	if got := Thing("  小区门口的路灯坏了好几天了，晚上出行非常不方便，请尽快修理\n谢谢  ", ""); got != "小区门口的路灯坏了好几天了，晚上出行非…" {
		t.Errorf("Thing = %q", got)
	}
	if got := Thing("", "默认"); got != "默认" {
		t.Errorf("empty thing = %q", got)
	}
	if got := CharacterString("编号MSB-1号 x"); got != "MSB-1x" {
		t.Errorf("CharacterString kept non-ASCII or spaces: %q", got)
	}
	if got := CharacterString(strings.Repeat("A", 40)); len(got) != 32 {
		t.Errorf("CharacterString kept %d characters", len(got))
	}
	for s, want := range map[string]bool{"已受理": true, "abc": false, "已受理已受理": false, "": false, "已 受理": false} {
		if IsPhrase(s) != want {
			t.Errorf("IsPhrase(%q) = %v", s, !want)
		}
	}
	at := time.Date(2026, 11, 26, 1, 21, 0, 0, time.UTC)
	if got := TimeValue(at, model.Shanghai); got != "2026年11月26日 09:21" {
		t.Errorf("TimeValue = %q", got)
	}
}

func TestDuration(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{
		time.Hour: "1小时", 2 * time.Hour: "2小时", 24 * time.Hour: "24小时", 72 * time.Hour: "72小时",
		96 * time.Hour: "4天", 7 * 24 * time.Hour: "7天", 90 * time.Minute: "90分钟", 30 * time.Second: "1分钟", 0: "",
	} {
		if got := Duration(d); got != want {
			t.Errorf("Duration(%s) = %q, want %q", d, got, want)
		}
	}
}

func TestLoadOverride(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	src := "{{.Lead}}已受理您的诉求，编号{{.CaseNo}}，{{.Reply}}内答复。\n{{- define \"weibo\"}}已转{{.Lead}}，编号{{.CaseNo}}{{end}}\n{{- define \"status\"}}已登记{{end}}\n"
	if err := os.WriteFile(filepath.Join(dir, "ack.tmpl"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "README.md"), []byte("not a template"), 0o644); err != nil {
		t.Fatal(err)
	}
	set, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := set.Source(Ack); got != filepath.Join(dir, "ack.tmpl") {
		t.Errorf("ack from %q", got)
	}
	if got := set.Source(Merge); got != "built-in" {
		t.Errorf("merge from %q", got)
	}
	d := Data{CaseNo: "MSB-20261126-0042", Lead: "市城市管理局", Reply: "4小时"}
	for ch, want := range map[model.Channel]string{
		model.ChannelWeibo:  "已转市城市管理局，编号MSB-20261126-0042",
		model.ChannelWeChat: "市城市管理局已受理您的诉求，编号MSB-20261126-0042，4小时内答复。",
	} {
		m, err := set.Render(ch, Ack, d)
		if err != nil {
			t.Fatal(err)
		}
		if m.Text != want || m.Status != "已登记" {
			t.Errorf("%s: %q (%s), want %q (已登记)", ch, m.Text, m.Status, want)
		}
	}
}

func TestLoadBad(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, file, src string
		want            []string // all must be in the error
	}{
		{"parse error", "ack.tmpl", "编号{{.CaseNo}}\n{{if .Link}}链接\n{{- define \"status\"}}已受理{{end}}", []string{"ack.tmpl:", "unexpected"}},
		{"no case number", "transfer.tmpl", "已转交{{.To}}办理。{{define \"status\"}}已转办{{end}}", []string{"transfer.tmpl", "case number"}},
		{"case number only in one part", "progress.tmpl", "{{.Text}}{{.CaseNo}}{{define \"weibo\"}}{{.Text}}{{end}}{{define \"status\"}}处理中{{end}}", []string{"progress.tmpl", "weibo text does not contain the case number"}},
		{"unknown template", "acknowledgment.tmpl", "编号{{.CaseNo}}", []string{"acknowledgment.tmpl", `unknown template "acknowledgment"`}},
		{"unknown part", "ack.tmpl", "编号{{.CaseNo}}{{define \"sms\"}}x{{end}}{{define \"status\"}}已受理{{end}}", []string{"ack.tmpl", `unknown part "sms"`}},
		{"unknown field", "resolve.tmpl", "编号{{.CaseNo}}{{.Deadline}}{{define \"status\"}}已办结{{end}}", []string{"resolve.tmpl:1:", "Deadline"}},
		{"status not a phrase", "merge.tmpl", "编号{{.CaseNo}}{{define \"status\"}}merged{{end}}", []string{"merge.tmpl", "not a WeChat phrase"}},
		{"no status", "merge.tmpl", "编号{{.CaseNo}}", []string{"merge.tmpl", "no status part"}},
		{"weibo too long", "ack.tmpl", strings.Repeat("您反映的问题已收到", 15) + "{{.CaseNo}}{{define \"status\"}}已受理{{end}}", []string{"ack.tmpl", "units with the longest names"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, tt.file), []byte(tt.src), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Load(dir)
			if err == nil {
				t.Fatal("loaded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing dir: %v", err)
	}
}

// FuzzRender: whatever the citizen's and department's words, every
// template's Weibo text keeps the case number within 140 units and the
// WeChat values keep their types.
func FuzzRender(f *testing.F) {
	f.Add("路灯不亮", "已修复", "市城市管理局")
	f.Add(strings.Repeat("很长", 300), strings.Repeat("#话题# http://t.cn/abc ", 30), "花山区城市管理局")
	f.Add("", "", "")
	f.Add("\x00\n\t", "😡😡😡", strings.Repeat("局", 40))
	set := Default()
	f.Fuzz(func(t *testing.T, problem, text, dept string) {
		if !utf8.ValidString(problem) || !utf8.ValidString(text) || !utf8.ValidString(dept) {
			return // the store keeps valid UTF-8 only
		}
		d := Data{CaseNo: "MSB-20261126-0042", Lead: dept, Dept: dept, To: dept, From: "MSB-20261126-0001", Problem: problem, Text: text,
			Count: 2, Claim: "24小时", Reply: "72小时", Close: "7天"}
		for _, name := range Names {
			for _, ch := range channels {
				m, err := set.Render(ch, name, d)
				if err != nil {
					t.Fatal(err)
				}
				checkChannel(t, ch, m, d.CaseNo)
			}
		}
	})
}
