package dispatch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/mashangban/mashangban/model"
	"github.com/mashangban/mashangban/store"
	"github.com/mashangban/mashangban/store/storetest"
	"github.com/mashangban/mashangban/stream"
)

func message(t *testing.T, dec model.Decision) stream.Message {
	t.Helper()
	b, err := json.Marshal(dec)
	if err != nil {
		t.Fatal(err)
	}
	return stream.Message{Key: []byte(dec.DistrictKey()), Value: b}
}

// TestStageSetsAsidePermanentFailures hands the stage decisions that the
// store refuses whatever is tried (on PostgreSQL: a NUL byte in the post ID,
// SQLSTATE 22021, and an ID too long for the primary key's index, 54000):
// each becomes a dead letter after MaxPermanentAttempts tries, and the
// decision after them is still handled. On SQLite, which takes both, they
// are cases. Either way every decision is accounted for exactly once.
func TestStageSetsAsidePermanentFailures(t *testing.T) {
	t.Parallel()
	storetest.ForEachStore(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		d := newTestDispatcher(t, st, newFakeClock(start))
		s := d.NewStage(prometheus.NewRegistry(), nil)
		nul := decision(model.ChannelWeibo, "nul\x00id", "翠湖小区门口路灯坏了", lightA, lightPlace, huashan, ldj)
		long := decision(model.ChannelWeibo, incompressible(9000), "翠湖小区门口垃圾堆积", garbage, lightPlace, huashan, cgj)
		geo := decision(model.ChannelWeibo, "geo", "雨山区湖南路井盖丢失", []string{"井盖", "丢失"}, nil, yushan, cgj)
		geo.Post.Geo = &model.Geo{Lat: 31.7, Lon: 118.5, System: "gc\x00j02"}
		after := decision(model.ChannelWeibo, "after", "花山区解放路人行道地砖松动", []string{"地砖", "松动"}, nil, huashan, cgj)
		for _, dec := range []model.Decision{nul, long, geo, after} {
			if err := s.Handle(ctx, message(t, dec)); err != nil {
				t.Fatalf("Handle(%.40q): %v", dec.Post.ID, err)
			}
		}
		letters, err := st.ListDeadLetters(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		dead := map[string]string{}
		for _, l := range letters {
			dead[l.Key] = l.Reason
			if l.Stage != "dispatch" || l.Source != "weibo" || len(l.Raw) == 0 {
				t.Errorf("dead letter %+v", l)
			}
		}
		for _, dec := range []model.Decision{nul, long, geo, after} {
			_, caseErr := st.GetCasePost(ctx, nil, dec.Post.ID)
			inCase := caseErr == nil
			var reason string
			// The letter's key is the ID without NUL, its start and a hash when long.
			want := strings.ReplaceAll(dec.Post.ID, "\x00", "")
			for k, r := range dead {
				if k == want || len(want) > 512 && strings.HasPrefix(k, want[:100]) {
					reason = r
				}
			}
			if inCase == (reason != "") {
				t.Errorf("%.40q: in a case %v, dead letter %q: want exactly one", dec.Post.ID, inCase, reason)
			}
			if reason != "" && !strings.Contains(reason, "refused the decision 3 times") {
				t.Errorf("%.40q: reason %q does not say it was tried 3 times", dec.Post.ID, reason)
			}
		}
		if _, err := st.GetCasePost(ctx, nil, after.Post.ID); err != nil {
			t.Errorf("the decision after the bad ones: %v", err)
		}
		if _, err := st.GetCasePost(ctx, nil, geo.Post.ID); err != nil {
			t.Errorf("NUL in geo.system: %v", err)
		}
		if st.DB.Dialect() == store.Postgres && len(dead) != 2 {
			t.Errorf("dead letters on PostgreSQL: %q, want the NUL ID and the long ID", dead)
		}
	})
}

// TestStageRetriesTransientErrors: with the database gone the stage
// returns the error, to be delivered again, and sets nothing aside.
func TestStageRetriesTransientErrors(t *testing.T) {
	t.Parallel()
	st := storetest.OpenSQLite(t)
	d := newTestDispatcher(t, st, newFakeClock(start))
	s := d.NewStage(prometheus.NewRegistry(), nil)
	st.Close()
	dec := decision(model.ChannelWeibo, "down", "翠湖小区门口路灯坏了", lightA, lightPlace, huashan, ldj)
	if err := s.Handle(context.Background(), message(t, dec)); err == nil {
		t.Fatal("Handle with the database closed: no error, the decision was set aside")
	}
}

// incompressible is n bytes of hex that PostgreSQL's compression cannot
// shrink below its index entry limit.
func incompressible(n int) string {
	var b strings.Builder
	sum := sha256.Sum256(nil)
	for b.Len() < n {
		sum = sha256.Sum256(sum[:])
		b.WriteString(hex.EncodeToString(sum[:]))
	}
	return b.String()[:n]
}

// TestConflictingDuplicate: the same post ID with the same text is a silent
// duplicate; with another text it is kept as a dead letter holding both
// texts and counted, once per other text however often it comes.
func TestConflictingDuplicate(t *testing.T) {
	t.Parallel()
	storetest.ForEachStore(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		d := newTestDispatcher(t, st, newFakeClock(start))
		first := decision(model.ChannelReplay, "1", "翠湖小区门口路灯坏了", lightA, lightPlace, huashan, ldj)
		other := first
		other.Post.Text = "翠湖小区门口垃圾堆积很多天了"
		third := first
		third.Post.Text = "花山区解放路人行道地砖松动"
		for _, dec := range []model.Decision{first, first, other, other, third} {
			mustHandle(t, d, dec)
		}
		letters, err := st.ListDeadLetters(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(letters) != 2 {
			t.Fatalf("dead letters = %+v, want the two other texts", letters)
		}
		var texts []string
		for _, l := range letters {
			if l.Stage != "dispatch" || l.Source != "replay" || !strings.HasPrefix(l.Key, "replay:1#text:") || !strings.Contains(l.Reason, "conflicting duplicate") {
				t.Errorf("dead letter %+v", l)
			}
			var body struct {
				StoredText string     `json:"stored_text"`
				Post       model.Post `json:"post"`
			}
			if err := json.Unmarshal(l.Raw, &body); err != nil || body.StoredText != first.Post.Text {
				t.Errorf("dead letter body %s: %v", l.Raw, err)
			}
			texts = append(texts, body.Post.Text)
		}
		if !strings.Contains(strings.Join(texts, "|"), other.Post.Text) || !strings.Contains(strings.Join(texts, "|"), third.Post.Text) {
			t.Errorf("dead letters keep %q", texts)
		}
		var m dto.Metric
		if err := d.m.conflicts.Write(&m); err != nil || m.GetCounter().GetValue() != 2 {
			t.Errorf("mashangban_dispatch_conflicting_duplicates_total = %v, %v; want 2", m.GetCounter().GetValue(), err)
		}
		if c := caseOf(t, st, first.Post.ID); c.Summary != first.Post.Text {
			t.Errorf("case summary = %q, want the first text", c.Summary)
		}
	})
}
