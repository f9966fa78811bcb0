package weibo

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/mashangban/mashangban/model"
	"golang.org/x/net/html"
)

// Shanghai is the zone of every Weibo date without an explicit offset
// ("昨天 18:12", "12-16").
var Shanghai = model.Shanghai

// PlainText turns the HTML of an m.weibo.cn post into plain text: <br> becomes
// a newline, emoji images become their alt text ("[微笑]"), hashtags and
// mentions keep their visible text, the "全文" link of a truncated post is
// dropped, and every other tag is removed.
func PlainText(s string) string {
	if !strings.ContainsAny(s, "<&") {
		return cleanText(s)
	}
	var b strings.Builder
	z := html.NewTokenizer(strings.NewReader(s))
	skip := 0 // depth inside an anchor whose text is dropped
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			return cleanText(b.String())
		case html.TextToken:
			if skip == 0 {
				b.Write(z.Text())
			}
		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			switch string(name) {
			case "br":
				if skip == 0 {
					b.WriteByte('\n')
				}
			case "img":
				if skip > 0 || !hasAttr {
					continue
				}
				for {
					k, v, more := z.TagAttr()
					if string(k) == "alt" && len(v) > 0 {
						b.Write(v)
					}
					if !more {
						break
					}
				}
			case "a":
				if skip > 0 {
					if tt == html.StartTagToken {
						skip++
					}
					continue
				}
				if tt == html.StartTagToken && isFullTextLink(z, hasAttr) {
					skip = 1
				}
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			if string(name) == "a" && skip > 0 {
				skip--
			}
		}
	}
}

// isFullTextLink reports whether the anchor being tokenized is the
// `<a href="/status/<id>">全文</a>` link of a truncated long post.
func isFullTextLink(z *html.Tokenizer, hasAttr bool) bool {
	for hasAttr {
		k, v, more := z.TagAttr()
		if string(k) == "href" && strings.HasPrefix(string(v), "/status/") {
			return true
		}
		hasAttr = more
	}
	return false
}

// cleanText trims the zero-width and blank padding Weibo leaves around text
// and the trailing "..." of a truncated post.
func cleanText(s string) string {
	s = strings.ReplaceAll(s, "\u200b", "")
	s = strings.ReplaceAll(s, "\u00a0", " ")
	s = strings.TrimSpace(s)
	return s
}

// Count is a Weibo counter that arrives as a number or as a display string
// ("1.2万", "100万+", "3亿").
type Count int64

// UnmarshalJSON accepts numbers, numeric strings and 万/亿 strings.
func (c *Count) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*c = 0
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		n, err := ParseCount(s)
		if err != nil {
			return err
		}
		*c = Count(n)
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("count %s: %w", b, err)
	}
	*c = Count(f)
	return nil
}

// ParseCount reads a display count: "1.2万" is 12000, "100万+" is 1000000,
// "3亿" is 300000000, "" is 0.
func ParseCount(s string) (int64, error) {
	s = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), "+"))
	if s == "" {
		return 0, nil
	}
	mult := 1.0
	switch {
	case strings.HasSuffix(s, "万"):
		mult, s = 1e4, strings.TrimSuffix(s, "万")
	case strings.HasSuffix(s, "亿"):
		mult, s = 1e8, strings.TrimSuffix(s, "亿")
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || f < 0 || math.IsNaN(f) || math.IsInf(f, 0) || f*mult > math.MaxInt64/2 {
		return 0, fmt.Errorf("bad count %q", s)
	}
	return int64(math.Round(f * mult)), nil
}

var (
	reMinutesAgo = regexp.MustCompile(`^(\d{1,4})\s*分钟前$`)
	reHoursAgo   = regexp.MustCompile(`^(\d{1,3})\s*小时前$`)
	reSecondsAgo = regexp.MustCompile(`^(\d{1,4})\s*秒前$`)
	reDayClock   = regexp.MustCompile(`^(昨天|今天)\s*(\d{1,2}):(\d{2})$`)
	reMonthDay   = regexp.MustCompile(`^(\d{1,2})-(\d{1,2})(?:\s+(\d{1,2}):(\d{2}))?$`)
	reColonSpace = regexp.MustCompile(`:\s+`)
)

// ParseCreatedAt reads every created_at form Weibo uses: RubyDate
// ("Wed Oct 19 15:49:02 +0800 2022"), and the relative forms of older
// m.weibo.cn responses ("刚刚", "N秒前", "N分钟前", "N小时前", "昨天 HH:MM",
// "今天 HH:MM", "MM-DD", "MM-DD HH:MM", "YYYY-MM-DD"). Relative forms are
// resolved against now in Asia/Shanghai; a "MM-DD" later than now is taken
// as last year.
func ParseCreatedAt(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RubyDate, s); err == nil {
		return t, nil
	}
	// A captured deleted-post card reads "Wed Oct 26 17: 29: 30 +0800 2022".
	if strings.Contains(s, ": ") {
		if t, err := time.Parse(time.RubyDate, reColonSpace.ReplaceAllString(s, ":")); err == nil {
			return t, nil
		}
	}
	now = now.In(Shanghai)
	if s == "刚刚" {
		return now, nil
	}
	if m := reSecondsAgo.FindStringSubmatch(s); m != nil {
		n, _ := strconv.Atoi(m[1])
		return now.Add(-time.Duration(n) * time.Second), nil
	}
	if m := reMinutesAgo.FindStringSubmatch(s); m != nil {
		n, _ := strconv.Atoi(m[1])
		return now.Add(-time.Duration(n) * time.Minute), nil
	}
	if m := reHoursAgo.FindStringSubmatch(s); m != nil {
		n, _ := strconv.Atoi(m[1])
		return now.Add(-time.Duration(n) * time.Hour), nil
	}
	if m := reDayClock.FindStringSubmatch(s); m != nil {
		h, _ := strconv.Atoi(m[2])
		mi, _ := strconv.Atoi(m[3])
		if h > 23 || mi > 59 {
			return time.Time{}, fmt.Errorf("bad created_at %q", s)
		}
		d := now
		if m[1] == "昨天" {
			d = now.AddDate(0, 0, -1)
		}
		return time.Date(d.Year(), d.Month(), d.Day(), h, mi, 0, 0, Shanghai), nil
	}
	if m := reMonthDay.FindStringSubmatch(s); m != nil {
		mo, _ := strconv.Atoi(m[1])
		d, _ := strconv.Atoi(m[2])
		h, mi := 0, 0
		if m[3] != "" {
			h, _ = strconv.Atoi(m[3])
			mi, _ = strconv.Atoi(m[4])
		}
		if mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 {
			return time.Time{}, fmt.Errorf("bad created_at %q", s)
		}
		t := time.Date(now.Year(), time.Month(mo), d, h, mi, 0, 0, Shanghai)
		if t.After(now) {
			t = t.AddDate(-1, 0, 0)
		}
		return t, nil
	}
	for _, layout := range []string{"2006-01-02", "2006-01-02 15:04", "2006-01-02 15:04:05"} {
		if t, err := time.ParseInLocation(layout, s, Shanghai); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("bad created_at %q", s)
}

// RegionHint turns region_name ("发布于 安徽") into a region ("安徽").
func RegionHint(s string) string {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "发布于")
	return strings.TrimSpace(s)
}

// LargePicture rewrites a sinaimg URL of any size (thumbnail, bmiddle,
// orj360, mw690...) to its "large" form.
func LargePicture(u string) string {
	// https://wx3.sinaimg.cn/orj360/006iQ...jpg: the size is the first path segment.
	i := strings.Index(u, "sinaimg.cn/")
	if i < 0 {
		return u
	}
	rest := u[i+len("sinaimg.cn/"):]
	j := strings.IndexByte(rest, '/')
	if j <= 0 {
		return u
	}
	return u[:i+len("sinaimg.cn/")] + "large" + rest[j:]
}
