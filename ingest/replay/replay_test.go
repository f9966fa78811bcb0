package replay

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mashangban/mashangban/ingest"
	"github.com/mashangban/mashangban/model"
)

var fixedNow = time.Date(2026, 11, 26, 3, 0, 0, 0, time.UTC)

func newSource(t *testing.T, path string, batch int) *Source {
	t.Helper()
	s, err := New(Options{Path: path, BatchSize: batch, Now: func() time.Time { return fixedNow }})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "posts.jsonl")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func appendFile(t *testing.T, path, content string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(content); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// drain polls until the source has nothing more, returning every batch.
func drain(t *testing.T, s *Source, cur ingest.Cursor) ([]model.Post, []ingest.Rejected, ingest.Cursor, int) {
	t.Helper()
	var posts []model.Post
	var rej []ingest.Rejected
	polls := 0
	for {
		b, err := s.Poll(context.Background(), cur)
		if err != nil {
			t.Fatal(err)
		}
		polls++
		posts = append(posts, b.Posts...)
		rej = append(rej, b.Rejected...)
		cur = b.Next
		if !b.More {
			return posts, rej, cur, polls
		}
		if polls > 1000 {
			t.Fatal("source never ran dry")
		}
	}
}

func TestExamplePosts(t *testing.T) {
	// The example file ships with the repository and is what `mashangban run`
	// replays without configuration; every line must be a post.
	s := newSource(t, "../../examples/posts.jsonl", 7)
	posts, rej, _, polls := drain(t, s, "")
	if len(rej) != 0 {
		t.Fatalf("rejected lines in examples/posts.jsonl: %+v", rej)
	}
	if len(posts) < 20 {
		t.Fatalf("got %d example posts, want at least 20", len(posts))
	}
	if want := (len(posts) + 6) / 7; polls != want {
		t.Errorf("polls = %d, want %d for batch size 7", polls, want)
	}
	seen := map[string]bool{}
	withGeo := 0
	for _, p := range posts {
		if seen[p.ID] {
			t.Errorf("duplicate ID %s", p.ID)
		}
		seen[p.ID] = true
		if !strings.HasPrefix(p.ID, "replay:") || p.Channel != model.ChannelReplay || p.Source != "replay" {
			t.Errorf("post %s: channel %q source %q", p.ID, p.Channel, p.Source)
		}
		if p.CreatedAt.IsZero() || p.CreatedAt.Equal(fixedNow) || p.Text == "" || len(p.Raw) == 0 {
			t.Errorf("post %s incomplete: %+v", p.ID, p)
		}
		if p.Geo != nil {
			withGeo++
		}
	}
	if withGeo == 0 {
		t.Error("no example post has a geo point")
	}
}

func TestDecodeLine(t *testing.T) {
	s := newSource(t, "unused.jsonl", 10)
	cst := time.FixedZone("CST", 8*3600)
	tests := []struct {
		name    string
		line    string
		want    model.Post // compared on ID, NativeID, Channel, Source, Author, CreatedAt, Geo
		wantErr string
	}{
		{
			name: "minimal form",
			line: `{"id":"17","text":" 路灯不亮 ","author":"网友","created_at":"2026-11-20 21:30:00","geo":{"lat":31.7,"lon":118.5}}`,
			want: model.Post{ID: "replay:17", NativeID: "17", Channel: "replay", Source: "replay", Text: "路灯不亮",
				Author: model.Author{Name: "网友"}, CreatedAt: time.Date(2026, 11, 20, 21, 30, 0, 0, cst),
				Geo: &model.Geo{Lat: 31.7, Lon: 118.5, System: "gcj02"}},
		},
		{
			name: "minimal id already prefixed",
			line: `{"id":"replay:17","text":"x","created_at":"2026-11-20T13:30:00Z"}`,
			want: model.Post{ID: "replay:17", NativeID: "17", Channel: "replay", Source: "replay", Text: "x",
				CreatedAt: time.Date(2026, 11, 20, 13, 30, 0, 0, time.UTC)},
		},
		{
			name: "full model.Post",
			line: `{"id":"wechat:abc","source":"wechat-miniprogram","channel":"wechat","native_id":"abc","author":{"id":"oAbC","name":""},"text":"占道经营","created_at":"2026-11-20T13:30:00+08:00","geo":{"lat":31.6,"lon":118.4,"system":"wgs84"}}`,
			want: model.Post{ID: "wechat:abc", NativeID: "abc", Channel: "wechat", Source: "wechat-miniprogram", Text: "占道经营",
				Author: model.Author{ID: "oAbC"}, CreatedAt: time.Date(2026, 11, 20, 13, 30, 0, 0, cst),
				Geo: &model.Geo{Lat: 31.6, Lon: 118.4, System: "wgs84"}},
		},
		{
			name: "no created_at takes fetch time",
			line: `{"id":"9","text":"噪音"}`,
			want: model.Post{ID: "replay:9", NativeID: "9", Channel: "replay", Source: "replay", Text: "噪音", CreatedAt: fixedNow},
		},
		{name: "not json", line: `{"id":"1","text":`, wantErr: "invalid json"},
		{name: "empty text", line: `{"id":"1","text":"  "}`, wantErr: "empty text"},
		{name: "missing id", line: `{"text":"路灯"}`, wantErr: "missing id"},
		{name: "id disagrees with native_id", line: `{"id":"replay:1","native_id":"2","text":"a"}`, wantErr: "does not match"},
		{name: "bad author", line: `{"id":"1","text":"a","author":17}`, wantErr: "author"},
		{name: "geo out of range", line: `{"id":"1","text":"a","geo":{"lat":118.5,"lon":31.7}}`, wantErr: "out of range"},
		{name: "bad time", line: `{"id":"1","text":"a","created_at":"昨天 18:12"}`, wantErr: "unrecognised time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := s.decodeLine([]byte(tt.line), fixedNow)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			w := tt.want
			if p.ID != w.ID || p.NativeID != w.NativeID || p.Channel != w.Channel || p.Source != w.Source || p.Text != w.Text || p.Author != w.Author {
				t.Errorf("got %+v\nwant %+v", p, w)
			}
			if !p.CreatedAt.Equal(w.CreatedAt) || p.CreatedAt.Location() != time.UTC {
				t.Errorf("created_at = %v, want %v in UTC", p.CreatedAt, w.CreatedAt)
			}
			if (p.Geo == nil) != (w.Geo == nil) || (p.Geo != nil && *p.Geo != *w.Geo) {
				t.Errorf("geo = %+v, want %+v", p.Geo, w.Geo)
			}
			if string(p.Raw) != tt.line || !p.FetchedAt.Equal(fixedNow) {
				t.Errorf("raw %q fetched_at %v", p.Raw, p.FetchedAt)
			}
		})
	}
}

func TestPollResumesAndPicksUpGrowth(t *testing.T) {
	path := writeFile(t, `{"id":"1","text":"一"}
{"id":"2","text":"二"}

{"id":"3","text":"三"}
`)
	s := newSource(t, path, 2)
	b, err := s.Poll(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	if ids(b.Posts) != "replay:1,replay:2" || !b.More {
		t.Fatalf("first batch %s more=%v", ids(b.Posts), b.More)
	}
	// A restart resumes from the saved cursor: the blank line counts as a line.
	b, err = s.Poll(context.Background(), b.Next)
	if err != nil {
		t.Fatal(err)
	}
	if ids(b.Posts) != "replay:3" || b.More {
		t.Fatalf("second batch %s more=%v", ids(b.Posts), b.More)
	}
	if _, line, _ := ParseCursor(b.Next); line != 4 {
		t.Errorf("cursor %q: line %d, want 4", b.Next, line)
	}
	end := b.Next
	b, err = s.Poll(context.Background(), end)
	if err != nil || len(b.Posts) != 0 || b.Next != end {
		t.Fatalf("poll at end: %+v, %v", b, err)
	}
	appendFile(t, path, `{"id":"4","text":"四"}`+"\n")
	b, err = s.Poll(context.Background(), end)
	if err != nil || ids(b.Posts) != "replay:4" {
		t.Fatalf("after growth: %s, %v", ids(b.Posts), err)
	}
}

func TestPollRejectsBadLinesAndGoesOn(t *testing.T) {
	path := writeFile(t, `{"id":"1","text":"一"}
this is not json
{"id":"3","text":""}
{"id":"4","text":"四"}
`)
	s := newSource(t, path, 10)
	posts, rej, _, _ := drain(t, s, "")
	if ids(posts) != "replay:1,replay:4" {
		t.Fatalf("posts %s", ids(posts))
	}
	if len(rej) != 2 {
		t.Fatalf("rejected %+v", rej)
	}
	if rej[0].Key != "line:2" || !strings.HasPrefix(rej[0].Reason, "line 2: invalid json") || string(rej[0].Raw) != "this is not json" || rej[0].Source != "replay" {
		t.Errorf("first rejection %+v", rej[0])
	}
	if rej[1].Key != "line:3" || !strings.Contains(rej[1].Reason, "empty text") {
		t.Errorf("second rejection %+v", rej[1])
	}
}

func TestPollLeavesUnfinishedLastLine(t *testing.T) {
	path := writeFile(t, `{"id":"1","text":"一"}
{"id":"2","te`)
	s := newSource(t, path, 10)
	b, err := s.Poll(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	if ids(b.Posts) != "replay:1" || len(b.Rejected) != 0 {
		t.Fatalf("got %s rejected %v", ids(b.Posts), b.Rejected)
	}
	appendFile(t, path, `xt":"二"}`)
	// A complete final line without a newline is read.
	b, err = s.Poll(context.Background(), b.Next)
	if err != nil || ids(b.Posts) != "replay:2" {
		t.Fatalf("got %s, %v", ids(b.Posts), err)
	}
}

func TestPollFileReplacedOrMissing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "later.jsonl")
	s := newSource(t, path, 10)
	b, err := s.Poll(context.Background(), "")
	if err != nil || len(b.Posts) != 0 {
		t.Fatalf("missing file: %+v, %v", b, err)
	}
	if err := os.WriteFile(path, []byte(`{"id":"1","text":"一"}`+"\n"+`{"id":"2","text":"二"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err = s.Poll(context.Background(), "")
	if err != nil || len(b.Posts) != 2 {
		t.Fatalf("%+v, %v", b, err)
	}
	if err := os.WriteFile(path, []byte(`{"id":"9","text":"九"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err = s.Poll(context.Background(), b.Next)
	if err != nil || ids(b.Posts) != "replay:9" {
		t.Fatalf("replaced file: %s, %v", ids(b.Posts), err)
	}
	// A cursor the source never wrote starts over instead of stalling.
	b, err = s.Poll(context.Background(), "garbage")
	if err != nil || ids(b.Posts) != "replay:9" {
		t.Fatalf("bad cursor: %s, %v", ids(b.Posts), err)
	}
}

func TestPollCanceled(t *testing.T) {
	s := newSource(t, "../../examples/posts.jsonl", 10)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Poll(ctx, ""); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

func TestQueryIsAbsolutePath(t *testing.T) {
	a := newSource(t, "../../examples/posts.jsonl", 1)
	abs, _ := filepath.Abs("../../examples/posts.jsonl")
	if a.Query() != "file:"+abs || a.Name() != "replay" {
		t.Fatalf("query %q name %q", a.Query(), a.Name())
	}
	if _, err := New(Options{}); err == nil {
		t.Fatal("empty path accepted")
	}
}

func FuzzDecodeLine(f *testing.F) {
	f.Add([]byte(`{"id":"17","text":"路灯不亮","author":"网友","created_at":"2026-11-20 21:30:00","geo":{"lat":31.7,"lon":118.5}}`))
	f.Add([]byte(`{"id":"wechat:abc","channel":"wechat","native_id":"abc","author":{"id":"o"},"text":"x","created_at":"2026-11-20T13:30:00+08:00"}`))
	f.Add([]byte(`{"id":1,"text":["a"]}`))
	f.Add([]byte("\xff\xfe"))
	s, err := New(Options{Path: "unused.jsonl", Now: func() time.Time { return fixedNow }})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		p, err := s.decodeLine(line, fixedNow)
		if err != nil {
			return
		}
		if p.Text == "" || p.NativeID == "" || p.ID != model.PostID(p.Channel, p.NativeID) || p.CreatedAt.IsZero() {
			t.Fatalf("accepted an incomplete post: %+v", p)
		}
	})
}

func ids(ps []model.Post) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.ID
	}
	return strings.Join(s, ",")
}

func BenchmarkPoll(b *testing.B) {
	example, err := os.ReadFile("../../examples/posts.jsonl")
	if err != nil {
		b.Fatal(err)
	}
	// 50 copies of the example posts with distinct IDs.
	var buf strings.Builder
	lines := strings.Split(strings.TrimSpace(string(example)), "\n")
	for i := range 50 {
		for _, l := range lines {
			buf.WriteString(strings.Replace(l, `"id":"`, `"id":"`+strconv.Itoa(i)+"-", 1) + "\n")
		}
	}
	path := filepath.Join(b.TempDir(), "posts.jsonl")
	if err := os.WriteFile(path, []byte(buf.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	s, err := New(Options{Path: path, BatchSize: 100, Now: func() time.Time { return fixedNow }})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(buf.Len()))
	b.ReportAllocs()
	for b.Loop() {
		var cur ingest.Cursor
		n := 0
		for {
			batch, err := s.Poll(context.Background(), cur)
			if err != nil {
				b.Fatal(err)
			}
			n += len(batch.Posts) + len(batch.Rejected)
			cur = batch.Next
			if !batch.More {
				break
			}
		}
		if n != 50*len(lines) {
			b.Fatalf("read %d lines", n)
		}
	}
}

// TestPollRejectsOverlongLine: a line over MaxLine is a rejected item with
// its first MaxLine bytes and a reason, and the lines after it are read;
// the cursor counts the whole line.
func TestPollRejectsOverlongLine(t *testing.T) {
	long := `{"id":"long","text":"` + strings.Repeat("路", 200000) + `"}`
	path := writeFile(t, `{"id":"a","text":"路灯坏了"}`+"\n"+long+"\n"+`{"id":"b","text":"井盖丢了"}`+"\n")
	s, err := New(Options{Path: path, MaxLine: 64 << 10, BatchSize: 2, Now: func() time.Time { return fixedNow }})
	if err != nil {
		t.Fatal(err)
	}
	posts, rej, cur, _ := drain(t, s, "")
	if len(posts) != 2 || posts[0].ID != "replay:a" || posts[1].ID != "replay:b" {
		t.Fatalf("posts = %v", posts)
	}
	if len(rej) != 1 || rej[0].Key != "line:2" || !strings.Contains(rej[0].Reason, "over the limit") || len(rej[0].Raw) != 64<<10 {
		t.Fatalf("rejected = %d items, first %q %q (%d bytes)", len(rej), rej[0].Key, rej[0].Reason, len(rej[0].Raw))
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if off, line, err := ParseCursor(cur); err != nil || off != fi.Size() || line != 3 {
		t.Errorf("cursor %q, want offset %d line 3", cur, fi.Size())
	}
}
