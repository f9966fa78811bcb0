package store_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/mashangban/mashangban/model"
	"github.com/mashangban/mashangban/store"
	"github.com/mashangban/mashangban/store/storetest"
)

func samplePost(id string) model.Post {
	return model.Post{
		ID:        id,
		Source:    "weibo-mobile",
		Channel:   model.ChannelWeibo,
		NativeID:  id[len("weibo:"):],
		Author:    model.Author{ID: "u1", Name: "马鞍山市民"},
		Text:      "花山区湖东路路灯不亮了，$1 请尽快处理 'quoted'",
		Images:    []string{"https://wx1.sinaimg.cn/large/a.jpg"},
		Geo:       &model.Geo{Lat: 31.6892, Lon: 118.5078, System: "gcj02"},
		Region:    "安徽 马鞍山",
		CreatedAt: time.Date(2026, 11, 26, 8, 30, 15, 123456789, time.FixedZone("CST", 8*3600)),
		FetchedAt: time.Date(2026, 11, 26, 0, 31, 0, 0, time.UTC),
		URL:       "https://weibo.com/123/abc",
		Raw:       json.RawMessage(`{"id":5030112233445566,"text":"花山区"}`),
	}
}

func TestPostRoundTrip(t *testing.T) {
	storetest.ForEachStore(t, func(t *testing.T, s *store.Store) {
		t.Parallel()
		ctx := context.Background()
		full := samplePost("weibo:5030112233445566")
		bare := model.Post{ID: "wechat:abc", Source: "wx", Channel: model.ChannelWeChat, NativeID: "abc", Text: "x"}
		for _, p := range []model.Post{full, bare} {
			ins, err := s.InsertPost(ctx, nil, p)
			if err != nil || !ins {
				t.Fatalf("InsertPost(%s) = %v, %v; want true, nil", p.ID, ins, err)
			}
			got, err := s.GetPost(ctx, p.ID)
			if err != nil {
				t.Fatalf("GetPost: %v", err)
			}
			want := p
			want.CreatedAt = p.CreatedAt.Truncate(time.Microsecond).UTC()
			want.FetchedAt = p.FetchedAt.UTC()
			if !reflect.DeepEqual(got, want) {
				t.Errorf("GetPost(%s):\n got %+v\nwant %+v", p.ID, got, want)
			}
		}
		if _, err := s.GetPost(ctx, "weibo:nope"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetPost(missing) error = %v, want ErrNotFound", err)
		}
	})
}

func TestInsertPostIdempotentUnderConcurrency(t *testing.T) {
	storetest.ForEachStore(t, func(t *testing.T, s *store.Store) {
		t.Parallel()
		ctx := context.Background()
		const workers = 8
		for _, inTx := range []bool{false, true} {
			p := samplePost(fmt.Sprintf("weibo:%v", inTx))
			var wg sync.WaitGroup
			results := make([]bool, workers)
			errs := make([]error, workers)
			for i := range workers {
				wg.Go(func() {
					if !inTx {
						results[i], errs[i] = s.InsertPost(ctx, nil, p)
						return
					}
					errs[i] = s.DB.InTx(ctx, func(tx store.Tx) error {
						var err error
						results[i], err = s.InsertPost(ctx, tx, p)
						return err
					})
				})
			}
			wg.Wait()
			won := 0
			for i := range workers {
				if errs[i] != nil {
					t.Fatalf("inTx=%v worker %d: %v", inTx, i, errs[i])
				}
				if results[i] {
					won++
				}
			}
			if won != 1 {
				t.Errorf("inTx=%v: %d inserts reported inserted, want exactly 1", inTx, won)
			}
			var n int
			if err := s.DB.QueryRow(ctx, `SELECT count(*) FROM posts WHERE post_id = $1`, p.ID).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 1 {
				t.Errorf("inTx=%v: %d rows, want 1", inTx, n)
			}
		}
	})
}

func TestEvents(t *testing.T) {
	storetest.ForEachStore(t, func(t *testing.T, s *store.Store) {
		t.Parallel()
		ctx := context.Background()
		case1, case2, asg := int64(1), int64(2), int64(10)
		t0 := time.Date(2026, 11, 26, 1, 0, 0, 0, time.UTC)
		evs := []store.Event{
			{At: t0, Kind: "case.created", CaseID: &case1, PostID: "weibo:1", Actor: "system", Detail: json.RawMessage(`{"lead":"d1"}`)},
			{At: t0.Add(time.Hour), Kind: "card.yellow", CaseID: &case1, AssignmentID: &asg, Actor: "system", DedupKey: "card:10:yellow"},
			{At: t0.Add(2 * time.Hour), Kind: "case.created", CaseID: &case2, Actor: "system"},
		}
		for _, e := range evs {
			ins, err := s.AppendEvent(ctx, nil, e)
			if err != nil || !ins {
				t.Fatalf("AppendEvent(%s) = %v, %v", e.Kind, ins, err)
			}
		}
		// The same card again, from a retry: ignored.
		ins, err := s.AppendEvent(ctx, nil, store.Event{At: t0.Add(3 * time.Hour), Kind: "card.yellow", CaseID: &case1, DedupKey: "card:10:yellow"})
		if err != nil || ins {
			t.Fatalf("duplicate AppendEvent = %v, %v; want false, nil", ins, err)
		}

		if _, err := s.AppendEvent(ctx, nil, store.Event{Kind: "bad", Detail: json.RawMessage(`{"a":`)}); err == nil {
			t.Error("AppendEvent with invalid JSON detail: no error")
		}
		if _, err := s.AppendEvent(ctx, nil, store.Event{}); err == nil {
			t.Error("AppendEvent without a kind: no error")
		}

		tests := []struct {
			name  string
			f     store.EventFilter
			kinds []string
		}{
			{"all", store.EventFilter{}, []string{"case.created", "card.yellow", "case.created"}},
			{"by case", store.EventFilter{CaseID: &case1}, []string{"case.created", "card.yellow"}},
			{"by kind", store.EventFilter{Kind: "card.yellow"}, []string{"card.yellow"}},
			{"since", store.EventFilter{Since: t0.Add(time.Hour)}, []string{"card.yellow", "case.created"}},
			{"since, in another zone", store.EventFilter{Since: t0.Add(time.Hour).In(time.FixedZone("CST", 8*3600))}, []string{"card.yellow", "case.created"}},
			{"limit", store.EventFilter{Limit: 1}, []string{"case.created"}},
			{"case and kind", store.EventFilter{CaseID: &case2, Kind: "card.yellow"}, nil},
		}
		for _, tt := range tests {
			got, err := s.ListEvents(ctx, tt.f)
			if err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			var kinds []string
			for _, e := range got {
				kinds = append(kinds, e.Kind)
			}
			if !reflect.DeepEqual(kinds, tt.kinds) {
				t.Errorf("%s: kinds %v, want %v", tt.name, kinds, tt.kinds)
			}
		}
		all, err := s.ListEvents(ctx, store.EventFilter{CaseID: &case1})
		if err != nil {
			t.Fatal(err)
		}
		want := evs[:2]
		for i := range want {
			want[i].ID = all[i].ID
			if len(want[i].Detail) == 0 {
				want[i].Detail = json.RawMessage(`{}`)
			}
		}
		if !reflect.DeepEqual(all, want) {
			t.Errorf("events of case 1:\n got %+v\nwant %+v", all, want)
		}
		if all[0].ID >= all[1].ID {
			t.Errorf("ids not increasing: %d, %d", all[0].ID, all[1].ID)
		}
	})
}

func TestEventDedupUnderConcurrency(t *testing.T) {
	storetest.ForEachStore(t, func(t *testing.T, s *store.Store) {
		t.Parallel()
		ctx := context.Background()
		const workers = 8
		var wg sync.WaitGroup
		won := make([]bool, workers)
		errs := make([]error, workers)
		for i := range workers {
			wg.Go(func() {
				errs[i] = s.DB.InTx(ctx, func(tx store.Tx) error {
					var err error
					won[i], err = s.AppendEvent(ctx, tx, store.Event{Kind: "reminder", Actor: fmt.Sprint(i), DedupKey: "remind:7:claim"})
					return err
				})
			})
		}
		wg.Wait()
		n := 0
		for i := range workers {
			if errs[i] != nil {
				t.Fatalf("worker %d: %v", i, errs[i])
			}
			if won[i] {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d appends won, want 1", n)
		}
		evs, err := s.ListEvents(ctx, store.EventFilter{Kind: "reminder"})
		if err != nil || len(evs) != 1 {
			t.Fatalf("ListEvents = %d events, %v; want 1", len(evs), err)
		}
	})
}

func TestCursor(t *testing.T) {
	storetest.ForEachStore(t, func(t *testing.T, s *store.Store) {
		t.Parallel()
		ctx := context.Background()
		if _, _, err := s.Cursor(ctx, "weibo-mobile"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Cursor(unsaved) error = %v, want ErrNotFound", err)
		}
		steps := []struct{ query, cursor string }{
			{"#马上办#", "since_id=1"},
			{"#马上办#", "since_id=2"},
			{"#马上办# 马鞍山", ""},
		}
		for _, st := range steps {
			if err := s.SaveCursor(ctx, "weibo-mobile", st.query, st.cursor); err != nil {
				t.Fatal(err)
			}
			q, c, err := s.Cursor(ctx, "weibo-mobile")
			if err != nil || q != st.query || c != st.cursor {
				t.Errorf("Cursor = %q, %q, %v; want %q, %q", q, c, err, st.query, st.cursor)
			}
		}
		if _, _, err := s.Cursor(ctx, "wechat"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Cursor(other source) error = %v, want ErrNotFound", err)
		}
	})
}

func TestDeadLetters(t *testing.T) {
	storetest.ForEachStore(t, func(t *testing.T, s *store.Store) {
		t.Parallel()
		ctx := context.Background()
		t0 := time.Date(2026, 11, 26, 2, 0, 0, 0, time.UTC)
		letters := []store.DeadLetter{
			{Stage: "ingest", Source: "weibo-mobile", Reason: "malformed response: truncated", Raw: []byte{0xff, 0x00, '{'}, CreatedAt: t0},
			{Stage: "ingest", Source: "weibo-mobile", Reason: "malformed response: truncated", Raw: []byte("again"), CreatedAt: t0.Add(time.Second)},
			{Stage: "classify", Key: "weibo:1", Reason: "decode: bad json", Raw: []byte("{"), CreatedAt: t0.Add(2 * time.Second)},
			// Redelivered, fails again: kept once, first reason wins.
			{Stage: "classify", Key: "weibo:1", Reason: "decode: other", CreatedAt: t0.Add(3 * time.Second)},
			// Same key, another stage: a separate letter.
			{Stage: "dispatch", Key: "weibo:1", Reason: "no such department", CreatedAt: t0.Add(4 * time.Second)},
		}
		for _, d := range letters {
			if err := s.AddDeadLetter(ctx, d); err != nil {
				t.Fatalf("AddDeadLetter: %v", err)
			}
		}
		n, err := s.CountDeadLetters(ctx)
		if err != nil || n != 4 {
			t.Fatalf("CountDeadLetters = %d, %v; want 4", n, err)
		}
		got, err := s.ListDeadLetters(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		want := []store.DeadLetter{letters[4], letters[2], letters[1], letters[0]}
		for i := range got {
			want[i].ID = got[i].ID
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("ListDeadLetters:\n got %+v\nwant %+v", got, want)
		}
		top, err := s.ListDeadLetters(ctx, 2)
		if err != nil || len(top) != 2 || top[0].Stage != "dispatch" {
			t.Errorf("ListDeadLetters(2) = %+v, %v", top, err)
		}
		if err := s.AddDeadLetter(ctx, store.DeadLetter{Stage: "ingest"}); err == nil {
			t.Error("AddDeadLetter without a reason: no error")
		}
	})
}

// TestDeadLettersKeyedBySource: two replay files both have a line 1, and
// each source's letter is kept; the same source's line 1 again is not.
// Bytes PostgreSQL refuses in text (NUL) and invalid UTF-8 in the key or
// reason do not stop the letter from being kept.
func TestDeadLettersKeyedBySource(t *testing.T) {
	storetest.ForEachStore(t, func(t *testing.T, s *store.Store) {
		t.Parallel()
		ctx := context.Background()
		letters := []store.DeadLetter{
			{Stage: "ingest", Source: "replay-a", Key: "line:1", Reason: "line 1: invalid json"},
			{Stage: "ingest", Source: "replay-b", Key: "line:1", Reason: "line 1: empty text"},
			{Stage: "ingest", Source: "replay-a", Key: "line:1", Reason: "line 1: again"},
			{Stage: "dispatch", Source: "replay-a", Key: "replay:1\x00\xff", Reason: "bad \x00 byte \xfe", Raw: []byte{0, 0xff}},
		}
		for _, d := range letters {
			if err := s.AddDeadLetter(ctx, d); err != nil {
				t.Fatalf("AddDeadLetter(%+v): %v", d, err)
			}
		}
		got, err := s.ListDeadLetters(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, d := range got {
			keys = append(keys, d.Stage+"/"+d.Source+"/"+d.Key+"/"+d.Reason)
		}
		sort.Strings(keys)
		want := []string{
			"dispatch/replay-a/replay:1\uFFFD/bad  byte \uFFFD",
			"ingest/replay-a/line:1/line 1: invalid json",
			"ingest/replay-b/line:1/line 1: empty text",
		}
		if !reflect.DeepEqual(keys, want) {
			t.Errorf("dead letters:\n got %q\nwant %q", keys, want)
		}
		for _, d := range got {
			if d.Stage == "dispatch" && !bytes.Equal(d.Raw, []byte{0, 0xff}) {
				t.Errorf("raw bytes of the dispatch letter = %x, want 00ff", d.Raw)
			}
		}
	})
}
