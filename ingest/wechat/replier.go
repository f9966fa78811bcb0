package wechat

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/time/rate"

	"github.com/mashangban/mashangban/ingest"
	"github.com/mashangban/mashangban/model"
	"github.com/mashangban/mashangban/reply"
)

// ReplierOptions configure the subscribe-message replier.
type ReplierOptions struct {
	TemplateID string
	// Page is the mini-program page the message opens; "{id}" is replaced by
	// the submission's _id and "{case}" by the case number, e.g.
	// "pages/detail/index?id={id}". Empty opens none.
	Page string
	// Fields map the template's keywords to what fills them: "text",
	// "case_no", "kind" (受理/进展), "time" (the send time), or "=literal".
	// Default: thing1=text, character_string2=case_no, phrase3=kind,
	// time4=time (the reference's example template). Reply.Fields values
	// override them keyword by keyword.
	Fields map[string]string
	State  string // miniprogram_state: developer, trial, formal (default)
	Lang   string // default zh_CN
	// Env and Collection locate the submissions for the fallback: when the
	// citizen has not authorised a message (43101) or the message cannot be
	// sent as built (47003, 40003), the reply is written into the
	// submission's record under ReplyField.<kind>_<hash of text>.
	Env        string
	Collection string
	ReplyField string // default "msb_replies"
	// SendsPerSecond and SendBurst are the recommended pace (Rate, Burst);
	// default 20/s, burst 5 (the daily quota is 10 M).
	SendsPerSecond float64
	SendBurst      int
}

// Replier sends subscribe messages and falls back to the submission record.
type Replier struct {
	c    *Client
	opt  ReplierOptions
	coll string
}

var _ reply.Replier = (*Replier)(nil)

// NewReplier returns the replier.
func NewReplier(c *Client, opt ReplierOptions) (*Replier, error) {
	if c == nil {
		return nil, errors.New("wechat: replier needs a client")
	}
	if opt.TemplateID == "" {
		return nil, errors.New("wechat: template_id is required")
	}
	if opt.Env == "" || opt.Collection == "" {
		return nil, errors.New("wechat: env and collection are required for the record fallback")
	}
	if !identRE.MatchString(opt.Collection) || strings.Contains(opt.Collection, ".") {
		return nil, fmt.Errorf("wechat: bad collection name %q", opt.Collection)
	}
	if opt.ReplyField == "" {
		opt.ReplyField = "msb_replies"
	}
	if !identRE.MatchString(opt.ReplyField) {
		return nil, fmt.Errorf("wechat: bad reply field %q", opt.ReplyField)
	}
	if opt.Fields == nil {
		opt.Fields = map[string]string{"thing1": "text", "character_string2": "case_no", "phrase3": "kind", "time4": "time"}
	}
	for k, v := range opt.Fields {
		if keyType(k) == "" {
			return nil, fmt.Errorf("wechat: template keyword %q has no known type", k)
		}
		switch v {
		case "text", "case_no", "kind", "time":
		default:
			if !strings.HasPrefix(v, "=") {
				return nil, fmt.Errorf("wechat: template keyword %q: unknown source %q", k, v)
			}
		}
	}
	if opt.State == "" {
		opt.State = "formal"
	}
	if opt.Lang == "" {
		opt.Lang = "zh_CN"
	}
	if opt.SendsPerSecond <= 0 {
		opt.SendsPerSecond = 20
	}
	if opt.SendBurst <= 0 {
		opt.SendBurst = 5
	}
	q, _ := json.Marshal(opt.Collection)
	return &Replier{c: c, opt: opt, coll: string(q)}, nil
}

// Channel implements reply.Replier.
func (r *Replier) Channel() model.Channel { return model.ChannelWeChat }

// Rate is the recommended send pace.
func (r *Replier) Rate() rate.Limit { return rate.Limit(r.opt.SendsPerSecond) }

// Burst goes with Rate.
func (r *Replier) Burst() int { return r.opt.SendBurst }

type subscribeBody struct {
	ToUser     string                       `json:"touser"`
	TemplateID string                       `json:"template_id"`
	Page       string                       `json:"page,omitempty"`
	State      string                       `json:"miniprogram_state"`
	Lang       string                       `json:"lang"`
	Data       map[string]map[string]string `json:"data"`
}

// Send implements reply.Replier. A subscribe message the platform refuses
// for this citizen (43101: no authorisation left; 47003: a value it will
// not take; 40003: bad openid) is written into the submission's record
// instead; a record that no longer exists makes the reply Skipped.
func (r *Replier) Send(ctx context.Context, rp reply.Reply) (reply.SendResult, error) {
	if rp.NativeID == "" {
		return reply.SendResult{}, errors.New("wechat: reply without a record id")
	}
	data, err := r.TemplateData(rp, r.c.opt.Now())
	if err == nil && rp.AuthorID != "" {
		body := subscribeBody{ToUser: rp.AuthorID, TemplateID: r.opt.TemplateID, Page: r.page(rp), State: r.opt.State, Lang: r.opt.Lang, Data: data}
		var resp envelope
		err = r.c.call(ctx, pathSubscribe, body, &resp)
		if err == nil {
			return reply.SendResult{}, nil
		}
		var ae *APIError
		if !errors.As(err, &ae) || (ae.Code != CodeUserRefused && ae.Code != CodeBadArgument && ae.Code != CodeInvalidOpenID) {
			return reply.SendResult{}, err
		}
	}
	reason := "no openid"
	if err != nil {
		reason = err.Error()
	}
	return r.writeRecord(ctx, rp, reason)
}

// writeRecord is the fallback: the reply goes into the submission's record.
func (r *Replier) writeRecord(ctx context.Context, rp reply.Reply, why string) (reply.SendResult, error) {
	id, _ := json.Marshal(rp.NativeID)
	key, _ := json.Marshal(r.opt.ReplyField + "." + replyKey(rp))
	val, _ := json.Marshal(map[string]string{"kind": rp.Kind, "case_no": rp.CaseNo, "text": rp.Text})
	// A retried write sets the same slot to the same value (matched 1, modified 0).
	q := fmt.Sprintf("db.collection(%s).doc(%s).update({data:{%s:%s}})", r.coll, id, key, val)
	var resp updateResponse
	if err := r.c.call(ctx, pathUpdate, map[string]string{"env": r.opt.Env, "query": q}, &resp); err != nil {
		return reply.SendResult{}, fmt.Errorf("wechat: fallback write after %q: %w", why, err)
	}
	if resp.Matched == 0 {
		return reply.SendResult{Skipped: true, Reason: "submission record no longer exists"}, nil
	}
	return reply.SendResult{Reason: "written to the submission record: " + why, RemoteID: rp.NativeID}, nil
}

// Sent implements reply.Replier. It finds a reply written into the
// record by an earlier fallback. A delivered subscribe message leaves no
// trace the server APIs can read, so for those it returns false: a resend
// then either reaches the citizen again (they had authorised two) or is
// refused with 43101 and written to the record.
func (r *Replier) Sent(ctx context.Context, rp reply.Reply) (bool, error) {
	if rp.NativeID == "" {
		return false, nil
	}
	id, _ := json.Marshal(rp.NativeID)
	path := r.opt.ReplyField + "." + replyKey(rp)
	field, _ := json.Marshal(path)
	q := fmt.Sprintf("db.collection(%s).where({\"_id\":%s}).field({%s:true}).limit(1).get()", r.coll, id, field)
	var resp queryResponse
	if err := r.c.call(ctx, pathQuery, map[string]string{"env": r.opt.Env, "query": q}, &resp); err != nil {
		return false, err
	}
	for _, el := range resp.Data {
		raw, err := unquoteElement(el)
		if err != nil {
			return false, &ingest.MalformedError{Reason: err.Error(), Raw: el}
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			return false, &ingest.MalformedError{Reason: err.Error(), Raw: raw}
		}
		if lookup(m, path) != nil {
			return true, nil
		}
	}
	return false, nil
}

// replyKey names a reply in the record: its kind and a hash of its text, so
// an ack and each distinct progress reply have a slot of their own and a
// retried write lands in the same one.
func replyKey(rp reply.Reply) string {
	kind := strings.Map(func(r rune) rune {
		if r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_') {
			return r
		}
		return -1
	}, rp.Kind)
	if kind == "" {
		kind = "reply"
	}
	h := sha256.Sum256([]byte(rp.CaseNo + "\x00" + rp.Text))
	return kind + "_" + hex.EncodeToString(h[:6])
}

func (r *Replier) page(rp reply.Reply) string {
	p := strings.ReplaceAll(r.opt.Page, "{id}", rp.NativeID)
	return strings.ReplaceAll(p, "{case}", rp.CaseNo)
}

// TemplateData builds the message's data and makes every value fit its
// keyword type (reference §3.6): thing ≤20 characters, character_string ≤32
// ASCII characters, phrase ≤5 Chinese characters, … Values are cut on rune
// boundaries; a value that cannot be made to fit is an error.
func (r *Replier) TemplateData(rp reply.Reply, now time.Time) (map[string]map[string]string, error) {
	src := map[string]string{}
	for k, v := range r.opt.Fields {
		src[k] = r.fill(v, rp, now)
	}
	for k, v := range rp.Fields {
		if keyType(k) == "" {
			return nil, fmt.Errorf("wechat: template keyword %q has no known type", k)
		}
		src[k] = v
	}
	out := make(map[string]map[string]string, len(src))
	for k, v := range src {
		fv, err := FitValue(k, v)
		if err != nil {
			return nil, err
		}
		out[k] = map[string]string{"value": fv}
	}
	return out, nil
}

func (r *Replier) fill(src string, rp reply.Reply, now time.Time) string {
	switch src {
	case "text":
		return rp.Text
	case "case_no":
		return rp.CaseNo
	case "kind":
		if rp.Kind == "ack" {
			return "已受理"
		}
		return "处理中"
	case "time":
		return now.In(beijing).Format("2006年01月02日 15:04")
	}
	return strings.TrimPrefix(src, "=")
}

var keyTypeRE = regexp.MustCompile(`^([a-z_]+?)[0-9]+$`)

func keyType(key string) string {
	m := keyTypeRE.FindStringSubmatch(key)
	if m == nil {
		return ""
	}
	switch m[1] {
	case "thing", "number", "letter", "symbol", "character_string", "time", "date", "amount", "phone_number", "car_number", "name", "phrase":
		return m[1]
	}
	return ""
}

// FitValue makes v acceptable for the keyword key, or says why it cannot be.
func FitValue(key, v string) (string, error) {
	v = strings.TrimSpace(strings.ToValidUTF8(v, ""))
	v = strings.Join(strings.Fields(v), " ")
	bad := func(why string) (string, error) {
		return "", fmt.Errorf("wechat: template value for %s: %s", key, why)
	}
	if v == "" {
		return bad("empty")
	}
	switch keyType(key) {
	case "thing":
		return truncate(v, 20), nil
	case "name":
		for _, r := range v {
			if unicode.Is(unicode.Han, r) {
				return truncate(v, 10), nil
			}
		}
		return truncate(v, 20), nil
	case "character_string":
		s := strings.Map(func(r rune) rune {
			if r > unicode.MaxASCII || !unicode.IsPrint(r) {
				return -1
			}
			return r
		}, v)
		if s == "" {
			return bad("no ASCII characters")
		}
		return truncate(s, 32), nil
	case "letter":
		s := strings.Map(func(r rune) rune {
			if r < 128 && unicode.IsLetter(r) {
				return r
			}
			return -1
		}, v)
		if s == "" {
			return bad("no letters")
		}
		return truncate(s, 32), nil
	case "number":
		if !numberRE.MatchString(v) || len(v) > 32 {
			return bad("not a number of at most 32 digits")
		}
		return v, nil
	case "phrase":
		if utf8.RuneCountInString(v) > 5 {
			return bad("more than 5 characters")
		}
		for _, r := range v {
			if !unicode.Is(unicode.Han, r) {
				return bad("only Chinese characters allowed")
			}
		}
		return v, nil
	case "symbol":
		if utf8.RuneCountInString(v) > 5 {
			return bad("more than 5 symbols")
		}
		return v, nil
	case "time", "date":
		if !timeValueRE.MatchString(v) {
			return bad("not a 24-hour time or date")
		}
		return v, nil
	case "phone_number":
		if len(v) > 17 || !phoneRE.MatchString(v) {
			return bad("not a phone number")
		}
		return v, nil
	case "car_number":
		if utf8.RuneCountInString(v) > 8 {
			return bad("more than 8 characters")
		}
		return v, nil
	case "amount":
		if !amountRE.MatchString(v) {
			return bad("not an amount")
		}
		return v, nil
	}
	return bad("unknown keyword type")
}

var (
	numberRE    = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)
	phoneRE     = regexp.MustCompile(`^[0-9+\-() ]+$`)
	amountRE    = regexp.MustCompile(`^[¥￥$]?[0-9]{1,10}(\.[0-9]{1,2})?元?$`)
	timeValueRE = regexp.MustCompile(`^(\d{4}年\d{1,2}月\d{1,2}日|\d{4}-\d{1,2}-\d{1,2})?\s*(\d{1,2}:\d{2}(:\d{2})?)?(\s*~\s*.+)?$`)
)

// truncate cuts s to at most n runes, ending with "…" when it was cut.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	rs := []rune(s)
	return string(rs[:n-1]) + "…"
}
