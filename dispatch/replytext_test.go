package dispatch

import (
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/mashangban/mashangban/model"
)

func TestShapeWeibo(t *testing.T) {
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
		{"triage reference", "已收到（登记号T-20261126-0001）", "T-20261126-0001", "已收到（登记号T-20261126-0001）"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := shapeWeibo(tt.text, tt.caseNo)
			if tt.want != "" && got != tt.want {
				t.Errorf("shapeWeibo = %q, want %q", got, tt.want)
			}
			checkWeibo(t, got, tt.caseNo)
		})
	}
}

func checkWeibo(t *testing.T, s, caseNo string) {
	t.Helper()
	if n := utf8.RuneCountInString(s); n > weiboMaxRunes {
		t.Errorf("%d characters > %d: %q", n, weiboMaxRunes, s)
	}
	if strings.Contains(s, "#") {
		t.Errorf("hashtag left: %q", s)
	}
	if !strings.Contains(s, caseNo) {
		t.Errorf("case number %q missing: %q", caseNo, s)
	}
	if !utf8.ValidString(s) {
		t.Errorf("invalid UTF-8: %q", s)
	}
}

func FuzzShapeWeibo(f *testing.F) {
	f.Add("#马上办# 您反映的问题已收到", "MSB-20261126-0001")
	f.Add(strings.Repeat("很长的回复", 40), "MSB-20261126-9999")
	f.Add("##", "MSB-1")
	f.Add("编号MSB-1在这里"+strings.Repeat("字", 200), "MSB-1")
	f.Fuzz(func(t *testing.T, text, caseNo string) {
		if !utf8.ValidString(text) || !utf8.ValidString(caseNo) || strings.ContainsRune(caseNo, '#') || utf8.RuneCountInString(caseNo) > 40 ||
			strings.TrimSpace(caseNo) != caseNo || strings.ContainsFunc(caseNo, unicode.IsSpace) || caseNo == "" {
			return // case numbers are ours: short, no spaces, no '#'
		}
		checkWeibo(t, shapeWeibo(text, caseNo), caseNo)
	})
}

func TestWeChatFieldsWithinLimits(t *testing.T) {
	t.Parallel()
	d := New(nil, Options{WeChat: WeChatFields{Department: "thing5"}}, nil, nil)
	at := time.Date(2026, 11, 26, 1, 21, 0, 0, time.UTC)
	f := d.wechatFields("  小区门口的路灯坏了好几天了，晚上出行非常不方便，请尽快修理\n谢谢  ", "MSB-20261126-0042", "已受理 ok", "市城市管理局（城市综合执法）直属执法第一大队", at)
	want := map[string]string{
		"thing1":            "小区门口的路灯坏了好几天了，晚上出行非…",
		"character_string2": "MSB-20261126-0042",
		"phrase3":           "已受理",
		"time4":             "2026年11月26日 09:21",
		"thing5":            "市城市管理局（城市综合执法）直属执法第…",
	}
	for k, v := range want {
		if f[k] != v {
			t.Errorf("%s = %q, want %q", k, f[k], v)
		}
		if strings.HasPrefix(k, "thing") && utf8.RuneCountInString(f[k]) > 20 {
			t.Errorf("%s has %d characters", k, utf8.RuneCountInString(f[k]))
		}
	}
	if f := New(nil, Options{}, nil, nil).wechatFields("x", "MSB-1", "已受理", "市城市管理局", at); len(f) != 4 || f["thing5"] != "" {
		t.Errorf("default template fields = %v, want the four keywords of the example template", f)
	}
	if got := characterString("编号MSB-1号"); got != "MSB-1" {
		t.Errorf("characterString kept non-ASCII: %q", got)
	}
	if got := phraseValue("abc"); got != "已受理" {
		t.Errorf("phraseValue(abc) = %q, want the default", got)
	}
	if got := thingValue("", "默认"); got != "默认" {
		t.Errorf("empty thing = %q", got)
	}
}

func TestRenderAck(t *testing.T) {
	t.Parallel()
	data := model.AckData{CaseNo: "MSB-20261126-0042", Lead: "市城市管理局", District: "花山区"}
	tests := []struct {
		tmpl    string
		repeat  bool
		want    string
		wantErr bool
	}{
		{"", false, "您反映的问题已收到，办件编号MSB-20261126-0042，已转交市城市管理局办理，我们将在72小时内答复。", false},
		{"", true, "您反映的问题此前已有市民反映，已并入办件MSB-20261126-0042，由市城市管理局办理中。", false},
		{"您反映的问题已转交{{.Lead}}办理，编号{{.CaseNo}}，我们将在72小时内答复。", false, "您反映的问题已转交市城市管理局办理，编号MSB-20261126-0042，我们将在72小时内答复。", false},
		{"{{.Nope}}", false, "", true},
		{"{{if}}", false, "", true},
	}
	for _, tt := range tests {
		data.Repeat = tt.repeat
		got, err := renderAck(tt.tmpl, data)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("renderAck(%q) = %q, %v; want %q (error %v)", tt.tmpl, got, err, tt.want, tt.wantErr)
		}
	}
}
