package weibofake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Fault is a misbehaviour a fake applies to one request.
type Fault int

const (
	// FaultTeapot is HTTP 418, m.weibo.cn's "too many requests".
	FaultTeapot Fault = iota + 1
	// Fault432 is HTTP 432, the search API refusing a request.
	Fault432
	// Fault500 is HTTP 500 with an HTML error page.
	Fault500
	// Fault502 is HTTP 502 from the gateway.
	Fault502
	// FaultTruncated cuts a correct JSON body in half.
	FaultTruncated
	// FaultVisitor is HTTP 200 with the Sina Visitor System HTML page.
	FaultVisitor
	// FaultLoginWall is {"ok":-100,"url":"https://passport.weibo.com/..."}.
	FaultLoginWall
	// FaultTooFrequent is {"ok":0,"msg":"访问频次过高"}.
	FaultTooFrequent
	// FaultRedirect is a 302 to the passport login page.
	FaultRedirect
	// FaultHuge is HTTP 200 with a JSON body of HugeBytes, larger than any
	// client should read.
	FaultHuge

	// Open API faults (error bodies as §1.6 shows them).
	FaultIPLimit       // 10022, HTTP 403
	FaultUserLimit     // 10023, HTTP 403
	FaultEndpointLimit // 10024, HTTP 403
	FaultSystemError   // 10001, HTTP 500
	FaultExpiredToken  // 21327, HTTP 400
	FaultInvalidToken  // 21332, HTTP 400
	// FaultCommitThen502 records a comments/create and then answers 502, as
	// an attempt interrupted after the platform accepted it.
	FaultCommitThen502
)

// MobileOptions configure the m.weibo.cn fake.
type MobileOptions struct {
	// Cookie is the Cookie header a logged-in client sends; requests
	// without its SUB value get the login wall. Empty disables the check.
	Cookie string
	// PageSize is the number of posts per search page; default 10.
	PageSize int
	// RelativeDates renders created_at in the older relative forms
	// ("3分钟前", "昨天 18:12", "12-16") instead of RubyDate.
	RelativeDates bool
	// GroupEvery wraps every n-th post card in a card_type 11 group; 0 never.
	GroupEvery int
	// LongAfter is the length (in characters) above which a post is
	// truncated with a "全文" link; default 140.
	LongAfter int
	// Limit requests per Window, then 418 until the window passes; 0 = none.
	Limit  int
	Window time.Duration
	// RetryAfter, when set, is sent as Retry-After with 418 and 432.
	RetryAfter time.Duration
	// Now is the fake's clock; default time.Now.
	Now func() time.Time
}

// Mobile is a fake of m.weibo.cn: api/container/getIndex (search
// containers 100103type=...&q=...) and statuses/extend.
type Mobile struct {
	*httptest.Server
	mu        sync.Mutex
	opt       MobileOptions
	sub       string
	posts     []*Post // newest first
	tombstone map[int64]bool
	faults    []Fault
	overlap   int
	shuffle   *rand.Rand
	requests  []string
	hits      []time.Time
}

// NewMobile starts the fake; Close it when done.
func NewMobile(opt MobileOptions) *Mobile {
	if opt.PageSize <= 0 {
		opt.PageSize = 10
	}
	if opt.LongAfter <= 0 {
		opt.LongAfter = 140
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	m := &Mobile{opt: opt, sub: cookieSUB(opt.Cookie), tombstone: map[int64]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/container/getIndex", m.getIndex)
	mux.HandleFunc("GET /statuses/extend", m.extend)
	m.Server = httptest.NewServer(mux)
	return m
}

func cookieSUB(c string) string {
	for part := range strings.SplitSeq(c, ";") {
		if k, v, ok := strings.Cut(strings.TrimSpace(part), "="); ok && k == "SUB" {
			return v
		}
	}
	return ""
}

// Add stores posts (any order); the feed is served newest first by ID.
func (m *Mobile) Add(posts ...Post) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, p := range posts {
		m.posts = append(m.posts, &p)
	}
	slices.SortFunc(m.posts, func(a, b *Post) int { return cmpDesc(a.ID, b.ID) })
}

func cmpDesc(a, b int64) int {
	switch {
	case a > b:
		return -1
	case a < b:
		return 1
	}
	return 0
}

// Delete removes a post. With tombstone it stays in the feed as the
// "抱歉，此微博已被删除" placeholder card (state 5, deleted "1", user null).
func (m *Mobile) Delete(id int64, tombstone bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if tombstone {
		m.tombstone[id] = true
		return
	}
	m.posts = slices.DeleteFunc(m.posts, func(p *Post) bool { return p.ID == id })
}

// Inject queues faults; each request (any endpoint) consumes the next one.
func (m *Mobile) Inject(f ...Fault) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.faults = append(m.faults, f...)
}

// SetOverlap makes every page after the first start n posts early, so it
// repeats the end of the previous page.
func (m *Mobile) SetOverlap(n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.overlap = n
}

// SetShuffle reorders posts within each page (seeded); seed 0 turns it off.
func (m *Mobile) SetShuffle(seed uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if seed == 0 {
		m.shuffle = nil
		return
	}
	m.shuffle = rand.New(rand.NewPCG(seed, seed))
}

// ExpireCookie invalidates the session: later requests get the login wall.
func (m *Mobile) ExpireCookie() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sub = "expired-" + strconv.FormatInt(time.Now().UnixNano(), 36)
}

// Requests returns "path?query" of every request so far.
func (m *Mobile) Requests() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.requests)
}

// admit records the request and returns the fault to apply, if any.
func (m *Mobile) admit(r *http.Request) Fault {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests = append(m.requests, r.URL.Path+"?"+r.URL.RawQuery)
	if len(m.faults) > 0 {
		f := m.faults[0]
		m.faults = m.faults[1:]
		return f
	}
	if m.opt.Limit > 0 {
		now := m.opt.Now()
		m.hits = slices.DeleteFunc(m.hits, func(t time.Time) bool { return now.Sub(t) >= m.opt.Window })
		if len(m.hits) >= m.opt.Limit {
			return FaultTeapot
		}
		m.hits = append(m.hits, now)
	}
	if m.sub != "" && cookieSUB(r.Header.Get("Cookie")) != m.sub {
		return FaultLoginWall
	}
	return 0
}

// serveFault writes the fault's answer; body is the correct answer (for
// FaultTruncated). It reports whether it wrote anything.
func (m *Mobile) serveFault(w http.ResponseWriter, f Fault, body []byte) bool {
	retry := func() {
		if m.opt.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(m.opt.RetryAfter/time.Second)))
		}
	}
	switch f {
	case 0:
		return false
	case FaultTeapot:
		retry()
		w.WriteHeader(http.StatusTeapot)
	case Fault432:
		retry()
		w.WriteHeader(432)
	case Fault500, FaultSystemError:
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte("<html><body><h1>500 Internal Server Error</h1></body></html>"))
	case Fault502:
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = w.Write([]byte("<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>"))
	case FaultTruncated:
		writeJSONBytes(w, body[:len(body)/2])
	case FaultHuge:
		WriteHuge(w)
	case FaultVisitor:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(`<!DOCTYPE html><html><head><meta charset="utf-8"><title>Sina Visitor System</title></head><body><script>window.location.href="https://passport.weibo.com/visitor/visitor"</script></body></html>`))
	case FaultLoginWall:
		writeJSON(w, map[string]any{"ok": -100, "url": "https://passport.weibo.com/sso/signin?entry=wapsso&source=wapssowb&url=https%3A%2F%2Fm.weibo.cn%2F"})
	case FaultTooFrequent:
		writeJSON(w, map[string]any{"ok": 0, "msg": "访问频次过高，请稍后再试"})
	case FaultRedirect:
		w.Header().Set("Location", "https://passport.weibo.com/sso/signin?entry=wapsso")
		w.WriteHeader(http.StatusFound)
	default:
		return false
	}
	return true
}

// HugeBytes is the size of a FaultHuge body: 32 MiB.
const HugeBytes = 32 << 20

// WriteHuge streams a JSON object of HugeBytes; it stops early when the
// client hangs up.
func WriteHuge(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	if _, err := io.WriteString(w, `{"ok":1,"pad":"`); err != nil {
		return
	}
	chunk := bytes.Repeat([]byte("x"), 64<<10)
	for n := 0; n < HugeBytes; n += len(chunk) {
		if _, err := w.Write(chunk); err != nil {
			return
		}
	}
	_, _ = io.WriteString(w, `"}`)
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeJSONBytes(w, b)
}

func writeJSONBytes(w http.ResponseWriter, b []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, _ = w.Write(b)
}

func (m *Mobile) getIndex(w http.ResponseWriter, r *http.Request) {
	f := m.admit(r)
	cid := r.URL.Query().Get("containerid")
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	page = max(page, 1)
	body := m.searchPage(cid, page)
	if m.serveFault(w, f, body) {
		return
	}
	writeJSONBytes(w, body)
}

// searchPage renders page n of a 100103type=T&q=#topic# container.
func (m *Mobile) searchPage(cid string, page int) []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	q := ""
	if rest, ok := strings.CutPrefix(cid, "100103"); ok {
		for part := range strings.SplitSeq(rest, "&") {
			if v, ok := strings.CutPrefix(part, "q="); ok {
				q = v
			}
		}
	}
	var match []*Post
	for _, p := range m.posts {
		if q != "" && strings.Contains(p.Text, q) {
			match = append(match, p)
		}
	}
	start := (page - 1) * m.opt.PageSize
	if page > 1 {
		start = max(start-m.overlap, 0)
	}
	end := min(start+m.opt.PageSize, len(match))
	var items []*Post
	if start < len(match) {
		items = slices.Clone(match[start:end])
	}
	if m.shuffle != nil {
		m.shuffle.Shuffle(len(items), func(i, j int) { items[i], items[j] = items[j], items[i] })
	}
	if len(items) == 0 {
		// The empty-result answer of the search container.
		b, _ := json.Marshal(map[string]any{"ok": 0, "msg": "这里还没有内容", "data": map[string]any{"cards": []any{}}})
		return b
	}
	now := m.opt.Now()
	cards := []any{}
	for i, p := range items {
		c := map[string]any{
			"card_type": 9,
			"itemid":    fmt.Sprintf("seqid:1|type:61|t:|pos:%d-0-%d", page, i),
			"scheme":    "https://m.weibo.cn/status/" + bid(p.ID) + "?mblogid=" + bid(p.ID) + "&luicode=10000011&lfid=" + urlQueryEscape(cid),
			"mblog":     m.mblog(p, now),
		}
		if m.opt.GroupEvery > 0 && i%m.opt.GroupEvery == 0 {
			cards = append(cards, map[string]any{"card_type": 11, "card_group": []any{c}})
		} else {
			cards = append(cards, c)
		}
		if i == 2 {
			// A user card between posts, as search results mix them in.
			cards = append(cards, map[string]any{"card_type": 10, "user": map[string]any{"id": 1404376560, "screen_name": "马鞍山发布"}})
		}
	}
	info := map[string]any{"containerid": cid, "v_p": "42", "show_style": 1, "total": len(match), "page": nil}
	if end < len(match) {
		info["page"] = page + 1
	}
	b, _ := json.Marshal(map[string]any{"ok": 1, "data": map[string]any{"cardlistInfo": info, "cards": cards}})
	return b
}

// bid is a stand-in for the base62 short ID.
func bid(id int64) string { return "P" + strconv.FormatInt(id, 36) }

func (m *Mobile) mblog(p *Post, now time.Time) map[string]any {
	id := strconv.FormatInt(p.ID, 10)
	if m.tombstone[p.ID] {
		return map[string]any{
			"visible": map[string]any{"type": 0, "list_id": 0}, "created_at": rubyDate(p.CreatedAt),
			"id": id, "mid": id, "bid": bid(p.ID), "state": 5, "deleted": "1", "user": nil, "source": "",
			"text": "抱歉，此微博已被删除。查看帮助：<a href='http://t.cn/8sYl7Qb' data-hide=''><span class='url-icon'><img style='width: 1rem;height: 1rem' src='//h5.sinaimg.cn/upload/2015/09/25/3/timeline_card_small_web_default.png'></span> <span class='surl-text'>网页链接</span></a>",
		}
	}
	created := rubyDate(p.CreatedAt)
	if m.opt.RelativeDates {
		created = relativeDate(p.CreatedAt, now)
	}
	text := mobileHTML(p.Text)
	long := utf8.RuneCountInString(p.Text) > m.opt.LongAfter
	if long {
		cut := []rune(p.Text)[:m.opt.LongAfter]
		text = mobileHTML(string(cut)) + ` ...<a href="/status/` + id + `">全文</a>`
	}
	mb := map[string]any{
		"visible":    map[string]any{"type": 0, "list_id": 0},
		"created_at": created,
		"id":         id, "mid": id, "bid": bid(p.ID),
		"text":       text,
		"textLength": len(p.Text),
		"isLongText": long,
		"source":     "iPhone客户端",
		"user": map[string]any{
			"id": p.UID, "screen_name": p.ScreenName,
			"profile_url": fmt.Sprintf("https://m.weibo.cn/u/%d?uid=%d", p.UID, p.UID),
			"gender":      "f", "verified": false, "verified_type": -1,
			"followers_count": displayCount(p.UID % 50000), "followers_count_str": fmt.Sprint(displayCount(p.UID % 50000)),
		},
		"reposts_count": 0, "comments_count": displayCount(p.ID % 20000), "attitudes_count": fmt.Sprint(p.ID % 7),
		"pic_ids": p.Pics, "pic_num": len(p.Pics),
		"mblogtype": 0,
	}
	if len(p.Pics) > 0 {
		var pics []any
		for _, pid := range p.Pics {
			pics = append(pics, map[string]any{
				"pid": pid, "url": "https://wx3.sinaimg.cn/orj360/" + pid + ".jpg", "size": "orj360",
				"geo": map[string]any{"width": 360, "height": 450, "croped": false},
				"large": map[string]any{"size": "large", "url": "https://wx3.sinaimg.cn/large/" + pid + ".jpg",
					"geo": map[string]any{"width": "1024", "height": "1280", "croped": false}},
			})
		}
		mb["pics"] = pics
		mb["thumbnail_pic"] = "https://wx3.sinaimg.cn/thumbnail/" + p.Pics[0] + ".jpg"
		mb["bmiddle_pic"] = "https://wx3.sinaimg.cn/bmiddle/" + p.Pics[0] + ".jpg"
		mb["original_pic"] = "https://wx3.sinaimg.cn/large/" + p.Pics[0] + ".jpg"
	}
	if p.Region != "" {
		mb["region_name"] = "发布于 " + p.Region
	}
	return mb
}

func (m *Mobile) extend(w http.ResponseWriter, r *http.Request) {
	f := m.admit(r)
	id, _ := strconv.ParseInt(r.URL.Query().Get("id"), 10, 64)
	m.mu.Lock()
	var post *Post
	for _, p := range m.posts {
		if p.ID == id && !m.tombstone[id] {
			post = p
		}
	}
	var body []byte
	if post == nil {
		body, _ = json.Marshal(map[string]any{"ok": 0, "msg": "该微博不存在", "data": map[string]any{}})
	} else {
		body, _ = json.Marshal(map[string]any{"ok": 1, "data": map[string]any{
			"ok": 1, "longTextContent": mobileHTML(post.Text),
			"reposts_count": 0, "comments_count": displayCount(post.ID % 20000), "attitudes_count": 3,
		}})
	}
	m.mu.Unlock()
	if m.serveFault(w, f, body) {
		return
	}
	writeJSONBytes(w, body)
}
