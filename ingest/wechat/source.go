package wechat

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/mashangban/mashangban/ingest"
)

// DefaultName is the source name used when SourceOptions.Name is empty.
const DefaultName = "wechat-miniprogram"

// SourceOptions configure the mini-program source.
type SourceOptions struct {
	Name       string // default "wechat-miniprogram"
	Env        string // cloud environment ID, e.g. "prod-1a2b3c"
	Collection string // submissions collection, e.g. "submissions"
	Fields     Fields // record layout; zero fields take DefaultFields
	// PageSize is the limit of one databasequery (default 20, at most 100:
	// the HTTP API's maximum is not documented, the reference keeps ≤100).
	PageSize int
	// MarkRead, when set, names a field set to true on every record read
	// (tcb/databaseupdate), so the mini-program can show "已读". A failed
	// mark is logged and does not fail the poll.
	MarkRead string
	// Overlap is how far before the newest record read each walk starts
	// again (default 5m; negative disables), so that a record dated a
	// little before records already read (a phone's clock, a slow upload)
	// is still read. Records dated further back are missed: set createdAt
	// with db.serverDate() in the mini-program.
	Overlap time.Duration
	// PollEvery and PollBurst are the recommended poll rate returned by Rate
	// and Burst; default one poll per 2s, burst 2.
	PollEvery time.Duration
	PollBurst int
	Logger    *slog.Logger
}

// Source reads citizen submissions from the mini-program's cloud database
// (tcb/databasequery), oldest first.
//
// Records are read in (created, _id) order, each query asking for the
// records after the last key read, so records deleted, repeated or
// reordered between pages neither skip nor repeat anything. Each walk
// starts Overlap before the newest record handed out, and the cursor keeps
// the IDs handed out in that window, so a record dated a little in the past
// is still read once. The empty cursor reads the collection from its first
// record. Records must carry their creation time (best set with
// db.serverDate() in the mini-program).
type Source struct {
	c    *Client
	opt  SourceOptions
	log  *slog.Logger
	coll string // quoted collection name
}

var _ ingest.Source = (*Source)(nil)

var identRE = regexp.MustCompile(`^[A-Za-z_$][A-Za-z0-9_$]*(\.[A-Za-z_$][A-Za-z0-9_$]*)*$`)

// NewSource returns the source. Field and collection names are checked so
// that the query built from them cannot be anything but the intended one.
func NewSource(c *Client, opt SourceOptions) (*Source, error) {
	if c == nil {
		return nil, errors.New("wechat: source needs a client")
	}
	if opt.Name == "" {
		opt.Name = DefaultName
	}
	if opt.Env == "" || opt.Collection == "" {
		return nil, errors.New("wechat: env and collection are required")
	}
	if !identRE.MatchString(opt.Collection) || strings.Contains(opt.Collection, ".") {
		return nil, fmt.Errorf("wechat: bad collection name %q", opt.Collection)
	}
	opt.Fields = opt.Fields.withDefaults()
	for _, f := range []string{opt.Fields.ID, opt.Fields.Created, opt.MarkRead} {
		if f != "" && !identRE.MatchString(f) {
			return nil, fmt.Errorf("wechat: bad field name %q", f)
		}
	}
	if opt.PageSize <= 0 {
		opt.PageSize = 20
	}
	opt.PageSize = min(opt.PageSize, 100)
	if opt.Overlap == 0 {
		opt.Overlap = 5 * time.Minute
	}
	if opt.PollEvery <= 0 {
		opt.PollEvery = 2 * time.Second
	}
	if opt.PollBurst <= 0 {
		opt.PollBurst = 2
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	q, _ := json.Marshal(opt.Collection)
	return &Source{c: c, opt: opt, log: opt.Logger.With("component", "wechat", "source", opt.Name), coll: string(q)}, nil
}

// Name implements ingest.Source.
func (s *Source) Name() string { return s.opt.Name }

// Query implements ingest.Source: env and collection.
func (s *Source) Query() string { return s.opt.Env + "/" + s.opt.Collection }

// Rate is the recommended poll rate for the ingest poller.
func (s *Source) Rate() rate.Limit { return rate.Every(s.opt.PollEvery) }

// Burst goes with Rate.
func (s *Source) Burst() int { return s.opt.PollBurst }

// key is a record's place in the (created, _id) order.
type key struct {
	Ms   int64  `json:"t"`  // creation time, epoch milliseconds
	Kind string `json:"k"`  // how records store it
	Lit  string `json:"v"`  // query literal of the creation time
	ID   string `json:"id"` // _id; empty in a walk's lower bound
}

// less orders keys; the empty ID sorts before every record at that time.
func (k key) less(o key) bool { return k.Ms < o.Ms || (k.Ms == o.Ms && k.ID < o.ID) }

// seen is a record handed out recently.
type seen struct {
	ID string `json:"i"`
	Ms int64  `json:"t"`
}

// cursor is where the source stands: the newest record handed out, the
// walk in progress, and the records handed out within the overlap window
// (which each walk reads again, to catch records dated a little in the past).
type cursor struct {
	High key    `json:"h"`
	Walk *key   `json:"w,omitempty"`
	Seen []seen `json:"s,omitempty"`
}

// maxSeen bounds the IDs kept in a cursor; beyond it the oldest are dropped.
const maxSeen = 5000

func parseCursor(c ingest.Cursor) (cursor, error) {
	var cur cursor
	if c == "" {
		return cur, nil
	}
	if err := json.Unmarshal([]byte(c), &cur); err != nil || cur.High.ID == "" {
		return cursor{}, fmt.Errorf("wechat: bad cursor %q", c)
	}
	// Literals go into a query: accept only what this package writes.
	for _, k := range []*key{&cur.High, cur.Walk} {
		if k != nil && !cursorLitRE.MatchString(k.Lit) {
			return cursor{}, fmt.Errorf("wechat: bad cursor literal %q", k.Lit)
		}
	}
	return cur, nil
}

var cursorLitRE = regexp.MustCompile(`^(new Date\(-?[0-9]+\)|-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?|"[^"\\]*")$`)

func (c cursor) encode() ingest.Cursor {
	b, _ := json.Marshal(c)
	return ingest.Cursor(b)
}

// walkStart is where a new walk begins: Overlap before the newest record
// handed out. Dates stored as strings are compared as text, so for them the
// walk starts at the newest record itself.
func (s *Source) walkStart(high key) key {
	ov := s.opt.Overlap.Milliseconds()
	if ov <= 0 {
		return high
	}
	ms := high.Ms - ov
	switch high.Kind {
	case kindDate:
		return key{Ms: ms, Kind: kindDate, Lit: "new Date(" + strconv.FormatInt(ms, 10) + ")"}
	case kindNumber:
		if f, err := strconv.ParseFloat(high.Lit, 64); err == nil && math.Abs(f) < 1e11 {
			secs := ms / 1000 // records count seconds: round the bound down
			return key{Ms: secs * 1000, Kind: kindNumber, Lit: strconv.FormatInt(secs, 10)}
		}
		return key{Ms: ms, Kind: kindNumber, Lit: strconv.FormatInt(ms, 10)}
	}
	return high
}

// query builds the databasequery statement: records after from (from itself
// included when it has no ID), in key order. Names are checked at
// construction and values JSON-quoted, so nothing from a record or a cursor
// can change the statement's shape.
func (s *Source) query(from *key) string {
	f := s.opt.Fields
	created, _ := json.Marshal(f.Created)
	id, _ := json.Marshal(f.ID)
	var b strings.Builder
	b.WriteString("db.collection(" + s.coll + ")")
	switch {
	case from == nil:
		// Records without a creation time cannot be paged: leave them out
		// rather than meet them first on every walk from the start.
		fmt.Fprintf(&b, ".where({%s:_.exists(true)})", created)
	case from.ID == "":
		fmt.Fprintf(&b, ".where({%s:_.gte(%s)})", created, from.Lit)
	default:
		last, _ := json.Marshal(from.ID)
		fmt.Fprintf(&b, ".where(_.or([{%s:_.gt(%s)},{%s:_.eq(%s),%s:_.gt(%s)}]))",
			created, from.Lit, created, from.Lit, id, last)
	}
	fmt.Fprintf(&b, ".orderBy(%s,\"asc\").orderBy(%s,\"asc\").limit(%d).get()", created, id, s.opt.PageSize)
	return b.String()
}

type queryResponse struct {
	envelope
	Pager struct {
		Offset int `json:"Offset"`
		Limit  int `json:"Limit"`
		Total  int `json:"Total"`
	} `json:"pager"`
	Data []json.RawMessage `json:"data"`
}

// Poll implements ingest.Source. One poll reads one page of a walk; a walk
// starts Overlap before the newest record handed out and ends at a page
// that is not full. Records handed out before are recognised by their IDs
// in the cursor and not handed out again.
func (s *Source) Poll(ctx context.Context, c ingest.Cursor) (ingest.Batch, error) {
	cur, err := parseCursor(c)
	if err != nil {
		// Not a cursor this package wrote: read from the first record rather
		// than stall. Posts are keyed by _id, so repeats merge downstream.
		s.log.Warn("unreadable cursor, reading the collection from its first record", "error", err)
		cur = cursor{}
	}
	var from *key
	switch {
	case cur.Walk != nil:
		from = cur.Walk
	case cur.High.ID != "":
		k := s.walkStart(cur.High)
		from = &k
	}
	var resp queryResponse
	body := map[string]string{"env": s.opt.Env, "query": s.query(from)}
	if err := s.c.call(ctx, pathQuery, body, &resp); err != nil {
		return ingest.Batch{}, err
	}
	now := s.c.opt.Now().UTC()
	type keyed struct {
		key  key
		rec  Record
		post bool
		rej  ingest.Rejected
	}
	var items []keyed
	var b ingest.Batch
	for i, el := range resp.Data {
		raw, err := unquoteElement(el)
		if err != nil {
			b.Rejected = append(b.Rejected, ingest.Rejected{Source: s.opt.Name, Key: "data[" + strconv.Itoa(i) + "]", Reason: err.Error(), Raw: el})
			continue
		}
		rec, err := DecodeRecord(raw, s.opt.Fields)
		k := key{Ms: rec.Created.UnixMilli(), Kind: rec.CreatedKind, Lit: rec.CreatedLit, ID: rec.ID}
		switch {
		case err == nil:
			items = append(items, keyed{key: k, rec: rec, post: true})
		case rec.ID != "" && !rec.Created.IsZero():
			// Unusable but keyed: dead-letter it and move the cursor past it.
			items = append(items, keyed{key: k, rej: ingest.Rejected{Source: s.opt.Name, Key: rec.ID, Reason: err.Error(), Raw: raw}})
		default:
			b.Rejected = append(b.Rejected, ingest.Rejected{Source: s.opt.Name, Key: rec.ID, Reason: err.Error(), Raw: raw})
		}
	}
	// The page may come back in another order: go through it in key order.
	slices.SortStableFunc(items, func(a, b keyed) int {
		return cmp.Or(cmp.Compare(a.key.Ms, b.key.Ms), cmp.Compare(a.key.ID, b.key.ID))
	})
	known := make(map[string]bool, len(cur.Seen))
	for _, x := range cur.Seen {
		known[x.ID] = true
	}
	next := cursor{High: cur.High, Seen: cur.Seen}
	walk := from
	var read []string
	for _, it := range items {
		if walk != nil && !walk.less(it.key) {
			b.Duplicates++ // a repeated page
			continue
		}
		k := it.key
		walk = &k
		if known[it.key.ID] {
			if cur.High.less(it.key) {
				b.Duplicates++ // not a re-read of the overlap: the platform repeated it
			}
			continue
		}
		known[it.key.ID] = true
		next.Seen = append(next.Seen, seen{ID: it.key.ID, Ms: it.key.Ms})
		if next.High.less(it.key) {
			next.High = it.key
		}
		if it.post {
			b.Posts = append(b.Posts, it.rec.Post(s.opt.Name, now))
			read = append(read, it.key.ID)
		} else {
			b.Rejected = append(b.Rejected, it.rej)
		}
	}
	b.More = len(resp.Data) >= s.opt.PageSize
	if b.More && walk == from {
		// A full page that did not move the walk (nothing in it could be
		// keyed): asking again at once would get the same page.
		b.More = false
	}
	if b.More {
		next.Walk = walk
	}
	next.Seen = s.prune(next.Seen, next.High)
	if next.High.ID != "" {
		b.Next = next.encode()
	}
	if s.opt.MarkRead != "" && len(read) > 0 {
		if err := s.markRead(ctx, read); err != nil {
			s.log.Warn("could not mark records read", "records", len(read), "error", err)
		}
	}
	return b, nil
}

// prune keeps the IDs a walk starting from high can meet again.
func (s *Source) prune(ss []seen, high key) []seen {
	low := s.walkStart(high).Ms
	ss = slices.DeleteFunc(ss, func(x seen) bool { return x.Ms < low })
	if len(ss) > maxSeen {
		slices.SortFunc(ss, func(a, b seen) int { return cmp.Compare(a.Ms, b.Ms) })
		ss = ss[len(ss)-maxSeen:]
	}
	return ss
}

// unquoteElement reads one "data" element: a record serialised as a JSON
// string (the documented form) or, leniently, a record object.
func unquoteElement(el json.RawMessage) ([]byte, error) {
	if len(el) > 0 && el[0] == '{' {
		return el, nil
	}
	var s string
	if err := json.Unmarshal(el, &s); err != nil {
		return nil, fmt.Errorf("data element is neither a string nor an object: %w", err)
	}
	return []byte(s), nil
}

type updateResponse struct {
	envelope
	Matched  int    `json:"matched"`
	Modified int    `json:"modified"`
	ID       string `json:"id"`
}

func (s *Source) markRead(ctx context.Context, ids []string) error {
	idField, _ := json.Marshal(s.opt.Fields.ID)
	list, _ := json.Marshal(ids)
	flag, _ := json.Marshal(s.opt.MarkRead)
	q := fmt.Sprintf("db.collection(%s).where({%s:_.in(%s)}).update({data:{%s:true}})", s.coll, idField, list, flag)
	var resp updateResponse
	return s.c.call(ctx, pathUpdate, map[string]string{"env": s.opt.Env, "query": q}, &resp)
}
