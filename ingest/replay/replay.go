// Package replay is an ingest.Source that reads posts from a JSON Lines file.
//
// Each line is one post: either a full model.Post in its wire encoding, or
// the minimal form
//
//	{"id":"17","text":"…","author":"网友","created_at":"2026-11-20 21:30:00","geo":{"lat":31.7,"lon":118.5},"channel":"replay"}
//
// Missing fields get defaults: channel "replay", source the configured name,
// ID "<channel>:<id>". The cursor is the byte offset and line number of the
// next unread line, so a restarted daemon resumes where it stopped and lines
// appended to the file later are picked up by later polls. A line that is not
// a post is returned as Rejected (with its line number and raw bytes) and
// reading goes on.
//
// It is for demos, evaluation and re-feeding exported posts; it is not a
// log shipper: a file that is replaced by a shorter one is read again from
// the start (the posts log is keyed by post ID, so repeats merge downstream).
package replay

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/mashangban/mashangban/ingest"
	"github.com/mashangban/mashangban/model"
)

// DefaultName is the source name used when Options.Name is empty.
const DefaultName = "replay"

// Defaults for Options.
const (
	DefaultBatchSize = 100
	DefaultMaxLine   = 8 << 20
)

// Options configure a replay Source.
type Options struct {
	Name string // source name, default "replay"
	Path string // the JSON Lines file
	// BatchSize is the most lines one Poll consumes (default 100).
	BatchSize int
	// MaxLine is the longest line accepted as a post, in bytes (default
	// 8 MiB); a longer line is rejected with its first MaxLine bytes, and
	// no more than that is held in memory. Posts under it whose fields are
	// too long for the posts log are cut to fit by ingest.
	MaxLine int
	// Location interprets created_at values without a zone (default
	// Asia/Shanghai, falling back to UTC+8 when the zone database is missing).
	Location *time.Location
	Now      func() time.Time
}

// Source reads posts from a JSON Lines file.
type Source struct {
	opts  Options
	query string
}

var _ ingest.Source = (*Source)(nil)

// New returns a Source for opts. The file need not exist yet: until it does,
// polls return empty batches.
func New(opts Options) (*Source, error) {
	if opts.Path == "" {
		return nil, errors.New("replay: path is empty")
	}
	if opts.Name == "" {
		opts.Name = DefaultName
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = DefaultBatchSize
	}
	if opts.MaxLine <= 0 {
		opts.MaxLine = DefaultMaxLine
	}
	if opts.Location == nil {
		opts.Location = model.Shanghai
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	abs, err := filepath.Abs(opts.Path)
	if err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	return &Source{opts: opts, query: "file:" + abs}, nil
}

// Name implements ingest.Source.
func (s *Source) Name() string { return s.opts.Name }

// Query implements ingest.Source: the file's absolute path, so pointing the
// source at another file starts that file from its beginning.
func (s *Source) Query() string { return s.query }

// position is the decoded cursor: the byte offset of the next unread line
// and the number of lines before it.
type position struct {
	Offset int64
	Line   int
}

// ParseCursor decodes a replay cursor ("<offset>:<lines read>"); the empty
// cursor is the start of the file.
func ParseCursor(c ingest.Cursor) (offset int64, line int, err error) {
	if c == "" {
		return 0, 0, nil
	}
	o, l, ok := strings.Cut(string(c), ":")
	if !ok {
		return 0, 0, fmt.Errorf("replay: bad cursor %q", c)
	}
	offset, err1 := strconv.ParseInt(o, 10, 64)
	line, err2 := strconv.Atoi(l)
	if err1 != nil || err2 != nil || offset < 0 || line < 0 {
		return 0, 0, fmt.Errorf("replay: bad cursor %q", c)
	}
	return offset, line, nil
}

func (p position) cursor() ingest.Cursor {
	return ingest.Cursor(strconv.FormatInt(p.Offset, 10) + ":" + strconv.Itoa(p.Line))
}

// Poll implements ingest.Source. It reads up to BatchSize lines after cur.
func (s *Source) Poll(ctx context.Context, cur ingest.Cursor) (ingest.Batch, error) {
	off, line, err := ParseCursor(cur)
	if err != nil {
		// A cursor this source never wrote: start over rather than stall;
		// posts are keyed by ID, so a repeat is merged downstream.
		off, line = 0, 0
	}
	pos := position{Offset: off, Line: line}
	f, err := os.Open(s.opts.Path)
	if errors.Is(err, os.ErrNotExist) {
		return ingest.Batch{Next: pos.cursor()}, nil
	}
	if err != nil {
		return ingest.Batch{}, fmt.Errorf("replay: %w: %w", ingest.ErrTransient, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return ingest.Batch{}, fmt.Errorf("replay: %w: %w", ingest.ErrTransient, err)
	}
	if pos.Offset > st.Size() {
		// The file was replaced by a shorter one.
		pos = position{}
	}
	if _, err := f.Seek(pos.Offset, io.SeekStart); err != nil {
		return ingest.Batch{}, fmt.Errorf("replay: %w: %w", ingest.ErrTransient, err)
	}
	r := bufio.NewReaderSize(f, 64<<10)
	var b ingest.Batch
	now := s.opts.Now().UTC()
	for n := 0; ; n++ {
		if n == s.opts.BatchSize {
			_, peekErr := r.Peek(1)
			b.More = peekErr == nil
			break
		}
		if err := ctx.Err(); err != nil {
			return ingest.Batch{}, err
		}
		raw, size, complete, err := readLine(r, s.opts.MaxLine)
		if err != nil {
			return ingest.Batch{}, fmt.Errorf("replay: %w: %w", ingest.ErrTransient, err)
		}
		if size == 0 {
			break // end of file
		}
		lineNo := pos.Line + 1
		body := bytes.TrimSpace(raw)
		if len(body) == 0 && size == int64(len(raw)) {
			if !complete {
				break
			}
			pos.Offset += size
			pos.Line = lineNo
			continue
		}
		var p model.Post
		var perr error
		if size > int64(len(raw)) {
			perr = fmt.Errorf("line is %d bytes, over the limit of %d", size, s.opts.MaxLine)
		} else {
			p, perr = s.decodeLine(body, now)
		}
		if !complete && perr != nil {
			// Probably a line still being written: leave it for a later poll.
			break
		}
		pos.Offset += size
		pos.Line = lineNo
		if perr != nil {
			keep := body
			if len(keep) > s.opts.MaxLine {
				keep = keep[:s.opts.MaxLine]
			}
			b.Rejected = append(b.Rejected, ingest.Rejected{
				Source: s.opts.Name,
				Key:    fmt.Sprintf("line:%d", lineNo),
				Reason: fmt.Sprintf("line %d: %v", lineNo, perr),
				Raw:    bytes.Clone(keep),
			})
			continue
		}
		b.Posts = append(b.Posts, p)
		if !complete {
			break
		}
	}
	b.Next = pos.cursor()
	return b, nil
}

// readLine reads one line, newline included, keeping at most max bytes of
// it: size is the whole line's length in the file, complete says whether it
// ended with a newline (else the file ended first).
func readLine(r *bufio.Reader, max int) (kept []byte, size int64, complete bool, err error) {
	for {
		chunk, err := r.ReadSlice('\n')
		size += int64(len(chunk))
		if room := max + 1 - len(kept); room > 0 {
			kept = append(kept, chunk[:min(room, len(chunk))]...)
		}
		switch {
		case err == nil:
			return kept, size, true, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			return kept, size, false, nil
		default:
			return nil, 0, false, err
		}
	}
}

// line is the union of the full and the minimal post forms.
type line struct {
	ID        string          `json:"id"`
	Source    string          `json:"source"`
	Channel   model.Channel   `json:"channel"`
	NativeID  string          `json:"native_id"`
	Author    json.RawMessage `json:"author"`
	Text      string          `json:"text"`
	Images    []string        `json:"images"`
	Geo       *model.Geo      `json:"geo"`
	Region    string          `json:"region"`
	CreatedAt string          `json:"created_at"`
	FetchedAt string          `json:"fetched_at"`
	URL       string          `json:"url"`
	Raw       json.RawMessage `json:"raw"`
}

// decodeLine turns one JSON Lines record into a post with the defaults filled.
func (s *Source) decodeLine(body []byte, now time.Time) (model.Post, error) {
	var l line
	if err := json.Unmarshal(body, &l); err != nil {
		return model.Post{}, fmt.Errorf("invalid json: %w", err)
	}
	p := model.Post{
		Source:  l.Source,
		Channel: l.Channel,
		Text:    strings.TrimSpace(l.Text),
		Images:  l.Images,
		Geo:     l.Geo,
		Region:  l.Region,
		URL:     l.URL,
	}
	if p.Text == "" {
		return model.Post{}, errors.New("empty text")
	}
	if p.Source == "" {
		p.Source = s.opts.Name
	}
	if p.Channel == "" {
		p.Channel = model.ChannelReplay
	}
	p.NativeID = l.NativeID
	if p.NativeID == "" {
		p.NativeID = strings.TrimPrefix(l.ID, string(p.Channel)+":")
	}
	if p.NativeID == "" {
		return model.Post{}, errors.New("missing id")
	}
	p.ID = model.PostID(p.Channel, p.NativeID)
	if l.ID != "" && l.ID != p.ID && l.ID != p.NativeID {
		return model.Post{}, fmt.Errorf("id %q does not match channel %q and native_id %q", l.ID, p.Channel, p.NativeID)
	}
	if err := decodeAuthor(l.Author, &p.Author); err != nil {
		return model.Post{}, err
	}
	if p.Geo != nil {
		if p.Geo.Lat < -90 || p.Geo.Lat > 90 || p.Geo.Lon < -180 || p.Geo.Lon > 180 {
			return model.Post{}, fmt.Errorf("geo %v,%v out of range", p.Geo.Lat, p.Geo.Lon)
		}
		if p.Geo.System == "" {
			p.Geo.System = "gcj02"
		}
	}
	var err error
	if p.CreatedAt, err = s.parseTime(l.CreatedAt, now); err != nil {
		return model.Post{}, fmt.Errorf("created_at: %w", err)
	}
	p.FetchedAt = now
	if l.Raw != nil {
		p.Raw = bytes.Clone(l.Raw)
	} else {
		p.Raw = bytes.Clone(body)
	}
	return p, nil
}

func decodeAuthor(raw json.RawMessage, a *model.Author) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	if raw[0] == '"' {
		return json.Unmarshal(raw, &a.Name)
	}
	if err := json.Unmarshal(raw, a); err != nil {
		return fmt.Errorf("author: %w", err)
	}
	return nil
}

var timeLayouts = []string{
	"2006-01-02 15:04:05",
	"2006-01-02 15:04",
	"2006-01-02T15:04:05",
	"2006-01-02",
}

func (s *Source) parseTime(v string, now time.Time) (time.Time, error) {
	if v == "" {
		return now, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t.UTC(), nil
	}
	for _, layout := range timeLayouts {
		if t, err := time.ParseInLocation(layout, v, s.opts.Location); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("unrecognised time %q", v)
}
