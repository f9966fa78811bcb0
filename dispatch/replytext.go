package dispatch

import (
	"context"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/mashangban/mashangban/model"
	"github.com/mashangban/mashangban/store"
)

// weiboMaxRunes is the comment limit of Weibo's comments/create (20012 above
// it). The Weibo replier may shorten further by its own unit count.
const weiboMaxRunes = 140

var reHashtag = regexp.MustCompile(`#[^#\n]{1,64}#`)

// shapeWeibo makes text a valid Weibo comment for case caseNo: no hashtags
// (#…#), the case number present (it makes the text unique per case, which
// avoids 20017/20019), at most 140 characters with the case number kept.
func shapeWeibo(text, caseNo string) string {
	text = reHashtag.ReplaceAllStringFunc(text, func(h string) string { return strings.Trim(h, "#") })
	text = strings.ReplaceAll(text, "#", "")
	text = strings.Join(strings.Fields(text), " ")
	suffix := ""
	if caseNo != "" && !strings.Contains(text, caseNo) {
		suffix = "（编号" + caseNo + "）"
	}
	if utf8.RuneCountInString(text)+utf8.RuneCountInString(suffix) <= weiboMaxRunes {
		return text + suffix
	}
	if suffix == "" && caseNo != "" {
		// The case number is in the text but would be cut off: move it to
		// the end.
		text = strings.Replace(text, caseNo, "", 1)
		suffix = "（编号" + caseNo + "）"
	}
	return truncateRunes(text, weiboMaxRunes-utf8.RuneCountInString(suffix)-1) + "…" + suffix
}

func truncateRunes(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n])
}

// withDefaults fills in the keyword names of the reference's example
// template: thing1 (problem), character_string2 (case number), phrase3
// (status), time4 (time). The department is sent only when its keyword is
// configured (the example template has none).
func (f WeChatFields) withDefaults() WeChatFields {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&f.Title, "thing1")
	def(&f.CaseNo, "character_string2")
	def(&f.Status, "phrase3")
	def(&f.Time, "time4")
	return f
}

// wechatFields fills a subscribe message within each keyword type's limit
// (see the WeChat reference, §3.6): thing ≤ 20 characters, character_string
// ≤ 32 letters, digits and symbols, phrase ≤ 5 Chinese characters, time as
// "2006年01月02日 15:04".
func (d *Dispatcher) wechatFields(title, caseNo, status, dept string, at time.Time) map[string]string {
	f := d.opts.WeChat
	out := map[string]string{
		f.Title:  thingValue(title, "您反映的问题"),
		f.Status: phraseValue(status),
		f.Time:   at.In(d.opts.Location).Format("2006年01月02日 15:04"),
	}
	if cs := characterString(caseNo); cs != "" {
		out[f.CaseNo] = cs
	}
	if dept != "" && f.Department != "" {
		out[f.Department] = thingValue(dept, "")
	}
	return out
}

// thingValue is at most 20 characters, without line breaks; empty input
// gives def (a thing value may not be empty).
func thingValue(s, def string) string {
	s = strings.Join(strings.Fields(s), " ")
	if s == "" {
		s = def
	}
	if utf8.RuneCountInString(s) > 20 {
		s = truncateRunes(s, 19) + "…"
	}
	return s
}

// characterString keeps ASCII letters, digits and symbols, at most 32.
func characterString(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < 0x80 && r > 0x20 {
			b.WriteRune(r)
		}
	}
	return truncateRunes(b.String(), 32)
}

// phraseValue is at most 5 Chinese characters, nothing else.
func phraseValue(s string) string {
	var b strings.Builder
	n := 0
	for _, r := range s {
		if unicode.Is(unicode.Han, r) && n < 5 {
			b.WriteRune(r)
			n++
		}
	}
	if n == 0 {
		return "已受理"
	}
	return b.String()
}

// enqueue queues a reply to post, shaped for its channel.
func (d *Dispatcher) enqueue(ctx context.Context, q store.Querier, post model.Post, kind, caseNo, text, dept, status string, now time.Time) error {
	it := store.OutboxItem{PostID: post.ID, Kind: kind, Channel: string(post.Channel), NativeID: post.NativeID,
		AuthorID: post.Author.ID, CaseNo: caseNo, Text: text, CreatedAt: now}
	switch post.Channel {
	case model.ChannelWeibo:
		it.Text = shapeWeibo(text, caseNo)
	case model.ChannelWeChat:
		it.Fields = d.wechatFields(post.Text, caseNo, status, dept, now)
	}
	_, err := d.st.Enqueue(ctx, q, it)
	return err
}
