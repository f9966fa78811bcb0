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

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/mashangban/mashangban/ingest"
)

// OpenOptions configure the Weibo Open API source.
type OpenOptions struct {
	// Name is the configured source name; default "weibo-open".
	Name string
	// AccessToken is the OAuth2 token of the city's account (a secret: never
	// logged; transport errors are stripped of the query that carries it).
	AccessToken string
	// BaseURL defaults to https://api.weibo.com; tests point it at weibofake.
	BaseURL string
	// Mentions polls statuses/mentions (posts that @ the account).
	Mentions bool
	// Topic, when set, polls search/topics for this hashtag (without the #
	// marks). It needs the advanced permission most apps lack (error 10014).
	Topic string
	// MentionsCount is the statuses/mentions page size; default 100, max 200.
	MentionsCount int
	// TopicsCount is the search/topics page size; default 50 (the maximum).
	TopicsCount int
	// SeenIDs bounds the IDs remembered for search/topics; default 400.
	SeenIDs int
	// Backfill is how far back the empty cursor reaches; default 72h.
	Backfill time.Duration
	// HourlyQuota is the per-user-per-app hourly call quota of the app's
	// level (150 at test and normal level), ReplyReserve the part of it kept
	// for comments/create (60, the comments quota). Rate is the rest.
	HourlyQuota  int
	ReplyReserve int
	Timeout      time.Duration // per request; default 20s
	// Now is the clock for waits and the backfill horizon; default time.Now.
	Now        func() time.Time
	HTTPClient *http.Client
	Logger     *slog.Logger // already carrying component/source attributes
	Registerer prometheus.Registerer
}

// Open reads posts from the Weibo Open API v2: statuses/mentions with a
// since_id cursor, and search/topics when the app has the permission.
//
// The cursor is compact JSON with one part per endpoint. statuses/mentions
// keeps since_id (exclusive: everything at or below it was handed out); when
// a page is full the walk goes back with max_id (inclusive, so the boundary
// item is dropped) until it reaches since_id, and only then does since_id
// move up to the newest ID of the walk. search/topics only pages by number,
// so it keeps a window of recent IDs like the m.weibo.cn source.
type Open struct {
	opt       OpenOptions
	api       *openClient
	log       *slog.Logger
	endpoints []string
}

const (
	endpointMentions = "mentions"
	endpointTopics   = "topics"
)

// NewOpen builds the Open API source.
func NewOpen(opt OpenOptions) (*Open, error) {
	opt.Topic = strings.Trim(opt.Topic, "# ")
	if !opt.Mentions && opt.Topic == "" {
		return nil, errors.New("weibo-open: enable mentions or set a topic")
	}
	if opt.AccessToken == "" {
		return nil, errors.New("weibo-open: access token is required")
	}
	if opt.Name == "" {
		opt.Name = "weibo-open"
	}
	if opt.MentionsCount <= 0 {
		opt.MentionsCount = 100
	}
	opt.MentionsCount = min(opt.MentionsCount, 200)
	if opt.TopicsCount <= 0 {
		opt.TopicsCount = 50
	}
	opt.TopicsCount = min(opt.TopicsCount, 50)
	if opt.SeenIDs <= 0 {
		opt.SeenIDs = 400
	}
	if opt.Backfill <= 0 {
		opt.Backfill = 72 * time.Hour
	}
	if opt.HourlyQuota <= 0 {
		opt.HourlyQuota = 150
	}
	if opt.ReplyReserve < 0 || opt.ReplyReserve >= opt.HourlyQuota {
		opt.ReplyReserve = 0
	} else if opt.ReplyReserve == 0 {
		opt.ReplyReserve = min(60, opt.HourlyQuota/2)
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	m := newRequestMetrics(opt.Registerer, opt.Name)
	s := &Open{opt: opt, log: opt.Logger}
	s.api = newOpenClient(opt.HTTPClient, opt.BaseURL, opt.AccessToken, opt.Timeout, opt.Now, m)
	if opt.Mentions {
		s.endpoints = append(s.endpoints, endpointMentions)
	}
	if opt.Topic != "" {
		s.endpoints = append(s.endpoints, endpointTopics)
	}
	return s, nil
}

// Name implements ingest.Source.
func (s *Open) Name() string { return s.opt.Name }

// Query implements ingest.Source: "mentions", "topics:#话题#" or both joined by "+".
func (s *Open) Query() string {
	q := make([]string, 0, 2)
	for _, e := range s.endpoints {
		if e == endpointTopics {
			q = append(q, "topics:#"+s.opt.Topic+"#")
		} else {
			q = append(q, e)
		}
	}
	return strings.Join(q, "+")
}

// Rate is the recommended poll rate: the hourly quota minus the reply
// reserve, spread over the hour (90 calls/hour, one per 40s, by default).
func (s *Open) Rate() rate.Limit {
	return rate.Limit(float64(s.opt.HourlyQuota-s.opt.ReplyReserve) / 3600)
}

// Burst lets a walk over full pages go on without waiting a whole interval.
func (s *Open) Burst() int { return 5 }

type openCursor struct {
	Turn int       `json:"turn,omitempty"` // index of the endpoint polled next
	M    sinceWalk `json:"m"`
	T    window    `json:"t"`
}

// sinceWalk is the statuses/mentions state.
type sinceWalk struct {
	Since int64 `json:"since,omitempty"` // every ID <= Since was handed out
	Top   int64 `json:"top,omitempty"`   // newest ID of the walk in progress
	Max   int64 `json:"max,omitempty"`   // next max_id of the walk (already handed out)
	Start int64 `json:"st,omitempty"`    // backfill horizon (unix s) of the first walk
}

// Poll makes one request: the next page of the endpoint whose turn it is.
// More is set while a walk goes on or another endpoint still has its turn in
// this round.
func (s *Open) Poll(ctx context.Context, cur ingest.Cursor) (ingest.Batch, error) {
	now := s.opt.Now()
	var c openCursor
	if cur != "" {
		if err := json.Unmarshal([]byte(cur), &c); err != nil {
			return ingest.Batch{}, fmt.Errorf("bad cursor: %w", err)
		}
	} else {
		start := now.Add(-s.opt.Backfill).Unix()
		c.M.Start, c.T.Start = start, start
	}
	if c.Turn < 0 || c.Turn >= len(s.endpoints) {
		c.Turn = 0
	}
	var (
		batch ingest.Batch
		walk  bool
		err   error
	)
	switch s.endpoints[c.Turn] {
	case endpointMentions:
		batch, walk, err = s.pollMentions(ctx, &c.M, now)
	case endpointTopics:
		batch, walk, err = s.pollTopics(ctx, &c.T, now)
	}
	if err != nil {
		return ingest.Batch{}, err
	}
	if walk {
		batch.More = true
	} else {
		c.Turn++
		batch.More = c.Turn < len(s.endpoints)
		if !batch.More {
			c.Turn = 0
		}
	}
	next, err := json.Marshal(c)
	if err != nil {
		return ingest.Batch{}, fmt.Errorf("weibo-open cursor: %w", err)
	}
	batch.Next = ingest.Cursor(next)
	for i := range batch.Posts {
		batch.Posts[i].Source = s.opt.Name
		batch.Posts[i].FetchedAt = now
	}
	for i := range batch.Rejected {
		batch.Rejected[i].Source = s.opt.Name
	}
	return batch, nil
}

func (s *Open) pollMentions(ctx context.Context, w *sinceWalk, now time.Time) (ingest.Batch, bool, error) {
	params := map[string]string{"count": strconv.Itoa(s.opt.MentionsCount)}
	if w.Since > 0 {
		params["since_id"] = strconv.FormatInt(w.Since, 10)
	}
	if w.Max > 0 {
		params["max_id"] = strconv.FormatInt(w.Max, 10)
	}
	body, err := s.api.get(ctx, "statuses/mentions", "/2/statuses/mentions.json", params)
	if err != nil {
		return ingest.Batch{}, false, err
	}
	page, err := ParseOpenStatuses(body)
	if err != nil {
		return ingest.Batch{}, false, fmt.Errorf("weibo statuses/mentions: %w", err)
	}
	var batch ingest.Batch
	var lo, hi int64
	for _, p := range page.Posts {
		if lo == 0 || p.ID < lo {
			lo = p.ID
		}
		hi = max(hi, p.ID)
		switch {
		case p.ID <= w.Since, w.Max > 0 && p.ID >= w.Max:
			// since_id is exclusive and max_id inclusive: the boundary item
			// (and anything a misbehaving server sends outside the range)
			// was handed out already.
			batch.Duplicates++
		case p.Deleted, w.Start > 0 && p.Post.CreatedAt.Unix() < w.Start:
		default:
			batch.Posts = append(batch.Posts, p.Post)
		}
	}
	batch.Rejected = rejectedInRange(page.Rejected, w.Since, w.Max)
	// Unreadable statuses with a readable ID still mark how far the page reached.
	for _, r := range page.Rejected {
		if id, err := flexID(r.Key).int64(); err == nil {
			if lo == 0 || id < lo {
				lo = id
			}
			hi = max(hi, id)
		}
	}
	if w.Max == 0 {
		w.Top = max(w.Top, hi)
	}
	full := page.Count >= s.opt.MentionsCount
	progress := lo > w.Since && (w.Max == 0 || lo < w.Max)
	beforeHorizon := false
	for _, p := range page.Posts {
		if p.ID == lo && w.Start > 0 && !p.Deleted && p.Post.CreatedAt.Unix() < w.Start {
			beforeHorizon = true
		}
	}
	if full && progress && !beforeHorizon {
		w.Max = lo
		return batch, true, nil
	}
	// The walk reached since_id (or the end, or the backfill horizon).
	w.Since = max(w.Since, w.Top, hi)
	w.Top, w.Max, w.Start = 0, 0, 0
	return batch, false, nil
}

// rejectedInRange keeps the rejected items a walk has not passed already
// (their IDs, when readable, must lie in (since, max)).
func rejectedInRange(rs []ingest.Rejected, since, maxID int64) []ingest.Rejected {
	var out []ingest.Rejected
	for _, r := range rs {
		if id, err := flexID(r.Key).int64(); err == nil && (id <= since || maxID > 0 && id >= maxID) {
			continue
		}
		out = append(out, r)
	}
	return out
}

func (s *Open) pollTopics(ctx context.Context, w *window, now time.Time) (ingest.Batch, bool, error) {
	page := max(w.Page, 1)
	body, err := s.api.get(ctx, "search/topics", "/2/search/topics.json", map[string]string{
		"q":     s.opt.Topic,
		"count": strconv.Itoa(s.opt.TopicsCount),
		"page":  strconv.Itoa(page),
	})
	if err != nil {
		return ingest.Batch{}, false, err
	}
	parsed, err := ParseOpenStatuses(body)
	if err != nil {
		return ingest.Batch{}, false, fmt.Errorf("weibo search/topics: %w", err)
	}
	items := make([]pageItem, 0, len(parsed.Posts))
	for _, p := range parsed.Posts {
		items = append(items, pageItem{id: p.ID, created: p.Post.CreatedAt.Unix()})
	}
	// search/topics returns only the newest 200 results.
	maxPages := max(200/s.opt.TopicsCount, 1)
	last := parsed.Count < s.opt.TopicsCount
	fresh, more := w.step(page, items, last, maxPages)
	batch := ingest.Batch{Duplicates: len(items) - len(fresh)}
	for _, i := range fresh {
		if !parsed.Posts[i].Deleted {
			batch.Posts = append(batch.Posts, parsed.Posts[i].Post)
		}
	}
	for _, r := range parsed.Rejected {
		if id, err := flexID(r.Key).int64(); err == nil {
			if w.known(id, now.Unix()) {
				continue
			}
			w.add(id)
		}
		batch.Rejected = append(batch.Rejected, r)
	}
	if !more {
		w.prune(s.opt.SeenIDs)
	}
	return batch, more, nil
}
