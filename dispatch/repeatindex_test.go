package dispatch

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/mashangban/mashangban/model"
	"github.com/mashangban/mashangban/store"
	"github.com/mashangban/mashangban/store/storetest"
)

// TestRepeatOfOlderCaseBeyondNewest: a repeat of an open case is merged into
// it however many newer open cases its district has; the repeat index finds
// it where the 500 newest cases of the district would not include it.
func TestRepeatOfOlderCaseBeyondNewest(t *testing.T) {
	t.Parallel()
	storetest.ForEachStore(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		clk := newFakeClock(start)
		d := newTestDispatcher(t, st, clk)
		first := decision(model.ChannelWeibo, "1", "翠湖小区门口路灯坏了，晚上很黑", lightA, lightPlace, huashan, cgj)
		mustHandle(t, d, first)
		orig := caseOf(t, st, first.Post.ID)

		// 600 newer open cases in the same district, other problems at other
		// places, written in one transaction.
		err := st.DB.InTx(ctx, func(tx store.Tx) error {
			for i := range 600 {
				at := start.Add(time.Duration(i+1) * time.Second)
				no := fmt.Sprintf("MSB-20261125-%04d", i+1)
				_, err := st.InsertCase(ctx, tx, store.NewCase{
					Case: model.Case{No: no, Status: model.CaseOpen, Districts: []model.District{huashan}, Category: "test",
						Priority: model.PriorityNormal, Lead: "cgj", Summary: "垃圾堆积", FirstPostID: "replay:" + no, CreatedAt: at},
					District: huashan.Code, SimHash: int64(i) << 20, Tokens: []string{"垃圾", "堆积", fmt.Sprint("楼", i)},
					Place: fmt.Sprintf("compound:第%d小区", i),
				})
				if err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		clk.Add(time.Hour)
		again := decision(model.ChannelWeibo, "2", "翠湖小区门口的路灯不亮好几天了，晚上很黑", lightB, lightPlace, huashan, cgj)
		mustHandle(t, d, again)
		if got := caseOf(t, st, again.Post.ID); got.ID != orig.ID {
			t.Fatalf("repeat went into case %s, want the open case %s about the same light", got.No, orig.No)
		}
		if n := count(t, st, `SELECT count(*) FROM cases`); n != 601 {
			t.Errorf("cases = %d, want 601 (no new case for the repeat)", n)
		}
	})
}

// TestRepeatIndexFindsExampleRepeats: for every pair of example posts that
// is one problem, the repeat index offers the first post's case as a
// candidate for the second, either way round: the index loses none of the
// repeats the decision rule accepts.
func TestRepeatIndexFindsExampleRepeats(t *testing.T) {
	t.Parallel()
	s := testSegmenter(t)
	storetest.ForEachStore(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		n := 0
		for i, p := range examplePairs {
			if !p.repeat {
				continue
			}
			for dir, pair := range [][2]fingerprint{
				{fingerprintOf(model.Decision{Tokens: s.Cut(p.a), Category: p.ca, Explanation: model.Explanation{Places: p.pa}}),
					fingerprintOf(model.Decision{Tokens: s.Cut(p.b), Category: p.cb, Explanation: model.Explanation{Places: p.pb}})},
				{fingerprintOf(model.Decision{Tokens: s.Cut(p.b), Category: p.cb, Explanation: model.Explanation{Places: p.pb}}),
					fingerprintOf(model.Decision{Tokens: s.Cut(p.a), Category: p.ca, Explanation: model.Explanation{Places: p.pa}})},
			} {
				n++
				district := fmt.Sprintf("9%05d", 10*i+dir)
				no := fmt.Sprintf("MSB-20261126-%04d", n)
				old, post := pair[0], pair[1]
				id, err := st.InsertCase(ctx, nil, store.NewCase{
					Case: model.Case{No: no, Status: model.CaseOpen, Category: old.Category, Priority: model.PriorityNormal,
						FirstPostID: "replay:" + no, CreatedAt: start},
					District: district, SimHash: old.SimHash, Tokens: old.Words, Place: old.Place,
				})
				if err != nil {
					t.Fatal(err)
				}
				cands, err := st.RepeatCandidates(ctx, nil, store.RepeatProbe{District: district, Tokens: post.Words, SimHash: post.SimHash, Place: post.Place, Category: post.Category},
					start.Add(-time.Hour), 500)
				if err != nil {
					t.Fatal(err)
				}
				if len(cands) != 1 || cands[0].ID != id {
					t.Errorf("%s (direction %d): candidates %+v, want case %d", p.name, dir, cands, id)
				}
			}
		}
		if n < 10 {
			t.Fatalf("only %d repeat directions checked", n)
		}
	})
}
