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

// OpenError is an Open API error body:
// {"error":"expired_token","error_code":21327,"request":"/2/statuses/update.json"}.
// It matches the ingest error class of its code (see OpenErrorClass).
type OpenError struct {
	HTTPStatus int
	Code       int
	Message    string
	Request    string
}

func (e *OpenError) Error() string {
	return fmt.Sprintf("weibo api error %d %q (http %d, %s)", e.Code, e.Message, e.HTTPStatus, e.Request)
}

// Unwrap returns the error class, or nil for codes without one.
func (e *OpenError) Unwrap() error { return OpenErrorClass(e.Code) }

// OpenErrorClass maps an Open API error_code to an ingest error class
// (docs/external-apis.md §1.6). It returns nil for request errors that retrying
// cannot fix and that are not one of the classes (10008, 10016, 20003...).
func OpenErrorClass(code int) error {
	switch code {
	case 10001, 10002, 10003, 10009, 10010:
		// system error, service unavailable, remote service error,
		// too many pending tasks, job expired
		return ingest.ErrTransient
	case 10022, 10023, 10024, 20016:
		// IP, user and per-endpoint hourly limits; posting too fast
		return ingest.ErrRateLimited
	case 10006, 21301, 21314, 21315, 21316, 21317, 21319, 21325, 21327, 21332:
		// token missing, auth failed, token used/expired/revoked/rejected,
		// accessor revoked, invalid grant, expired_token, invalid_access_token
		return ingest.ErrAuth
	case 10004, 10005, 10014, 21321, 21337:
		// IP not allowed, high-level appkey needed, insufficient app
		// permissions, unaudited use restrictions, appkey permission denied
		return ingest.ErrPermission
	case 20101:
		return reply.ErrGone
	}
	return nil
}

// ParseOpenError reads an Open API error body. ok is false when body is not
// one (no error_code).
func ParseOpenError(status int, body []byte) (*OpenError, bool) {
	var e struct {
		Error   string `json:"error"`
		Code    flexID `json:"error_code"`
		Request string `json:"request"`
	}
	if json.Unmarshal(body, &e) != nil || e.Code == "" {
		return nil, false
	}
	code, err := strconv.Atoi(string(e.Code))
	if err != nil {
		return nil, false
	}
	return &OpenError{HTTPStatus: status, Code: code, Message: e.Error, Request: e.Request}, true
}

// OpenPage is one parsed page of a timeline-style Open API response
// (statuses/mentions, search/topics, statuses/*_timeline).
type OpenPage struct {
	Posts    []OpenPost
	Rejected []ingest.Rejected // Source is left empty
	// Count is the number of status items on the page, parsed or not; a
	// page is full when Count reaches the requested count.
	Count      int
	NextCursor int64
	Total      int64
}

// OpenPost is one status of a page.
type OpenPost struct {
	Post    model.Post // Source and FetchedAt are left for the source
	ID      int64
	Deleted bool
}

type openStatus struct {
	ID         flexID `json:"id"`
	IDStr      string `json:"idstr"`
	CreatedAt  string `json:"created_at"`
	Text       string `json:"text"`
	IsLongText bool   `json:"isLongText"`
	LongText   *struct {
		Content string `json:"longTextContent"`
	} `json:"longText"`
	PicURLs []struct {
		Thumbnail string `json:"thumbnail_pic"`
	} `json:"pic_urls"`
	OriginalPic string `json:"original_pic"`
	Geo         *struct {
		Type        string        `json:"type"`
		Coordinates []json.Number `json:"coordinates"`
	} `json:"geo"`
	User *struct {
		ID         flexID `json:"id"`
		IDStr      string `json:"idstr"`
		ScreenName string `json:"screen_name"`
		Location   string `json:"location"`
	} `json:"user"`
	Retweeted *openStatus `json:"retweeted_status"`
	Deleted   flexID      `json:"deleted"`
}

// ParseOpenStatuses parses a 2xx timeline body: {"statuses":[...],
// "next_cursor":..., "total_number":...}. IDs are read from idstr (or from
// the number's digits), never through float64. A status that cannot be read
// is returned in Rejected with its raw bytes; a body that is not such an
// object is an *ingest.MalformedError.
func ParseOpenStatuses(body []byte) (OpenPage, error) {
	var page OpenPage
	var env struct {
		Statuses   *[]json.RawMessage `json:"statuses"`
		NextCursor flexID             `json:"next_cursor"`
		Total      Count              `json:"total_number"`
		ErrorCode  json.RawMessage    `json:"error_code"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return page, &ingest.MalformedError{Reason: fmt.Sprintf("weibo api body is not JSON: %v: %q", err, snippet(body)), Raw: body}
	}
	if e, ok := ParseOpenError(200, body); ok {
		return page, e
	}
	if env.Statuses == nil {
		return page, &ingest.MalformedError{Reason: "weibo api body without statuses", Raw: body}
	}
	page.NextCursor, _ = strconv.ParseInt(string(env.NextCursor), 10, 64)
	page.Total = int64(env.Total)
	page.Count = len(*env.Statuses)
	for _, raw := range *env.Statuses {
		p, err := parseOpenStatus(raw)
		if err != nil {
			page.Rejected = append(page.Rejected, ingest.Rejected{Key: p.Post.NativeID, Reason: err.Error(), Raw: compactRaw(raw)})
			continue
		}
		page.Posts = append(page.Posts, p)
	}
	return page, nil
}

func (s *openStatus) nativeID() flexID {
	if s.IDStr != "" {
		return flexID(s.IDStr)
	}
	return s.ID
}

func parseOpenStatus(raw json.RawMessage) (OpenPost, error) {
	var out OpenPost
	var s openStatus
	if err := json.Unmarshal(raw, &s); err != nil {
		return out, fmt.Errorf("status: %w", err)
	}
	nid := s.nativeID()
	out.Post.NativeID = string(nid)
	id, err := nid.int64()
	if err != nil {
		return out, fmt.Errorf("status: %w", err)
	}
	if s.IDStr != "" && s.ID != "" && string(s.ID) != s.IDStr {
		return out, fmt.Errorf("status: id %s and idstr %s differ", s.ID, s.IDStr)
	}
	out.ID = id
	out.Deleted = s.Deleted == "1"
	post := &out.Post
	post.ID = model.PostID(model.ChannelWeibo, post.NativeID)
	post.Channel = model.ChannelWeibo
	post.URL = "https://m.weibo.cn/detail/" + post.NativeID
	post.Raw = compactRaw(raw)
	if out.Deleted {
		return out, nil
	}
	// The Open API always sends RubyDate ("Tue May 07 09:12:44 +0800 2024").
	post.CreatedAt, err = time.Parse(time.RubyDate, strings.TrimSpace(s.CreatedAt))
	if err != nil {
		return out, fmt.Errorf("status %s: bad created_at %q", post.NativeID, s.CreatedAt)
	}
	post.Text = openText(&s)
	if rt := s.Retweeted; rt != nil {
		name := ""
		if rt.User != nil {
			name = rt.User.ScreenName
		}
		if t := openText(rt); t != "" {
			post.Text += "\n//@" + name + ": " + t
		}
	}
	if u := s.User; u != nil {
		uid := u.IDStr
		if uid == "" {
			uid = string(u.ID)
		}
		post.Author = model.Author{ID: uid, Name: u.ScreenName}
		post.Region = strings.TrimSpace(u.Location)
	}
	for _, p := range s.PicURLs {
		if p.Thumbnail != "" {
			post.Images = append(post.Images, LargePicture(p.Thumbnail))
		}
	}
	if len(post.Images) == 0 && s.OriginalPic != "" {
		post.Images = []string{s.OriginalPic}
	}
	if g := s.Geo; g != nil && len(g.Coordinates) == 2 {
		// Weibo puts latitude first, unlike GeoJSON.
		lat, err1 := g.Coordinates[0].Float64()
		lon, err2 := g.Coordinates[1].Float64()
		if err1 == nil && err2 == nil && lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180 {
			post.Geo = &model.Geo{Lat: lat, Lon: lon}
		}
	}
	return out, nil
}

// openText is the status text; the Open API sends plain text, with the
// full text of a long post in longText.longTextContent when present.
func openText(s *openStatus) string {
	t := s.Text
	if s.LongText != nil && s.LongText.Content != "" {
		t = s.LongText.Content
	}
	return cleanText(t)
}

// OpenComment is a comment as comments/show and comments/create return it.
type OpenComment struct {
	ID       string // idstr
	Text     string
	UserID   string
	StatusID string
}

// ParseOpenComment reads one comment object (the comments/create response).
func ParseOpenComment(body []byte) (OpenComment, error) {
	var c openComment
	if err := json.Unmarshal(body, &c); err != nil {
		return OpenComment{}, &ingest.MalformedError{Reason: fmt.Sprintf("weibo comment is not JSON: %v: %q", err, snippet(body)), Raw: body}
	}
	if e, ok := ParseOpenError(200, body); ok {
		return OpenComment{}, e
	}
	out := c.export()
	if out.ID == "" {
		return out, &ingest.MalformedError{Reason: "weibo comment without id", Raw: body}
	}
	return out, nil
}

// ParseOpenComments reads a comments list (comments/show, comments/by_me,
// comments/mentions): {"comments":[...],"next_cursor":...}.
func ParseOpenComments(body []byte) ([]OpenComment, int64, error) {
	var env struct {
		Comments   *[]openComment `json:"comments"`
		NextCursor flexID         `json:"next_cursor"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, 0, &ingest.MalformedError{Reason: fmt.Sprintf("weibo comments body: %v: %q", err, snippet(body)), Raw: body}
	}
	if e, ok := ParseOpenError(200, body); ok {
		return nil, 0, e
	}
	if env.Comments == nil {
		return nil, 0, &ingest.MalformedError{Reason: "weibo comments body without comments", Raw: body}
	}
	out := make([]OpenComment, 0, len(*env.Comments))
	for _, c := range *env.Comments {
		out = append(out, c.export())
	}
	next, _ := strconv.ParseInt(string(env.NextCursor), 10, 64)
	return out, next, nil
}

type openComment struct {
	ID    flexID `json:"id"`
	IDStr string `json:"idstr"`
	Text  string `json:"text"`
	User  *struct {
		ID    flexID `json:"id"`
		IDStr string `json:"idstr"`
	} `json:"user"`
	Status *struct {
		ID    flexID `json:"id"`
		IDStr string `json:"idstr"`
	} `json:"status"`
}

func (c openComment) export() OpenComment {
	out := OpenComment{ID: c.IDStr, Text: c.Text}
	if out.ID == "" {
		out.ID = string(c.ID)
	}
	if c.User != nil {
		out.UserID = c.User.IDStr
		if out.UserID == "" {
			out.UserID = string(c.User.ID)
		}
	}
	if c.Status != nil {
		out.StatusID = c.Status.IDStr
		if out.StatusID == "" {
			out.StatusID = string(c.Status.ID)
		}
	}
	return out
}

// isJSONObject reports whether b looks like a JSON object.
func isJSONObject(b []byte) bool {
	b = bytes.TrimSpace(b)
	return len(b) > 0 && b[0] == '{'
}
