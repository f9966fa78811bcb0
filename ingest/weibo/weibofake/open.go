package weibofake

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// OpenOptions configure the Open API fake.
type OpenOptions struct {
	// Token is the valid access token; default "2.00fake".
	Token string
	// Account is the city's account (the commenter): UID and screen name.
	AccountUID  int64
	AccountName string
	// TopicsPermission grants search/topics; without it the fake answers
	// 10014 "Insufficient app permissions".
	TopicsPermission bool
	// HourlyCalls is the per-user hourly quota of all calls (10023 when
	// exceeded) and HourlyComments that of comments/create (10024);
	// 0 means no limit. The historical test level is 150 and 60.
	HourlyCalls    int
	HourlyComments int
	// RequireRIP refuses comments/create without rip (10016).
	RequireRIP bool
	// Now is the fake's clock; default time.Now.
	Now func() time.Time
}

// Comment is a comment the fake received.
type Comment struct {
	ID        int64
	PostID    int64
	Text      string
	RIP       string
	CreatedAt time.Time
}

// Open is a fake of the Weibo Open API v2: statuses/mentions.json,
// search/topics.json, comments/create.json and comments/show.json.
type Open struct {
	*httptest.Server
	mu        sync.Mutex
	opt       OpenOptions
	token     string
	posts     []*Post // newest first
	deleted   map[int64]bool
	comments  []Comment
	nextCID   int64
	faults    []Fault
	calls     map[string]int // "hour|endpoint" → count
	requests  []string
	perm      bool
	ignoreMax bool
}

// NewOpen starts the fake; Close it when done.
func NewOpen(opt OpenOptions) *Open {
	if opt.Token == "" {
		opt.Token = "2.00fake"
	}
	if opt.AccountUID == 0 {
		opt.AccountUID = 1404376560
	}
	if opt.AccountName == "" {
		opt.AccountName = "马鞍山发布"
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	o := &Open{opt: opt, token: opt.Token, deleted: map[int64]bool{}, calls: map[string]int{},
		nextCID: 5030114455667788, perm: opt.TopicsPermission}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2/statuses/mentions.json", o.mentions)
	mux.HandleFunc("GET /2/search/topics.json", o.topics)
	mux.HandleFunc("POST /2/comments/create.json", o.create)
	mux.HandleFunc("GET /2/comments/show.json", o.show)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		o.error(w, r, http.StatusBadRequest, 10020, "Request api not found!")
	})
	o.Server = httptest.NewServer(mux)
	return o
}

// Add stores posts; feeds are served newest first by ID.
func (o *Open) Add(posts ...Post) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, p := range posts {
		o.posts = append(o.posts, &p)
	}
	slices.SortFunc(o.posts, func(a, b *Post) int { return cmpDesc(a.ID, b.ID) })
}

// Delete deletes a post: it leaves the feeds, and comments on it get 20101.
func (o *Open) Delete(id int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.deleted[id] = true
}

// Inject queues faults; each request consumes the next one.
func (o *Open) Inject(f ...Fault) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.faults = append(o.faults, f...)
}

// ExpireToken makes the current token expired (21327) from now on.
func (o *Open) ExpireToken() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.token = "expired:" + o.token
}

// SetToken installs a new valid token (re-authorisation).
func (o *Open) SetToken(t string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.token = t
}

// IgnoreMaxID makes statuses/mentions ignore max_id, as a misbehaving
// server that repeats the first page would.
func (o *Open) IgnoreMaxID(v bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.ignoreMax = v
}

// Comments returns the comments received so far.
func (o *Open) Comments() []Comment {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.comments)
}

// Requests returns "METHOD path?query" of every request (the token removed).
func (o *Open) Requests() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.requests)
}

func (o *Open) error(w http.ResponseWriter, r *http.Request, status, code int, msg string) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]any{"error": msg, "error_code": code, "request": r.URL.Path})
	_, _ = w.Write(b)
}

// admit checks faults, the token and the quotas. It writes the error and
// returns false when the request must not go on.
func (o *Open) admit(w http.ResponseWriter, r *http.Request, endpoint string) (Fault, bool) {
	o.mu.Lock()
	q := r.URL.Query()
	q.Del("access_token")
	o.requests = append(o.requests, r.Method+" "+r.URL.Path+"?"+q.Encode())
	var f Fault
	if len(o.faults) > 0 {
		f = o.faults[0]
		o.faults = o.faults[1:]
	}
	token := r.FormValue("access_token")
	if token == "" {
		if v, ok := strings.CutPrefix(r.Header.Get("Authorization"), "OAuth2 "); ok {
			token = v
		}
	}
	valid, expired := o.token, strings.HasPrefix(o.token, "expired:")
	hour := o.opt.Now().In(shanghai).Format("2006010215")
	o.mu.Unlock()

	switch f {
	case FaultIPLimit:
		o.error(w, r, http.StatusForbidden, 10022, "IP requests out of rate limit!")
		return f, false
	case FaultUserLimit:
		o.error(w, r, http.StatusForbidden, 10023, "User requests out of rate limit!")
		return f, false
	case FaultEndpointLimit:
		o.error(w, r, http.StatusForbidden, 10024, "User requests for ("+endpoint+") out of rate limit!")
		return f, false
	case FaultSystemError:
		o.error(w, r, http.StatusInternalServerError, 10001, "System error!")
		return f, false
	case FaultExpiredToken:
		o.error(w, r, http.StatusBadRequest, 21327, "expired_token")
		return f, false
	case FaultInvalidToken:
		o.error(w, r, http.StatusBadRequest, 21332, "invalid_access_token")
		return f, false
	case Fault500, Fault502, FaultVisitor, FaultTeapot, FaultHuge:
		(&Mobile{}).serveFault(w, f, nil)
		return f, false
	}
	switch {
	case token == "":
		o.error(w, r, http.StatusBadRequest, 10006, "Source paramter (appkey) is missing")
		return f, false
	case expired && token == strings.TrimPrefix(valid, "expired:"):
		o.error(w, r, http.StatusBadRequest, 21327, "expired_token")
		return f, false
	case token != valid:
		o.error(w, r, http.StatusBadRequest, 21332, "invalid_access_token")
		return f, false
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.opt.HourlyCalls > 0 && o.calls[hour+"|*"] >= o.opt.HourlyCalls {
		o.error(w, r, http.StatusForbidden, 10023, "User requests out of rate limit!")
		return f, false
	}
	if endpoint == "comments/create" && o.opt.HourlyComments > 0 && o.calls[hour+"|"+endpoint] >= o.opt.HourlyComments {
		o.error(w, r, http.StatusForbidden, 10024, "User requests for (comments/create) out of rate limit!")
		return f, false
	}
	o.calls[hour+"|*"]++
	o.calls[hour+"|"+endpoint]++
	return f, true
}

// answer writes body, or half of it for FaultTruncated.
func answer(w http.ResponseWriter, f Fault, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if f == FaultTruncated {
		b = b[:len(b)/2]
	}
	writeJSONBytes(w, b)
}

func intParam(r *http.Request, name string, def int64) int64 {
	v, err := strconv.ParseInt(r.FormValue(name), 10, 64)
	if err != nil {
		return def
	}
	return v
}

func (o *Open) status(p *Post) map[string]any {
	id := strconv.FormatInt(p.ID, 10)
	s := map[string]any{
		"created_at": rubyDate(p.CreatedAt),
		// json.Marshal writes int64 exactly; real IDs are ~16 digits.
		"id": p.ID, "idstr": id, "mid": id,
		"text": p.Text, "textLength": utf8.RuneCountInString(p.Text) * 2,
		"isLongText": false, "favorited": false, "truncated": false,
		"source":                  `<a href="http://app.weibo.com/t/feed/6vtZb0" rel="nofollow">微博 weibo.com</a>`,
		"in_reply_to_status_id":   "",
		"in_reply_to_user_id":     "",
		"in_reply_to_screen_name": "",
		"pic_urls":                []any{},
		"geo":                     nil,
		"user": map[string]any{
			"id": p.UID, "idstr": strconv.FormatInt(p.UID, 10), "screen_name": p.ScreenName, "name": p.ScreenName,
			"province": "34", "city": "5", "location": p.Location, "gender": "n",
			"followers_count": 12, "friends_count": 30, "statuses_count": 99,
			"verified": false, "verified_type": -1, "created_at": "Mon Feb 07 13:55:30 +0800 2011",
		},
		"reposts_count": 0, "comments_count": 0, "attitudes_count": 1,
		"visible": map[string]any{"type": 0, "list_id": 0},
	}
	if len(p.Pics) > 0 {
		var pics []any
		for _, pid := range p.Pics {
			pics = append(pics, map[string]any{"thumbnail_pic": "http://wx1.sinaimg.cn/thumbnail/" + pid + ".jpg"})
		}
		s["pic_urls"] = pics
		s["thumbnail_pic"] = "http://wx1.sinaimg.cn/thumbnail/" + p.Pics[0] + ".jpg"
		s["bmiddle_pic"] = "http://wx1.sinaimg.cn/bmiddle/" + p.Pics[0] + ".jpg"
		s["original_pic"] = "http://wx1.sinaimg.cn/large/" + p.Pics[0] + ".jpg"
	}
	if p.Geo != nil {
		s["geo"] = map[string]any{"type": "Point", "coordinates": []float64{p.Geo[0], p.Geo[1]}}
	}
	return s
}

// mentions serves statuses/mentions: since_id exclusive, max_id inclusive,
// count ≤ 200 (default 20), page; next_cursor is the last ID when more
// items follow, else 0.
func (o *Open) mentions(w http.ResponseWriter, r *http.Request) {
	f, ok := o.admit(w, r, "statuses/mentions")
	if !ok {
		return
	}
	since, maxID := intParam(r, "since_id", 0), intParam(r, "max_id", 0)
	count := min(max(intParam(r, "count", 20), 1), 200)
	page := max(intParam(r, "page", 1), 1)
	o.mu.Lock()
	if o.ignoreMax {
		maxID = 0
	}
	var match []*Post
	for _, p := range o.posts {
		if p.Mentions && !o.deleted[p.ID] && p.ID > since && (maxID == 0 || p.ID <= maxID) {
			match = append(match, p)
		}
	}
	start := min((page-1)*count, int64(len(match)))
	end := min(start+count, int64(len(match)))
	statuses := []any{}
	for _, p := range match[start:end] {
		statuses = append(statuses, o.status(p))
	}
	var next int64
	if end < int64(len(match)) && end > start {
		next = match[end-1].ID
	}
	o.mu.Unlock()
	answer(w, f, map[string]any{
		"statuses": statuses, "hasvisible": false, "previous_cursor": 0, "next_cursor": next,
		"total_number": len(match), "interval": 0, "uve_blank": -1, "since_id": since, "max_id": maxID,
		"has_unread": 0,
	})
}

// topics serves search/topics: q without the # marks, count ≤ 50 (default
// 10), page; only the newest 200 results; needs the advanced permission.
func (o *Open) topics(w http.ResponseWriter, r *http.Request) {
	f, ok := o.admit(w, r, "search/topics")
	if !ok {
		return
	}
	o.mu.Lock()
	perm := o.perm
	o.mu.Unlock()
	if !perm {
		o.error(w, r, http.StatusForbidden, 10014, "Insufficient app permissions!")
		return
	}
	q := strings.Trim(r.FormValue("q"), "#")
	if q == "" {
		o.error(w, r, http.StatusBadRequest, 10016, "Miss required parameter (q) , see doc for more info.")
		return
	}
	count := min(max(intParam(r, "count", 10), 1), 50)
	page := max(intParam(r, "page", 1), 1)
	o.mu.Lock()
	var match []*Post
	for _, p := range o.posts {
		if !o.deleted[p.ID] && p.HasTopic(q) {
			match = append(match, p)
		}
	}
	match = match[:min(len(match), 200)]
	start := min((page-1)*count, int64(len(match)))
	end := min(start+count, int64(len(match)))
	statuses := []any{}
	for _, p := range match[start:end] {
		statuses = append(statuses, o.status(p))
	}
	o.mu.Unlock()
	answer(w, f, map[string]any{"statuses": statuses, "total_number": len(match)})
}

// weiboUnits counts like a Weibo client: GBK-style width, two ASCII
// characters per unit (rounded up).
func weiboUnits(s string) int {
	n := 0
	for _, r := range s {
		if r < utf8.RuneSelf {
			n++
		} else {
			n += 2
		}
	}
	return (n + 1) / 2
}

// create serves comments/create: form-encoded only, comment ≤ 140 units
// (20012), not empty (20008), not a repeat of this account's text within the
// hour (20019), on an existing post (20101).
func (o *Open) create(w http.ResponseWriter, r *http.Request) {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "application/x-www-form-urlencoded" {
		o.error(w, r, http.StatusBadRequest, 10016, "Miss required parameter (comment) , see doc for more info.")
		return
	}
	f, ok := o.admit(w, r, "comments/create")
	if !ok {
		return
	}
	text := r.PostFormValue("comment")
	id, err := strconv.ParseInt(r.PostFormValue("id"), 10, 64)
	rip := r.PostFormValue("rip")
	switch {
	case err != nil:
		o.error(w, r, http.StatusBadRequest, 10017, fmt.Sprintf("Parameter (id)'s value invalid, expect (long) , but get (%s) , see doc for more info.", r.PostFormValue("id")))
		return
	case o.opt.RequireRIP && rip == "":
		o.error(w, r, http.StatusBadRequest, 10016, "Miss required parameter (rip) , see doc for more info.")
		return
	case strings.TrimSpace(text) == "":
		o.error(w, r, http.StatusBadRequest, 20008, "Content is null!")
		return
	case weiboUnits(text) > 140:
		o.error(w, r, http.StatusBadRequest, 20012, "Text too long, please input text less than 140 characters!")
		return
	}
	o.mu.Lock()
	var post *Post
	for _, p := range o.posts {
		if p.ID == id && !o.deleted[id] {
			post = p
		}
	}
	if post == nil {
		o.mu.Unlock()
		o.error(w, r, http.StatusBadRequest, 20101, "Target weibo does not exist!")
		return
	}
	now := o.opt.Now()
	for _, c := range o.comments {
		if c.Text == text && now.Sub(c.CreatedAt) < time.Hour {
			o.mu.Unlock()
			o.error(w, r, http.StatusBadRequest, 20019, "Repeat conetnt!")
			return
		}
	}
	o.nextCID++
	c := Comment{ID: o.nextCID, PostID: id, Text: text, RIP: rip, CreatedAt: now}
	o.comments = append(o.comments, c)
	body := o.comment(c, post)
	o.mu.Unlock()
	if f == FaultCommitThen502 {
		(&Mobile{}).serveFault(w, Fault502, nil)
		return
	}
	answer(w, f, body)
}

func (o *Open) comment(c Comment, post *Post) map[string]any {
	cid := strconv.FormatInt(c.ID, 10)
	return map[string]any{
		"created_at": rubyDate(c.CreatedAt),
		"id":         c.ID, "idstr": cid, "mid": cid, "rootid": c.ID,
		"text":   c.Text,
		"source": `<a href="http://weibo.com" rel="nofollow">马鞍山发布</a>`,
		"user": map[string]any{
			"id": o.opt.AccountUID, "idstr": strconv.FormatInt(o.opt.AccountUID, 10),
			"screen_name": o.opt.AccountName, "name": o.opt.AccountName, "verified": true, "verified_type": 1,
		},
		"status": o.status(post),
	}
}

// show serves comments/show: the comments on a post, newest first,
// count ≤ 200 (default 50), page.
func (o *Open) show(w http.ResponseWriter, r *http.Request) {
	f, ok := o.admit(w, r, "comments/show")
	if !ok {
		return
	}
	id := intParam(r, "id", 0)
	count := min(max(intParam(r, "count", 50), 1), 200)
	page := max(intParam(r, "page", 1), 1)
	o.mu.Lock()
	var post *Post
	for _, p := range o.posts {
		if p.ID == id && !o.deleted[id] {
			post = p
		}
	}
	if post == nil {
		o.mu.Unlock()
		o.error(w, r, http.StatusBadRequest, 20101, "Target weibo does not exist!")
		return
	}
	var on []Comment
	for i := len(o.comments) - 1; i >= 0; i-- {
		if o.comments[i].PostID == id {
			on = append(on, o.comments[i])
		}
	}
	start := min((page-1)*count, int64(len(on)))
	end := min(start+count, int64(len(on)))
	list := []any{}
	for _, c := range on[start:end] {
		list = append(list, o.comment(c, post))
	}
	var next int64
	if end < int64(len(on)) && end > start {
		next = on[end-1].ID
	}
	o.mu.Unlock()
	answer(w, f, map[string]any{"comments": list, "hasvisible": false, "previous_cursor": 0,
		"next_cursor": next, "total_number": len(on)})
}
