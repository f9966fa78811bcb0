package reply

import (
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// WeiboMaxUnits is the comment limit of Weibo's comments/create (20012
// above it), in the units WeiboLength counts.
const WeiboMaxUnits = 140

var (
	reURL     = regexp.MustCompile(`https?://[!-~]+`)
	reHashtag = regexp.MustCompile(`#[^#\n]{1,64}#`)
)

// WeiboLength counts text the way Weibo clients do (docs/external-apis.md):
// a CJK (or any non-ASCII) character is one unit, two ASCII characters are
// one unit (rounded up), and a URL counts as 20 units whatever its length
// (it is shortened to t.cn; 20 is the upper end of what clients count).
func WeiboLength(s string) int {
	half := 0
	rest := reURL.ReplaceAllStringFunc(s, func(string) string {
		half += 40
		return ""
	})
	for _, r := range rest {
		if r < utf8.RuneSelf {
			half++
		} else {
			half += 2
		}
	}
	return (half + 1) / 2
}

// cleanWeibo drops hashtag marks ("#马上办#" becomes "马上办": comments with
// topics are refused by some clients) and collapses whitespace.
func cleanWeibo(text string) string {
	text = reHashtag.ReplaceAllStringFunc(text, func(h string) string { return strings.Trim(h, "#") })
	text = strings.NewReplacer("#", "", "＃", "").Replace(text)
	return strings.Join(strings.Fields(text), " ")
}

// cutWeibo is the last resort for a Weibo text that is too long even with
// the citizen-facing words shortened: the text is cut with "…" and the case
// number, moved to the end if the cut would lose it, is always kept.
func cutWeibo(text, caseNo string) string {
	text = cleanWeibo(text)
	suffix := ""
	if caseNo != "" && !strings.Contains(text, caseNo) {
		suffix = "（编号" + caseNo + "）"
	}
	if WeiboLength(text+suffix) <= WeiboMaxUnits {
		return text + suffix
	}
	if suffix == "" && caseNo != "" {
		text = strings.Replace(text, caseNo, "", 1)
		suffix = "（编号" + caseNo + "）"
	}
	runes := []rune(text)
	// Drop whole runes until the rest fits; a URL that would be cut in the
	// middle is dropped with them.
	n := len(runes)
	for n > 0 && WeiboLength(string(runes[:n])+"…"+suffix) > WeiboMaxUnits {
		n--
	}
	return strings.TrimSpace(string(runes[:n])) + "…" + suffix
}

// ellipsis cuts s to at most n runes, ending with "…" when it was cut.
func ellipsis(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	if n <= 0 {
		return ""
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// Thing makes s a WeChat thing value: at most 20 characters, one line;
// empty input gives def (a thing value may not be empty).
func Thing(s, def string) string {
	s = strings.Join(strings.Fields(s), " ")
	if s == "" {
		s = def
	}
	return ellipsis(s, 20)
}

// CharacterString makes s a WeChat character_string value: printable ASCII
// letters, digits and symbols only, at most 32.
func CharacterString(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < 0x7f && r > 0x20 {
			b.WriteRune(r)
		}
	}
	out := b.String()
	if len(out) > 32 {
		out = out[:32]
	}
	return out
}

// IsPhrase reports whether s is a valid WeChat phrase value: one to five
// Chinese characters and nothing else.
func IsPhrase(s string) bool {
	n := 0
	for _, r := range s {
		if !unicode.Is(unicode.Han, r) {
			return false
		}
		n++
	}
	return n >= 1 && n <= 5
}

// TimeValue is a WeChat time value: "2006年01月02日 15:04" in loc.
func TimeValue(t time.Time, loc *time.Location) string {
	return t.In(loc).Format("2006年01月02日 15:04")
}
