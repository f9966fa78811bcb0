package weibo

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/mashangban/mashangban/ingest"
	"github.com/mashangban/mashangban/model"
	"github.com/mashangban/mashangban/reply"
)

// MobilePage is one parsed m.weibo.cn getIndex page.
type MobilePage struct {
	Posts    []MobilePost
	Rejected []ingest.Rejected // Source is left empty; the source fills it in
	// NextPage is cardlistInfo.page (the next page number); 0 means this was
	// the last page.
	NextPage int
	Total    int64
}

// MobilePost is a post card from a page.
type MobilePost struct {
	Post model.Post // Source and FetchedAt are left for the source to fill
	ID   int64
	// LongText is set when Text is truncated and statuses/extend has the rest.
	LongText bool
	// Deleted is set for the "此微博已被删除" placeholder cards; they are not posts.
	Deleted bool
	Counts  Counts
}

// Counts are a post's engagement counters.
type Counts struct {
	Reposts, Comments, Attitudes int64
}

// ErrLoginWall is wrapped (with ingest.ErrAuth) when m.weibo.cn wants a
// logged-in cookie: {"ok":-100,"url":"https://passport.weibo.com/..."}.
var ErrLoginWall = fmt.Errorf("login required: %w", ingest.ErrAuth)

type mobileEnvelope struct {
	OK   flexID          `json:"ok"`
	Msg  string          `json:"msg"`
	URL  string          `json:"url"`
	Data json.RawMessage `json:"data"`
}

type mobileData struct {
	CardlistInfo struct {
		Page  flexID `json:"page"`
		Total Count  `json:"total"`
	} `json:"cardlistInfo"`
	Cards []json.RawMessage `json:"cards"`
}

type mobileCard struct {
	CardType  Count             `json:"card_type"`
	Mblog     json.RawMessage   `json:"mblog"`
	CardGroup []json.RawMessage `json:"card_group"`
	Scheme    string            `json:"scheme"`
}

type mblog struct {
	ID         flexID `json:"id"`
	Mid        flexID `json:"mid"`
	Bid        string `json:"bid"`
	CreatedAt  string `json:"created_at"`
	Text       string `json:"text"`
	IsLongText bool   `json:"isLongText"`
	User       *struct {
		ID         flexID `json:"id"`
		ScreenName string `json:"screen_name"`
		Followers  Count  `json:"followers_count"`
	} `json:"user"`
	Reposts    Count           `json:"reposts_count"`
	Comments   Count           `json:"comments_count"`
	Attitudes  Count           `json:"attitudes_count"`
	PicIDs     []string        `json:"pic_ids"`
	Pics       json.RawMessage `json:"pics"`
	RegionName string          `json:"region_name"`
	Retweeted  *mblog          `json:"retweeted_status"`
	Deleted    flexID          `json:"deleted"`
	State      Count           `json:"state"`
}

type mobilePic struct {
	Pid   string `json:"pid"`
	URL   string `json:"url"`
	Type  string `json:"type"`
	Large *struct {
		URL string `json:"url"`
	} `json:"large"`
}

// mobileOK classifies the ok field of an m.weibo.cn envelope. A body that is
// not a JSON object (the Sina Visitor System HTML page, a truncated body) is
// ErrMalformed.
func mobileOK(body []byte) (mobileEnvelope, error) {
	var env mobileEnvelope
	if err := json.Unmarshal(body, &env); err != nil {
		return env, &ingest.MalformedError{Reason: fmt.Sprintf("m.weibo.cn body is not JSON: %v: %q", err, snippet(body)), Raw: body}
	}
	switch env.OK {
	case "1":
		return env, nil
	case "-100":
		return env, ErrLoginWall
	case "0":
		switch {
		case strings.Contains(env.Msg, "登录"):
			return env, fmt.Errorf("%w: %q", ErrLoginWall, env.Msg)
		case strings.Contains(env.Msg, "频繁") || strings.Contains(env.Msg, "频次"):
			return env, fmt.Errorf("%w: %q", ingest.ErrRateLimited, env.Msg)
		}
		// ok:0 with any other message is an empty result ("这里还没有内容").
		return env, nil
	case "":
		return env, &ingest.MalformedError{Reason: "m.weibo.cn body without ok field", Raw: body}
	}
	return env, &ingest.MalformedError{Reason: fmt.Sprintf("m.weibo.cn ok=%s msg=%q", env.OK, env.Msg), Raw: body}
}

// ParseMobilePage parses an api/container/getIndex body. Post cards are
// card_type 9, also inside card_type 11 groups; other cards are skipped. A
// post card that cannot be read is returned in Rejected with its raw bytes;
// an envelope that cannot be read is an error of class ErrMalformed, ErrAuth
// (login wall) or ErrRateLimited (ok:0 "访问频次过高"). now resolves the
// relative dates ("3分钟前").
func ParseMobilePage(body []byte, now time.Time) (MobilePage, error) {
	var page MobilePage
	env, err := mobileOK(body)
	if err != nil {
		return page, err
	}
	if env.OK != "1" || len(env.Data) == 0 || string(env.Data) == "null" {
		return page, nil
	}
	var data mobileData
	if err := json.Unmarshal(env.Data, &data); err != nil {
		return page, &ingest.MalformedError{Reason: "m.weibo.cn data: " + err.Error(), Raw: body}
	}
	if p, err := strconv.Atoi(string(data.CardlistInfo.Page)); err == nil && p > 0 {
		page.NextPage = p
	}
	page.Total = int64(data.CardlistInfo.Total)
	var walk func(raw json.RawMessage, depth int)
	walk = func(raw json.RawMessage, depth int) {
		var c mobileCard
		if err := json.Unmarshal(raw, &c); err != nil {
			page.Rejected = append(page.Rejected, ingest.Rejected{Reason: "card: " + err.Error(), Raw: raw})
			return
		}
		switch c.CardType {
		case 9:
			if len(c.Mblog) == 0 || string(c.Mblog) == "null" {
				return
			}
			p, err := parseMblog(c.Mblog, now)
			if err != nil {
				page.Rejected = append(page.Rejected, ingest.Rejected{Key: p.Post.NativeID, Reason: err.Error(), Raw: raw})
				return
			}
			page.Posts = append(page.Posts, p)
		case 11:
			if depth > 0 {
				return // groups do not nest in any capture; do not recurse on garbage
			}
			for _, g := range c.CardGroup {
				walk(g, depth+1)
			}
		}
	}
	for _, raw := range data.Cards {
		walk(raw, 0)
	}
	return page, nil
}

// parseMblog turns one mblog into a post. On error the returned post carries
// the native ID when it could be read.
func parseMblog(raw json.RawMessage, now time.Time) (MobilePost, error) {
	var out MobilePost
	var m mblog
	if err := json.Unmarshal(raw, &m); err != nil {
		return out, fmt.Errorf("mblog: %w", err)
	}
	out.Post.NativeID = string(m.ID)
	id, err := m.ID.int64()
	if err != nil {
		return out, fmt.Errorf("mblog: %w", err)
	}
	out.ID = id
	out.Deleted = m.Deleted == "1" || (m.User == nil && m.State == 5)
	out.LongText = m.IsLongText
	out.Counts = Counts{Reposts: int64(m.Reposts), Comments: int64(m.Comments), Attitudes: int64(m.Attitudes)}
	post := &out.Post
	post.ID = model.PostID(model.ChannelWeibo, post.NativeID)
	post.Channel = model.ChannelWeibo
	post.URL = "https://m.weibo.cn/detail/" + post.NativeID
	post.Raw = compactRaw(raw)
	if out.Deleted {
		return out, nil
	}
	post.CreatedAt, err = ParseCreatedAt(m.CreatedAt, now)
	if err != nil {
		return out, fmt.Errorf("mblog %s: %w", post.NativeID, err)
	}
	if m.User != nil {
		post.Author = model.Author{ID: string(m.User.ID), Name: m.User.ScreenName}
	}
	post.Text = PlainText(m.Text)
	if rt := m.Retweeted; rt != nil {
		name := ""
		if rt.User != nil {
			name = rt.User.ScreenName
		}
		if t := PlainText(rt.Text); t != "" {
			post.Text += "\n//@" + name + ": " + t
		}
	}
	post.Images = mobileImages(m)
	post.Region = RegionHint(m.RegionName)
	return out, nil
}

// mobileImages returns the large URL of every picture: pics[].large.url, else
// the listed size rewritten to large, else built from pic_ids.
func mobileImages(m mblog) []string {
	var pics []mobilePic
	if len(m.Pics) > 0 && m.Pics[0] == '[' {
		_ = json.Unmarshal(m.Pics, &pics)
	} else if len(m.Pics) > 0 && m.Pics[0] == '{' {
		// Some responses key pictures by position: {"0":{...},"1":{...}}.
		var byPos map[string]mobilePic
		if json.Unmarshal(m.Pics, &byPos) == nil {
			for i := range len(byPos) {
				if p, ok := byPos[strconv.Itoa(i)]; ok {
					pics = append(pics, p)
				}
			}
		}
	}
	var out []string
	for _, p := range pics {
		switch {
		case p.Large != nil && p.Large.URL != "":
			out = append(out, p.Large.URL)
		case p.URL != "":
			out = append(out, LargePicture(p.URL))
		}
	}
	if len(out) == 0 {
		for _, pid := range m.PicIDs {
			if pid != "" {
				out = append(out, "https://wx1.sinaimg.cn/large/"+pid+".jpg")
			}
		}
	}
	return out
}

// ParseMobileExtend parses a statuses/extend body and returns the full text
// as plain text.
func ParseMobileExtend(body []byte) (string, error) {
	env, err := mobileOK(body)
	if err != nil {
		return "", err
	}
	if env.OK != "1" {
		return "", fmt.Errorf("%w: statuses/extend ok=%s msg=%q", reply.ErrGone, env.OK, env.Msg)
	}
	var d struct {
		LongTextContent *string `json:"longTextContent"`
	}
	if err := json.Unmarshal(env.Data, &d); err != nil || d.LongTextContent == nil {
		return "", fmt.Errorf("%w: statuses/extend without longTextContent", ingest.ErrMalformed)
	}
	return PlainText(*d.LongTextContent), nil
}

func compactRaw(raw []byte) json.RawMessage {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return append(json.RawMessage(nil), raw...)
	}
	return b.Bytes()
}
