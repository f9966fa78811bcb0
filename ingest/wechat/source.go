package wechat

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
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
	// PollEvery and PollBurst are the recommended poll rate returned by Rate
	// and Burst; default one poll per 2s, burst 2.
	PollEvery time.Duration
	PollBurst int
	Logger    *slog.Logger
}

// Source reads citizen submissions from the mini-program's cloud database
// (tcb/databasequery), oldest first.
//
// Its cursor is the creation time and _id of the last record handed out;
// each query asks for records after that key, ordered by (created, _id), so
// records deleted, repeated or reordered between pages neither skip nor
// repeat anything. The empty cursor reads the collection from its first
// record. Records must carry their creation time (set with db.serverDate()
// in the mini-program: a client clock that runs late would date a record
// before records already read, and it would be missed).
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

// cursor is the key of the last record handed out.
type cursor struct {
	Ms   int64  `json:"t"`  // creation time, epoch milliseconds
	Kind string `json:"k"`  // how records store it
	Lit  string `json:"v"`  // query literal of the creation time
	ID   string `json:"id"` // _id
}

func parseCursor(c ingest.Cursor) (cursor, error) {
	var cur cursor
	if c == "" {
		return cur, nil
	}
	if err := json.Unmarshal([]byte(c), &cur); err != nil || cur.ID == "" || cur.Lit == "" {
		return cursor{}, fmt.Errorf("wechat: bad cursor %q", c)
	}
	// The literal goes into a query: accept only what this package writes.
	if !cursorLitRE.MatchString(cur.Lit) {
		return cursor{}, fmt.Errorf("wechat: bad cursor literal %q", cur.Lit)
	}
	return cur, nil
}

var cursorLitRE = regexp.MustCompile(`^(new Date\(-?[0-9]+\)|-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?|"[^"\\]*")$`)

func (c cursor) encode() ingest.Cursor {
	b, _ := json.Marshal(c)
	return ingest.Cursor(b)
}

// after reports whether a record's key is after the cursor.
func (c cursor) after(ms int64, id string) bool {
	if c.ID == "" {
		return true
	}
	return ms > c.Ms || (ms == c.Ms && id > c.ID)
}

// query builds the databasequery statement: records after cur, in key order.
// Names are checked at construction and values JSON-quoted, so nothing from
// a record or a cursor can change the statement's shape.
func (s *Source) query(cur cursor) string {
	f := s.opt.Fields
	created, _ := json.Marshal(f.Created)
	id, _ := json.Marshal(f.ID)
	var b strings.Builder
	b.WriteString("db.collection(" + s.coll + ")")
	if cur.ID != "" {
		last, _ := json.Marshal(cur.ID)
		fmt.Fprintf(&b, ".where(_.or([{%s:_.gt(%s)},{%s:_.eq(%s),%s:_.gt(%s)}]))",
			created, cur.Lit, created, cur.Lit, id, last)
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

// Poll implements ingest.Source.
func (s *Source) Poll(ctx context.Context, c ingest.Cursor) (ingest.Batch, error) {
	cur, err := parseCursor(c)
	if err != nil {
		// Not a cursor this package wrote: read from the first record rather
		// than stall. Posts are keyed by _id, so repeats merge downstream.
		s.log.Warn("unreadable cursor, reading the collection from its first record", "error", err)
		cur, c = cursor{}, ""
	}
	var resp queryResponse
	body := map[string]string{"env": s.opt.Env, "query": s.query(cur)}
	if err := s.c.call(ctx, pathQuery, body, &resp); err != nil {
		return ingest.Batch{}, err
	}
	now := s.c.opt.Now().UTC()
	type keyed struct {
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
		switch {
		case err == nil:
			items = append(items, keyed{rec: rec, post: true})
		case rec.ID != "" && !rec.Created.IsZero():
			// Unusable but keyed: dead-letter it and move the cursor past it.
			items = append(items, keyed{rec: rec, rej: ingest.Rejected{Source: s.opt.Name, Key: rec.ID, Reason: err.Error(), Raw: raw}})
		default:
			b.Rejected = append(b.Rejected, ingest.Rejected{Source: s.opt.Name, Key: rec.ID, Reason: err.Error(), Raw: raw})
		}
	}
	// The page may come back in another order; hand records out in key order
	// and drop any at or before the cursor (a repeated page).
	slices.SortStableFunc(items, func(a, b keyed) int {
		return cmp.Or(a.rec.Created.Compare(b.rec.Created), cmp.Compare(a.rec.ID, b.rec.ID))
	})
	next := cur
	var read []string
	for _, it := range items {
		ms := it.rec.Created.UnixMilli()
		if !next.after(ms, it.rec.ID) {
			b.Duplicates++
			continue
		}
		next = cursor{Ms: ms, Kind: it.rec.CreatedKind, Lit: it.rec.CreatedLit, ID: it.rec.ID}
		if it.post {
			b.Posts = append(b.Posts, it.rec.Post(s.opt.Name, now))
			read = append(read, it.rec.ID)
		} else {
			b.Rejected = append(b.Rejected, it.rej)
		}
	}
	if next.ID != "" {
		b.Next = next.encode()
	} else {
		b.Next = c
	}
	b.More = len(resp.Data) >= s.opt.PageSize
	if s.opt.MarkRead != "" && len(read) > 0 {
		if err := s.markRead(ctx, read); err != nil {
			s.log.Warn("could not mark records read", "records", len(read), "error", err)
		}
	}
	return b, nil
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
