// Package weibofake runs in-process fakes of m.weibo.cn and the Weibo Open
// API v2 for tests and for the demo mode. They follow the project's
// docs/external-apis.md §1, §2, §4 and §5 to the field: envelopes, ID types
// (string IDs on m.weibo.cn, number + idstr on the Open API), RubyDate and
// relative dates, HTML text, error bodies and codes, hourly quotas. A test
// can make them misbehave: 418 bursts, 5xx, truncated or non-JSON bodies,
// login walls, token expiry, pages that repeat or reorder, posts deleted
// between pages.
//
// It is not a general Weibo emulator: only the endpoints mashangban calls
// exist, and only with the parameters it sends.
package weibofake

import (
	"fmt"
	"html"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Post is a post held by a fake. Text is plain text as the citizen typed it;
// the fakes render it as each API does (HTML on m.weibo.cn, plain on the
// Open API).
type Post struct {
	ID         int64
	UID        int64
	ScreenName string
	Text       string
	CreatedAt  time.Time
	// Pics are picture IDs (pid); URLs are built per size.
	Pics []string
	// Region is the IP province shown as "发布于 <Region>" on m.weibo.cn.
	Region string
	// Location is the user's profile location on the Open API ("安徽 马鞍山").
	Location string
	// Geo is latitude, longitude (Open API order); nil for none.
	Geo *[2]float64
	// Mentions marks a post that @s the city's account (statuses/mentions).
	Mentions bool
}

var (
	reTopic   = regexp.MustCompile(`#[^#\s]{1,40}#`)
	reMention = regexp.MustCompile(`@[\p{Han}\w\-]{1,30}`)
	reEmoji   = regexp.MustCompile(`\[[\p{Han}a-z]{1,8}\]`)
)

// Topics returns the hashtags in the post text, without the # marks.
func (p *Post) Topics() []string {
	var out []string
	for _, m := range reTopic.FindAllString(p.Text, -1) {
		out = append(out, strings.Trim(m, "#"))
	}
	return out
}

// HasTopic reports whether the post carries #topic#.
func (p *Post) HasTopic(topic string) bool {
	return strings.Contains(p.Text, "#"+strings.Trim(topic, "#")+"#")
}

// mobileHTML renders plain text the way m.weibo.cn does: <br /> for line
// breaks, topic anchors with surl-text spans, mention anchors, emoji images
// with the code as alt text.
func mobileHTML(text string) string {
	type span struct {
		start, end int
		html       string
	}
	var spans []span
	for _, m := range reTopic.FindAllStringIndex(text, -1) {
		t := text[m[0]:m[1]]
		q := strings.ReplaceAll(urlQueryEscape("#"+strings.Trim(t, "#")+"#"), "+", "%20")
		spans = append(spans, span{m[0], m[1], `<a  href="https://m.weibo.cn/search?containerid=231522type%3D1%26t%3D10%26q%3D` + q +
			`&extparam=` + q + `&luicode=10000011&lfid=100103type%3D61" data-hide=""><span class="surl-text">` + html.EscapeString(t) + `</span></a>`})
	}
	for _, m := range reMention.FindAllStringIndex(text, -1) {
		n := text[m[0]+1 : m[1]]
		spans = append(spans, span{m[0], m[1], `<a href='/n/` + n + `'>@` + html.EscapeString(n) + `</a>`})
	}
	for _, m := range reEmoji.FindAllStringIndex(text, -1) {
		e := text[m[0]:m[1]]
		spans = append(spans, span{m[0], m[1], `<span class="url-icon"><img alt=` + e +
			` src="//h5.sinaimg.cn/m/emoticon/icon/default/d_hehe-0be7e6251f.png" style="width:1em; height:1em;" /></span>`})
	}
	var b strings.Builder
	pos := 0
	for pos < len(text) {
		var best *span
		for i := range spans {
			s := &spans[i]
			if s.start >= pos && (best == nil || s.start < best.start) {
				best = s
			}
		}
		end := len(text)
		if best != nil {
			end = best.start
		}
		b.WriteString(strings.ReplaceAll(html.EscapeString(text[pos:end]), "\n", "<br />"))
		if best == nil {
			break
		}
		b.WriteString(best.html)
		pos = best.end
	}
	return b.String()
}

func urlQueryEscape(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// relativeDate renders created_at the way older m.weibo.cn responses did.
func relativeDate(t, now time.Time) string {
	t, now = t.In(shanghai), now.In(shanghai)
	d := now.Sub(t)
	y := now.AddDate(0, 0, -1)
	switch {
	case d < time.Minute:
		return "刚刚"
	case d < time.Hour:
		return fmt.Sprintf("%d分钟前", int(d/time.Minute))
	case d < 24*time.Hour && t.Day() == now.Day():
		return fmt.Sprintf("%d小时前", int(d/time.Hour))
	case t.Year() == y.Year() && t.YearDay() == y.YearDay():
		return "昨天 " + t.Format("15:04")
	case t.Year() == now.Year():
		return t.Format("01-02")
	}
	return t.Format("2006-01-02")
}

var shanghai = time.FixedZone("CST", 8*3600)

// rubyDate is Weibo's created_at: "Tue May 07 09:12:44 +0800 2024".
func rubyDate(t time.Time) string { return t.In(shanghai).Format(time.RubyDate) }

// displayCount renders a count as m.weibo.cn sometimes does ("1.2万").
func displayCount(n int64) any {
	if n < 10000 {
		return n
	}
	return fmt.Sprintf("%.1f万", float64(n)/10000)
}

// IDString is the post ID as text, as sources report it.
func (p *Post) IDString() string { return strconv.FormatInt(p.ID, 10) }
