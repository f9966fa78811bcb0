package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/mashangban/mashangban/store"
	"github.com/mashangban/mashangban/store/storetest"
)

func TestOutboxContract(t *testing.T) {
	storetest.ForEachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		ack := store.OutboxItem{PostID: "weibo:1", Kind: store.ReplyAck, Channel: "weibo", NativeID: "1", CaseNo: "MSB-1",
			Text: "收到", Fields: map[string]string{"thing1": "路灯"}, CreatedAt: t0}
		for i, want := range []bool{true, false} {
			if ok, err := s.Enqueue(ctx, nil, ack); err != nil || ok != want {
				t.Fatalf("enqueue ack #%d = %v, %v; want %v (one acknowledgement per post)", i, ok, err, want)
			}
		}
		for range 2 {
			if ok, err := s.Enqueue(ctx, nil, store.OutboxItem{PostID: "weibo:1", Kind: store.ReplyProgress, Channel: "weibo", Text: "处理中", CreatedAt: t0.Add(time.Second)}); !ok || err != nil {
				t.Fatalf("enqueue progress: %v %v", ok, err)
			}
		}
		rs, err := s.RepliesOf(ctx, "weibo:1")
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) != 3 || rs[0].Seq != 0 || rs[1].Seq != 1 || rs[2].Seq != 2 || rs[0].Fields["thing1"] != "路灯" || rs[1].Fields != nil {
			t.Fatalf("replies = %+v", rs)
		}
		due, err := s.DueReplies(ctx, "weibo", t0.Add(time.Minute), 10)
		if err != nil || len(due) != 3 || due[0].ID != rs[0].ID {
			t.Fatalf("due = %+v, %v", due, err)
		}
		if none, _ := s.DueReplies(ctx, "wechat", t0.Add(time.Minute), 10); len(none) != 0 {
			t.Fatalf("other channel's replies are due: %+v", none)
		}
		// Two senders read the same row; only one may take it.
		lease := t0.Add(3 * time.Minute)
		if ok, err := s.BeginSend(ctx, due[0], lease); !ok || err != nil {
			t.Fatalf("first BeginSend = %v, %v", ok, err)
		}
		if ok, _ := s.BeginSend(ctx, due[0], lease); ok {
			t.Fatal("a second sender took the same attempt")
		}
		got, _ := s.GetReply(ctx, due[0].ID)
		if got.State != store.OutboxSending || got.Attempts != 1 || !got.NextAttemptAt.Equal(lease) {
			t.Fatalf("after BeginSend: %+v", got)
		}
		if d, _ := s.DueReplies(ctx, "weibo", t0.Add(2*time.Minute), 10); len(d) != 2 {
			t.Fatalf("a leased reply is due before its lease ends: %d due", len(d))
		}
		if d, _ := s.DueReplies(ctx, "weibo", lease, 10); len(d) != 3 || d[2].State != store.OutboxSending {
			t.Fatalf("an expired lease is not due again: %+v", d)
		}
		if err := s.FinishSend(ctx, nil, got.ID, store.OutboxSent, "c9", "", lease); err != nil {
			t.Fatal(err)
		}
		if err := s.RetrySend(ctx, rs[1].ID, store.OutboxQueued, t0.Add(time.Hour), "rate limited"); err != nil {
			t.Fatal(err)
		}
		counts, err := s.OutboxCounts(ctx)
		if err != nil || counts[store.OutboxSent] != 1 || counts[store.OutboxQueued] != 2 {
			t.Fatalf("counts = %v, %v", counts, err)
		}
		if d, _ := s.DueReplies(ctx, "weibo", t0.Add(30*time.Minute), 10); len(d) != 1 || d[0].ID != rs[2].ID {
			t.Fatalf("due after retry scheduling = %+v", d)
		}
	})
}

func TestTriageContract(t *testing.T) {
	storetest.ForEachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		it := store.TriageItem{PostID: "wechat:a", Reason: "low confidence", District: "340503", CreatedAt: t0}
		it.Decision.Post.ID = "wechat:a"
		it.Decision.Confidence = 0.2
		for i, want := range []bool{true, false} {
			if ok, err := s.InsertTriage(ctx, nil, it); err != nil || ok != want {
				t.Fatalf("insert #%d = %v, %v; want %v", i, ok, err, want)
			}
		}
		w, err := s.ListTriage(ctx, store.TriageWaiting, 0)
		if err != nil || len(w) != 1 || w[0].Decision.Confidence != 0.2 || w[0].State != store.TriageWaiting {
			t.Fatalf("waiting = %+v, %v", w, err)
		}
		id := seedCase(t, s, nil, "MSB-20261126-0009", "340503", t0)
		if ok, err := s.MarkRouted(ctx, nil, "wechat:a", id, "duty", "电话确认", t0); !ok || err != nil {
			t.Fatalf("route = %v, %v", ok, err)
		}
		if ok, _ := s.MarkRouted(ctx, nil, "wechat:a", id, "duty", "again", t0); ok {
			t.Fatal("routed twice")
		}
		got, err := s.GetTriage(ctx, nil, "wechat:a")
		if err != nil || got.State != store.TriageRouted || got.RoutedBy != "duty" || got.CaseID == nil || *got.CaseID != id || got.RoutedAt == nil {
			t.Fatalf("routed entry = %+v, %v", got, err)
		}
		if w, _ := s.ListTriage(ctx, store.TriageWaiting, 0); len(w) != 0 {
			t.Fatalf("still waiting: %+v", w)
		}
		if handled, _ := s.PostHandled(ctx, nil, "wechat:a"); !handled {
			t.Fatal("a triaged post is not handled")
		}
	})
}
