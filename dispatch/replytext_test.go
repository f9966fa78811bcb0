package dispatch

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mashangban/mashangban/model"
	"github.com/mashangban/mashangban/reply"
	"github.com/mashangban/mashangban/rules"
	defaultrules "github.com/mashangban/mashangban/rules/default"
	"github.com/mashangban/mashangban/store"
	"github.com/mashangban/mashangban/store/storetest"
)

// builtinNames are the built-in rule set's department names.
func builtinNames(t testing.TB) func() map[string]string {
	d, _ := builtinRuleNames(t)
	return d
}

// builtinRuleNames are the built-in rule set's department and category names.
func builtinRuleNames(t testing.TB) (departments, categories func() map[string]string) {
	t.Helper()
	dir := t.TempDir()
	if _, err := defaultrules.WriteTo(dir); err != nil {
		t.Fatal(err)
	}
	rs, err := rules.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	names, cats := map[string]string{}, map[string]string{}
	for _, d := range rs.Departments {
		names[d.ID] = d.Name
	}
	for _, c := range rs.Categories {
		cats[c.ID] = c.Name
	}
	return func() map[string]string { return names }, func() map[string]string { return cats }
}

// TestRepliesNameDepartmentsFromTheRuleSet: with the configuration naming
// no department, every reply and the weekly report show the rule set's
// names (市城市管理局, 花山区城市管理局), never the codes cgj or
// huashan.cgj; the acknowledgement states the route's deadlines and the
// case's public link.
func TestRepliesNameDepartmentsFromTheRuleSet(t *testing.T) {
	t.Parallel()
	storetest.ForEachStore(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		clk := newFakeClock(start)
		depNames, catNames := builtinRuleNames(t)
		d := New(st, Options{Now: clk.Now, DepartmentNames: depNames, CategoryNames: catNames, PublicBaseURL: "https://msb.example.cn/",
			Departments: []DepartmentAuth{{ID: "cgj", Token: "tok-cgj"}, {ID: "huashan.cgj", Token: "tok-hs"}, {ID: "duty", Token: "tok-duty", Supervisor: true}}},
			nil, nil)
		// An urgent route: its own deadlines, and no name in the decision.
		dec := decision(model.ChannelWeibo, "5030112233445566", "翠湖小区门口井盖不见了", []string{"翠湖小区", "门口", "井盖", "不见"}, lightPlace,
			huashan, model.Department{ID: "cgj"})
		dec.Priority, dec.Category = model.PriorityUrgent, "road"
		dec.SLA = &model.SLA{Claim: model.Duration(2 * time.Hour), Reply: model.Duration(12 * time.Hour), Close: model.Duration(72 * time.Hour)}
		mustHandle(t, d, dec)
		c := caseOf(t, st, dec.Post.ID)
		wechat := decision(model.ChannelWeChat, "rec-1", "翠湖小区门口的井盖不见了", []string{"翠湖小区", "门口", "的", "井盖", "不见"}, lightPlace,
			huashan, model.Department{ID: "cgj"})
		wechat.Post.CreatedAt, wechat.Category = start.Add(time.Minute), "road"
		mustHandle(t, d, wechat)
		if got := caseOf(t, st, wechat.Post.ID); got.ID != c.ID {
			t.Fatalf("the WeChat post was not merged: case %s", got.No)
		}

		duty := Actor{ID: "duty", Supervisor: true}
		as, err := st.ListAssignments(ctx, nil, store.AssignmentFilter{CaseID: c.ID})
		if err != nil || len(as) != 1 {
			t.Fatalf("assignments %+v, %v", as, err)
		}
		if _, err := d.Claim(ctx, duty, as[0].ID); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Reply(ctx, duty, as[0].ID, "已安排人员设置围挡"); err != nil {
			t.Fatal(err)
		}
		n, err := d.Transfer(ctx, duty, as[0].ID, "huashan.cgj", "属地管理")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.Claim(ctx, duty, n.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Resolve(ctx, duty, n.ID, ""); err != nil {
			t.Fatal(err)
		}

		link := "https://msb.example.cn/c/" + c.No
		want := map[string][]string{ // post → the texts it gets, in order
			dec.Post.ID: {
				"您反映的问题已收到，办件编号" + c.No + "，已转交市城市管理局办理，2小时内签收，12小时内答复，72小时内办结。办理进度：" + link,
				"【市城市管理局】已安排人员设置围挡（办件编号" + c.No + "）",
				"您反映的问题（办件编号" + c.No + "）已由市城市管理局转交花山区城市管理局办理。办理进度：" + link,
				"【花山区城市管理局】您反映的问题已办理完毕，感谢您的监督。（办件编号" + c.No + "）",
			},
			wechat.Post.ID: {
				"您反映的问题此前已有市民反映，已并入办件" + c.No + "，由市城市管理局办理中。您是第2位反映此问题的市民。办理进度：" + link,
				"【市城市管理局】已安排人员设置围挡（办件编号" + c.No + "）",
				"您反映的问题（办件编号" + c.No + "）已由市城市管理局转交花山区城市管理局办理。办理进度：" + link,
				"【花山区城市管理局】您反映的问题已办理完毕，感谢您的监督。（办件编号" + c.No + "）",
			},
		}
		for post, texts := range want {
			got, err := st.RepliesOf(ctx, post)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(texts) {
				t.Fatalf("%s: %d replies, want %d: %+v", post, len(got), len(texts), got)
			}
			for i, it := range got {
				if it.Text != texts[i] {
					t.Errorf("%s reply %d:\n got %q\nwant %q", post, i, it.Text, texts[i])
				}
				for _, code := range []string{"cgj", "huashan"} {
					if strings.Contains(it.Text, code) || strings.Contains(strings.Join(mapValues(it.Fields), " "), code) {
						t.Errorf("code %q reaches the citizen: %q %v", code, it.Text, it.Fields)
					}
				}
			}
			if post == wechat.Post.ID {
				f := got[2].Fields
				if f["thing1"] != "已转交花山区城市管理局办理" || f["phrase3"] != "已转办" || f["character_string2"] != c.No {
					t.Errorf("transfer fields = %v", f)
				}
			}
		}

		rep, err := BuildReport(ctx, st, start, clk.Now(), model.Shanghai, d.departmentNames(), WithCategoryNames(d.categoryNames()))
		if err != nil {
			t.Fatal(err)
		}
		names := map[string]string{}
		for _, r := range rep.Rows {
			names[r.Department] = r.Name
		}
		if names["cgj"] != "市城市管理局" || names["huashan.cgj"] != "花山区城市管理局" {
			t.Errorf("report rows name %v", names)
		}
		if len(rep.Special.Subjects) != 1 || rep.Special.Subjects[0].Label != "道路与井盖" {
			t.Errorf("report subjects %+v, want 道路与井盖", rep.Special.Subjects)
		}
		var md strings.Builder
		if err := rep.WriteMarkdown(&md); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(md.String(), "未配置名称") || strings.Contains(md.String(), "huashan.cgj") {
			t.Errorf("report shows codes:\n%s", md.String())
		}
	})
}

func mapValues(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// TestConfiguredNameOverridesAndUnknownIsNeverACode: a name in the
// configuration wins over the rule set's; a department no one names is
// "相关部门" to the citizen.
func TestConfiguredNameOverridesAndUnknownIsNeverACode(t *testing.T) {
	t.Parallel()
	d := New(nil, Options{DepartmentNames: builtinNames(t), Departments: []DepartmentAuth{{ID: "cgj", Name: "市城管局（综合执法）"}}}, nil, nil)
	for id, want := range map[string]string{"cgj": "市城管局（综合执法）", "huashan.cgj": "花山区城市管理局", "nope.unit": "相关部门"} {
		if got := d.citizenName(id, nil); got != want {
			t.Errorf("citizenName(%q) = %q, want %q", id, got, want)
		}
	}
}

func TestWeChatFieldKeys(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 26, 1, 21, 0, 0, time.UTC)
	m := reply.Message{Title: "路灯不亮", Status: "已受理"}
	f := New(nil, Options{WeChat: WeChatFields{Department: "thing5"}}, nil, nil).wechatFields(m, "MSB-20261126-0042", "市城市管理局（城市综合执法）直属执法第一大队", at)
	want := map[string]string{"thing1": "路灯不亮", "character_string2": "MSB-20261126-0042", "phrase3": "已受理",
		"time4": "2026年11月26日 09:21", "thing5": "市城市管理局（城市综合执法）直属执法第…"}
	for k, v := range want {
		if f[k] != v {
			t.Errorf("%s = %q, want %q", k, f[k], v)
		}
	}
	if f := New(nil, Options{}, nil, nil).wechatFields(m, "MSB-1", "市城市管理局", at); len(f) != 4 {
		t.Errorf("default template fields = %v, want the four keywords of the example template", f)
	}
}

// TestRuleSetAcknowledgement: a rule set's own acknowledgement text is used
// with the same data and limits; one that fails falls back to the template
// set's text.
func TestRuleSetAcknowledgement(t *testing.T) {
	t.Parallel()
	storetest.ForEachStore(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		d := newTestDispatcher(t, st, newFakeClock(start))
		tests := []struct {
			native, tmpl, want string
		}{
			{"a1", "#马上办# 已转{{.Lead}}，编号{{.CaseNo}}，{{.Reply}}内答复。", "马上办 已转市城市管理局，编号MSB-20261126-0001，72小时内答复。"},
			{"a2", "{{.Lead}}{{index .Nope 1}}", "您反映的问题已收到，办件编号MSB-20261126-0002，已转交市城市管理局办理，24小时内签收，72小时内答复，7天内办结。"},
		}
		for i, tt := range tests {
			dec := decision(model.ChannelWeibo, tt.native, "路灯坏了", []string{"路灯", fmt.Sprint("坏", i)}, nil, []model.District{huashan, yushan}[i], cgj)
			dec.AckTemplate = tt.tmpl
			mustHandle(t, d, dec)
			got, err := st.RepliesOf(ctx, dec.Post.ID)
			if err != nil || len(got) != 1 || got[0].Text != tt.want {
				t.Errorf("ack with %q: %+v, %v; want %q", tt.tmpl, got, err, tt.want)
			}
		}
	})
}
