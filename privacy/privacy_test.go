package privacy

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

func TestMask(t *testing.T) {
	tests := []struct {
		in, want string
		secret   string // must not survive, with separators removed
	}{
		{"我的电话13912345678，请联系", "我的电话139****5678，请联系", "13912345678"},
		{"+86 139-1234-5678", "+861******5678", "13912345678"},
		{"手机 139 1234 5678 谢谢", "手机 139****5678 谢谢", "13912345678"},
		{"座机0555-2345678", "座机055****5678", "05552345678"},
		{"(0555)2345678 办公室", "*********78 办公室", "2345678"},
		{"电话：2345678。", "电话：*****78。", "2345678"},
		{"Tel 23456789", "Tel ******89", "23456789"},
		{"身份证34050419900101123X", "身份证340***********123X", "34050419900101123X"},
		{"身份证号34050419900101123x结束", "身份证号340***********123x结束", "34050419900101123x"},
		{"全角１３９１２３４５６７８", "全角１３９****５６７８", "１３９１２３４５６７８"},
		{"post weibo:5030112233445566 in MSB-20261126-0042 and T-20261126-0001", "post weibo:5030112233445566 in MSB-20261126-0042 and T-20261126-0001", ""},
		{"weibo:13912345678", "weibo:139****5678", "13912345678"},
		{"2026年11月26日 湖东路10栋120室 电话不通", "2026年11月26日 湖东路10栋120室 电话不通", ""},
		{"no digits at all", "no digits at all", ""},
	}
	for _, tt := range tests {
		got := Mask(tt.in)
		if got != tt.want {
			t.Errorf("Mask(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if tt.secret != "" && strings.Contains(strings.NewReplacer(" ", "", "-", "").Replace(got), tt.secret) {
			t.Errorf("Mask(%q) = %q still holds %s", tt.in, got, tt.secret)
		}
	}
}

type stringer struct{}

func (stringer) String() string { return "author 13912345678" }

func TestHandler(t *testing.T) {
	var buf bytes.Buffer
	l := Logger(slog.New(slog.NewTextHandler(&buf, nil)))
	if Logger(l) != l {
		t.Error("Logger wraps a masking logger twice")
	}
	l = l.With("author", "张三 13800001111")
	l.WithGroup("post").Info("text 13912345678",
		"text", "我的身份证34050419900101123X",
		"error", errors.New(`line 3: id "13700002222" does not match`),
		"who", stringer{},
		"raw", []byte(`{"phone":"13600003333"}`),
		slog.Group("g", "n", "13500004444"),
		"count", 13912345678,
		"post_id", "weibo:5030112233445566")
	out := buf.String()
	for _, secret := range []string{"13800001111", "13912345678", "34050419900101123X", "13700002222", "13600003333", "13500004444"} {
		if strings.Contains(out, secret) {
			t.Errorf("log line holds %s:\n%s", secret, out)
		}
	}
	for _, kept := range []string{"weibo:5030112233445566", "139****5678", "340***********123X"} {
		if !strings.Contains(out, kept) {
			t.Errorf("log line lacks %s:\n%s", kept, out)
		}
	}
}
