package weibo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-resty/resty/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"golang.org/x/time/rate"

	"github.com/mashangban/mashangban/ingest"
	"github.com/mashangban/mashangban/reply"
)

// MobileOptions configure the m.weibo.cn hashtag source.
type MobileOptions struct {
	// Name is the configured source name; default "weibo-mobile".
	Name string
	// Topic is the hashtag without the # marks, e.g. "马鞍山马上办".
	Topic string
	// Cookie is the Cookie header of a logged-in m.weibo.cn session (it must
	// hold SUB=...; XSRF-TOKEN=... is sent back as X-XSRF-TOKEN). A secret:
	// it is never logged or put in errors.
	Cookie string
	// BaseURL defaults to https://m.weibo.cn; tests point it at weibofake.
	BaseURL string
	// SearchType is the T of containerid 100103type=T; default 61 (实时, newest first).
	SearchType int
	// MaxPages bounds one walk from page 1; default 20 (about 200 posts).
	MaxPages int
	// SeenIDs bounds the IDs remembered in the cursor; default 600.
	SeenIDs int
	// Backfill is how far back the empty cursor reaches; default 72h.
	Backfill time.Duration
	// RateLimitWait is the wait after HTTP 418/432 or ok:0 "访问频次过高"
	// without a Retry-After header; default 10m (418 clears "after minutes to hours").
	RateLimitWait time.Duration
	// PollEvery and PollBurst are the recommended poll rate returned by Rate
	// and Burst; default one poll per 10s (crawlers' DOWNLOAD_DELAY), burst 1.
	PollEvery time.Duration
	PollBurst int
	// ExtendEvery paces statuses/extend calls inside one poll; default 2s, burst 3.
	// Negative disables pacing (tests).
	ExtendEvery time.Duration
	UserAgent   string
	Timeout     time.Duration // per request; default 20s
	// Now is the clock for relative dates and waits; default time.Now.
	Now        func() time.Time
	HTTPClient *http.Client          // optional transport (tests)
	Logger     *slog.Logger          // already carrying component/source attributes
	Registerer prometheus.Registerer // optional
}

// DefaultUserAgent is a mobile browser user agent, as m.weibo.cn expects.
const DefaultUserAgent = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"

// Mobile reads the posts of one hashtag from the m.weibo.cn search container
// (containerid 100103type=61&q=#话题#, page_type=searchall), newest first.
//
// Its cursor is compact JSON: a window of recently handed-out post IDs plus
// the page of a walk in progress, so a restart mid-walk resumes at the next
// page and repeated or reordered pages do not produce duplicates.
type Mobile struct {
	opt     MobileOptions
	client  *resty.Client
	log     *slog.Logger
	extend  *rate.Limiter
	metrics *requestMetrics
}

// NewMobile builds the m.weibo.cn source.
func NewMobile(opt MobileOptions) (*Mobile, error) {
	if strings.Trim(opt.Topic, "# ") == "" {
		return nil, errors.New("weibo-mobile: topic is required")
	}
	opt.Topic = strings.Trim(opt.Topic, "# ")
	if opt.Name == "" {
		opt.Name = "weibo-mobile"
	}
	if opt.BaseURL == "" {
		opt.BaseURL = "https://m.weibo.cn"
	}
	if opt.SearchType == 0 {
		opt.SearchType = 61
	}
	if opt.MaxPages <= 0 {
		opt.MaxPages = 20
	}
	if opt.SeenIDs <= 0 {
		opt.SeenIDs = 600
	}
	if opt.Backfill <= 0 {
		opt.Backfill = 72 * time.Hour
	}
	if opt.RateLimitWait <= 0 {
		opt.RateLimitWait = 10 * time.Minute
	}
	if opt.PollEvery <= 0 {
		opt.PollEvery = 10 * time.Second
	}
	if opt.PollBurst <= 0 {
		opt.PollBurst = 1
	}
	if opt.ExtendEvery == 0 {
		opt.ExtendEvery = 2 * time.Second
	}
	if opt.UserAgent == "" {
		opt.UserAgent = DefaultUserAgent
	}
	if opt.Timeout <= 0 {
		opt.Timeout = 20 * time.Second
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	m := newRequestMetrics(opt.Registerer, opt.Name)
	s := &Mobile{opt: opt, metrics: m, log: opt.Logger}
	s.extend = rate.NewLimiter(rate.Inf, 1)
	if opt.ExtendEvery > 0 {
		s.extend = rate.NewLimiter(rate.Every(opt.ExtendEvery), 3)
	}
	s.client = newClient(opt.HTTPClient, opt.BaseURL, opt.Timeout).
		SetHeader("User-Agent", opt.UserAgent).
		SetHeader("Accept", "application/json, text/plain, */*").
		SetHeader("X-Requested-With", "XMLHttpRequest").
		SetHeader("MWeibo-Pwa", "1")
	return s, nil
}

func newClient(hc *http.Client, base string, timeout time.Duration) *resty.Client {
	var c *resty.Client
	if hc != nil {
		c = resty.NewWithClient(hc)
	} else {
		c = resty.New()
	}
	// resty's own logger would print warnings with request details; keep it quiet.
	return c.SetBaseURL(strings.TrimRight(base, "/")).SetTimeout(timeout).SetLogger(quietLogger{}).SetRetryCount(0).
		SetResponseBodyLimit(ingest.MaxResponseBytes).
		// A redirect (visitor system, passport login) is a signal, not something to follow.
		SetRedirectPolicy(resty.RedirectPolicyFunc(func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }))
}

// Name implements ingest.Source.
func (s *Mobile) Name() string { return s.opt.Name }

// Query implements ingest.Source: a change of topic or search type resets the cursor.
func (s *Mobile) Query() string { return s.containerID() }

// Rate is the recommended poll rate for the poller.
func (s *Mobile) Rate() rate.Limit { return rate.Every(s.opt.PollEvery) }

// Burst is the recommended poll burst for the poller.
func (s *Mobile) Burst() int { return s.opt.PollBurst }

func (s *Mobile) containerID() string {
	return "100103type=" + strconv.Itoa(s.opt.SearchType) + "&q=#" + s.opt.Topic + "#"
}

// Poll fetches the next page of the walk recorded in cur (page 1 when no walk
// is in progress). Long posts are completed through statuses/extend before
// they are returned. On any error the cursor does not move.
func (s *Mobile) Poll(ctx context.Context, cur ingest.Cursor) (ingest.Batch, error) {
	now := s.opt.Now()
	w, err := decodeWindow(cur)
	if err != nil {
		return ingest.Batch{}, err
	}
	if cur == "" {
		w.Start = now.Add(-s.opt.Backfill).Unix()
	}
	page := max(w.Page, 1)
	req := s.request(ctx).SetQueryParams(map[string]string{
		"containerid": s.containerID(),
		"page_type":   "searchall",
		"page":        strconv.Itoa(page),
	})
	body, err := s.do(ctx, "getIndex", func() (*resty.Response, error) { return req.Get("/api/container/getIndex") })
	if err != nil {
		return ingest.Batch{}, err
	}
	parsed, err := ParseMobilePage(body, now)
	if err != nil {
		s.metrics.observe("getIndex", Class(err))
		return ingest.Batch{}, s.backoff(fmt.Errorf("weibo-mobile getIndex page %d: %w", page, err), nil, now)
	}

	items := make([]pageItem, 0, len(parsed.Posts))
	for _, p := range parsed.Posts {
		items = append(items, pageItem{id: p.ID, created: p.Post.CreatedAt.Unix()})
	}
	// Deleted placeholders are remembered like posts but never returned.
	fresh, more := w.step(page, items, parsed.NextPage == 0, s.opt.MaxPages)

	batch := ingest.Batch{More: more, Duplicates: len(items) - len(fresh)}
	for _, i := range fresh {
		p := parsed.Posts[i]
		if p.Deleted {
			continue
		}
		if p.LongText {
			text, err := s.longText(ctx, p.Post.NativeID)
			switch {
			case err == nil:
				p.Post.Text = text
			case errors.Is(err, reply.ErrGone), errors.Is(err, ingest.ErrMalformed):
				// The truncated text is still the citizen's words; keep it.
				s.log.Warn("long text unavailable, keeping truncated text", "post_id", p.Post.ID, "error", err)
			default:
				return ingest.Batch{}, err
			}
		}
		p.Post.Source = s.opt.Name
		p.Post.FetchedAt = now
		batch.Posts = append(batch.Posts, p.Post)
	}
	for _, r := range parsed.Rejected {
		// A rejected post is remembered too, so it is dead-lettered once.
		if id, err := flexID(r.Key).int64(); err == nil {
			if w.known(id, now.Unix()) {
				continue
			}
			w.add(id)
		}
		r.Source = s.opt.Name
		batch.Rejected = append(batch.Rejected, r)
	}
	if !more {
		w.prune(s.opt.SeenIDs)
	}
	next, err := json.Marshal(w)
	if err != nil {
		return ingest.Batch{}, fmt.Errorf("weibo-mobile cursor: %w", err)
	}
	batch.Next = ingest.Cursor(next)
	s.metrics.observe("getIndex", "ok")
	return batch, nil
}

func (s *Mobile) longText(ctx context.Context, id string) (string, error) {
	if err := s.extend.Wait(ctx); err != nil {
		return "", err
	}
	req := s.request(ctx).SetQueryParam("id", id)
	body, err := s.do(ctx, "extend", func() (*resty.Response, error) { return req.Get("/statuses/extend") })
	if err != nil {
		return "", err
	}
	text, err := ParseMobileExtend(body)
	if err != nil {
		s.metrics.observe("extend", Class(err))
		if errors.Is(err, reply.ErrGone) || errors.Is(err, ingest.ErrMalformed) {
			return "", err
		}
		return "", s.backoff(fmt.Errorf("weibo-mobile statuses/extend %s: %w", id, err), nil, s.opt.Now())
	}
	s.metrics.observe("extend", "ok")
	return text, nil
}

func (s *Mobile) request(ctx context.Context) *resty.Request {
	r := s.client.R().SetContext(ctx).
		SetHeader("Referer", s.opt.BaseURL+"/search?containerid="+s.containerID())
	if s.opt.Cookie != "" {
		r.SetHeader("Cookie", s.opt.Cookie)
		if x := cookieValue(s.opt.Cookie, "XSRF-TOKEN"); x != "" {
			r.SetHeader("X-XSRF-TOKEN", x)
		}
	}
	return r
}

// do performs a request and maps HTTP-level failures to the error classes:
// 418 and 432 are rate limiting (432 is how the search container refuses
// bursts and missing h5 cookies; a lasting cookie problem shows up as ok:-100),
// 403 and 414 are treated as rate limiting too, 5xx is transient.
func (s *Mobile) do(ctx context.Context, endpoint string, send func() (*resty.Response, error)) ([]byte, error) {
	resp, err := send()
	if err != nil {
		if tooLarge(err) {
			s.metrics.observe(endpoint, "malformed")
			return nil, tooLargeError("weibo-mobile " + endpoint)
		}
		s.metrics.observe(endpoint, "transient")
		return nil, transportError(ctx, "weibo-mobile "+endpoint, err)
	}
	now := s.opt.Now()
	code := resp.StatusCode()
	switch {
	case code == http.StatusTeapot || code == 432 || code == http.StatusForbidden || code == http.StatusRequestURITooLong || code == http.StatusTooManyRequests:
		s.metrics.observe(endpoint, "rate_limited")
		return nil, s.backoff(fmt.Errorf("weibo-mobile %s: http %d: %w", endpoint, code, ingest.ErrRateLimited), resp, now)
	case code >= 500:
		s.metrics.observe(endpoint, "transient")
		return nil, fmt.Errorf("weibo-mobile %s: http %d: %w", endpoint, code, ingest.ErrTransient)
	case code >= 300 && code < 400:
		// A redirect that was not followed is the visitor system or the login page.
		s.metrics.observe(endpoint, "auth")
		return nil, fmt.Errorf("weibo-mobile %s: http %d to %q: %w", endpoint, code, resp.Header().Get("Location"), ErrLoginWall)
	case code != http.StatusOK:
		s.metrics.observe(endpoint, "other")
		return nil, fmt.Errorf("weibo-mobile %s: unexpected http %d: %q", endpoint, code, snippet(resp.Body()))
	}
	return resp.Body(), nil
}

// backoff turns a rate-limited error into a BackoffError with the wait the
// platform asked for (Retry-After) or the configured one.
func (s *Mobile) backoff(err error, resp *resty.Response, now time.Time) error {
	if !errors.Is(err, ingest.ErrRateLimited) {
		return err
	}
	wait := s.opt.RateLimitWait
	if resp != nil {
		if d, ok := retryAfter(resp, now); ok {
			wait = d
		}
	}
	return &ingest.BackoffError{Wait: wait, Cause: err}
}

func decodeWindow(cur ingest.Cursor) (window, error) {
	var w window
	if cur == "" {
		return w, nil
	}
	if err := json.Unmarshal([]byte(cur), &w); err != nil {
		return w, fmt.Errorf("bad cursor: %w", err)
	}
	return w, nil
}

func cookieValue(cookie, name string) string {
	for part := range strings.SplitSeq(cookie, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if ok && k == name {
			return v
		}
	}
	return ""
}

// Class is ingest.Class with "ok" for nil, for request metrics.
func Class(err error) string {
	if err == nil {
		return "ok"
	}
	return ingest.Class(err)
}

type quietLogger struct{}

func (quietLogger) Errorf(string, ...any) {}
func (quietLogger) Warnf(string, ...any)  {}
func (quietLogger) Debugf(string, ...any) {}

// requestMetrics counts requests to Weibo by endpoint and outcome.
type requestMetrics struct {
	requests *prometheus.CounterVec
}

func newRequestMetrics(reg prometheus.Registerer, client string) *requestMetrics {
	// Each client (a source, or the replier) registers its own series, told
	// apart by the constant client label.
	return &requestMetrics{requests: promauto.With(reg).NewCounterVec(prometheus.CounterOpts{
		Name:        "mashangban_weibo_requests_total",
		Help:        "Requests to Weibo by client (source name or replies), endpoint and outcome (ok or error class).",
		ConstLabels: prometheus.Labels{"client": client},
	}, []string{"endpoint", "outcome"})}
}

func (m *requestMetrics) observe(endpoint, outcome string) {
	m.requests.WithLabelValues(endpoint, outcome).Inc()
}
