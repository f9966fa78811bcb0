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

// TestMaskPublic: the public page's rules, stricter than Mask's.
func TestMaskPublic(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"电话13812345678", "电话138****5678"},
		{"电话138-1234-5678。", "电话138****5678。"},
		{"电话138 1234 5678", "电话138****5678"},
		{"电话１３８１２３４５６７８", "电话138****5678"},
		{"身份证34050319900101123X", "身份证340***********123X"},
		{"身份证340503199001011234号", "身份证340***********1234号"},
		{"座机0555-87654321", "座机********4321"},
		{"卡号6222021234567890123", "卡号***************0123"},
		{"2026年11月26日晚上11点，3栋502室，200元", "2026年11月26日晚上11点，3栋502室，200元"},
		{"办件MSB-20261126-0042", "办件MSB-20261126-0042"},
		{"20261126", "20261126"},
		{"Tel13812345678", "Tel138****5678"},
		{"写信到 a.b+c@mail.example.cn 或", "写信到 ***@mail.example.cn 或"},
		{"//@热心市民张三:转发 @李四 看看", "//@用户:转发 @用户 看看"},
		{"bad\xffutf8", "bad\uFFFDutf8"},
		// Mask's rules apply too: a landline after its bracketed area code
		// or after 电话 is hidden on the public page as in the logs.
		{"(0555)2345678 办公室", "*********78 办公室"},
		{"电话：2345678。", "电话：*****78。"},
	} {
		if got := MaskPublic(tc.in); got != tc.want {
			t.Errorf("MaskPublic(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
