package dispatch

import (
	"context"
	"time"

	"github.com/mashangban/mashangban/model"
	"github.com/mashangban/mashangban/reply"
	"github.com/mashangban/mashangban/store"
)

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

// wechatFields fills a subscribe message from a rendered reply; the reply
// package keeps every value within its keyword type's limit (see the WeChat
// reference, §3.6).
func (d *Dispatcher) wechatFields(m reply.Message, caseNo, dept string, at time.Time) map[string]string {
	f := d.opts.WeChat
	out := map[string]string{
		f.Title:  m.Title,
		f.Status: m.Status,
		f.Time:   reply.TimeValue(at, d.opts.Location),
	}
	if cs := reply.CharacterString(caseNo); cs != "" {
		out[f.CaseNo] = cs
	}
	if dept != "" && f.Department != "" {
		out[f.Department] = reply.Thing(dept, "")
	}
	return out
}

// enqueue queues reply tmpl about data to the author of post p, rendered
// for p's channel. custom, when not empty, is the rule set's own
// acknowledgement template, used in place of the text of tmpl; one that
// fails is logged and the template set's text is sent instead.
func (d *Dispatcher) enqueue(ctx context.Context, q store.Querier, p model.Post, kind, tmpl string, data reply.Data, custom, dept string, now time.Time) error {
	if data.Problem == "" {
		data.Problem = p.Text
	}
	var m reply.Message
	var err error
	if custom != "" {
		if m, err = d.texts.RenderCustom(p.Channel, custom, data); err != nil {
			d.log.WarnContext(ctx, "bad rule-set acknowledgement template, the template set's used", "post_id", p.ID, "error", err)
			custom = ""
		}
	}
	if custom == "" {
		if m, err = d.texts.Render(p.Channel, tmpl, data); err != nil {
			return err
		}
	}
	it := store.OutboxItem{PostID: p.ID, Kind: kind, Channel: string(p.Channel), NativeID: p.NativeID,
		AuthorID: p.Author.ID, CaseNo: data.CaseNo, Text: m.Text, CreatedAt: now}
	if p.Channel == model.ChannelWeChat {
		it.Fields = d.wechatFields(m, data.CaseNo, dept, now)
	}
	_, err = d.st.Enqueue(ctx, q, it)
	return err
}

// link is the public page of case caseNo, "" without a public base URL.
func (d *Dispatcher) link(caseNo string) string { return reply.CaseLink(d.opts.PublicBaseURL, caseNo) }
