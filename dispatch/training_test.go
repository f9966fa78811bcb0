package dispatch

import (
	"context"
	"testing"

	"github.com/mashangban/mashangban/model"
	"github.com/mashangban/mashangban/store"
	"github.com/mashangban/mashangban/store/storetest"
)

// TestLabelledCasesAfterHandWork: the store's cases as training examples
// carry the final lead after a transfer and say which a person routed or
// transferred.
func TestLabelledCasesAfterHandWork(t *testing.T) {
	storetest.ForEachStore(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		clk := newFakeClock(start)
		d := newTestDispatcher(t, st, clk)

		// Decided by a route, left as it was.
		mustHandle(t, d, decision(model.ChannelWeibo, "1", "翠湖小区门口路灯坏了", lightA, lightPlace, huashan, ldj))
		// Decided by a route, transferred by the department.
		wrong := decision(model.ChannelWeibo, "2", "雨山区菜市场燃气管道有异味", []string{"菜市场", "燃气", "管道", "异味"}, nil, yushan, cgj)
		mustHandle(t, d, wrong)
		// Sent to triage, routed by the office.
		tri := decision(model.ChannelWeibo, "3", "小区消防通道被占", []string{"消防", "通道", "被占"}, nil, yushan, cgj)
		tri.Triage, tri.TriageReason, tri.Lead = true, "no route", nil
		mustHandle(t, d, tri)
		if _, err := d.RouteTriage(ctx, Actor{ID: "duty", Supervisor: true}, tri.Post.ID, Route{Lead: "fire", Category: "消防", Reason: "消防通道归消防"}); err != nil {
			t.Fatal(err)
		}
		c2 := caseOf(t, st, wrong.Post.ID)
		as, err := st.ListAssignments(ctx, nil, store.AssignmentFilter{CaseID: c2.ID})
		if err != nil || len(as) != 1 {
			t.Fatalf("assignments of %s: %v %v", c2.No, as, err)
		}
		if _, err := d.Transfer(ctx, Actor{ID: "cgj"}, as[0].ID, "gas", "燃气归燃气公司"); err != nil {
			t.Fatal(err)
		}

		all, err := st.LabelledCases(ctx, store.LabelledFilter{})
		if err != nil {
			t.Fatal(err)
		}
		type row struct {
			lead, text string
			hand       bool
		}
		want := []row{{"ldj", "翠湖小区门口路灯坏了", false}, {"gas", "雨山区菜市场燃气管道有异味", true}, {"fire", "小区消防通道被占", true}}
		if len(all) != len(want) {
			t.Fatalf("labelled cases %+v, want %d", all, len(want))
		}
		for i, w := range want {
			if g := all[i]; g.Lead != w.lead || g.Text != w.text || g.ByHand != w.hand || g.CaseNo == "" {
				t.Errorf("case %d: %+v, want %+v", i, g, w)
			}
		}
		if all[2].Category != "消防" {
			t.Errorf("hand-routed case category %q, want the office's 消防", all[2].Category)
		}
		hand, err := st.LabelledCases(ctx, store.LabelledFilter{ByHandOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(hand) != 2 || hand[0].Lead != "gas" || hand[1].Lead != "fire" {
			t.Errorf("by hand only: %+v, want the transferred and the routed case", hand)
		}
	})
}
