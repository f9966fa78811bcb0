package ingest

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/mashangban/mashangban/model"
	"github.com/mashangban/mashangban/stream"
	"github.com/mashangban/mashangban/stream/memlog"
)

type storeDead struct {
	mu      sync.Mutex
	letters []model.DeadLetter
}

func (d *storeDead) AddDeadLetter(ctx context.Context, l model.DeadLetter) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.letters = append(d.letters, l)
	return nil
}

// TestPublishPostsBoundsEveryPost: a post with an ID too long for the log
// is only a dead letter, a post with an oversized field is cut and also kept
// whole, and the other posts of the page are published as they are.
func TestPublishPostsBoundsEveryPost(t *testing.T) {
	ctx := context.Background()
	log, err := memlog.Open("", memlog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	dead := &storeDead{}
	pub := NewLogPublisher(log, dead, slog.New(slog.DiscardHandler), nil, nil)
	longID := "replay:" + strings.Repeat("1", 300)
	posts := []model.Post{
		{ID: "replay:a", Source: "r", Text: "路灯坏了"},
		{ID: longID, Source: "r", Text: "井盖丢了"},
		{ID: "replay:b", Source: "r", Text: "垃圾没人清", Author: model.Author{Name: strings.Repeat("名", 400000)}},
		{ID: longID + "2", Source: "r", Text: "另一条"},
	}
	if err := pub.PublishPosts(ctx, posts); err != nil {
		t.Fatal(err)
	}
	got := make(chan model.Post, 10)
	cctx, cancel := context.WithCancel(ctx)
	go log.Consume(cctx, stream.TopicPosts, "test", func(ctx context.Context, m stream.Message) error {
		var p model.Post
		if err := json.Unmarshal(m.Value, &p); err != nil {
			t.Error(err)
		}
		got <- p
		if len(got) == 2 {
			cancel()
		}
		return nil
	})
	<-cctx.Done()
	close(got)
	var ids []string
	for p := range got {
		ids = append(ids, p.ID)
		if p.ID == "replay:b" && (len(p.Cut) != 1 || p.Cut[0] != "author.name") {
			t.Errorf("cut post has Cut = %q", p.Cut)
		}
	}
	if strings.Join(ids, ",") != "replay:a,replay:b" {
		t.Errorf("published %q, want replay:a and replay:b", ids)
	}
	keys := map[string]string{}
	for _, l := range dead.letters {
		keys[l.Key] = l.Reason
		if l.Stage != "ingest" || l.Source != "r" || len(l.Raw) == 0 || len(l.Key) > MaxIDBytes {
			t.Errorf("dead letter %s %s %q (%d raw bytes)", l.Stage, l.Source, l.Key, len(l.Raw))
		}
	}
	if len(keys) != 3 || !strings.Contains(keys["replay:b"], "author.name") {
		t.Errorf("dead letters %q: want the cut post and both long IDs under distinct keys", keys)
	}
}
