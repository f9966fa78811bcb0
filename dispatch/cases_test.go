package dispatch

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mashangban/mashangban/model"
	"github.com/mashangban/mashangban/store"
	"github.com/mashangban/mashangban/store/storetest"
)

func TestAPIListCases(t *testing.T) {
	t.Parallel()
	storetest.ForEachStore(t, func(t *testing.T, st *store.Store) {
		clk := newFakeClock(start)
		d := newTestDispatcher(t, st, clk)
		var nos []string
		for i, x := range []struct {
			text string
			dist model.District
			lead model.Department
		}{
			{"翠湖小区门口路灯坏了", huashan, cgj},
			{"燃气味道很重", yushan, gas},
			{"雨山路路灯不亮", yushan, cgj},
			{"工地夜间施工", huashan, fire},
		} {
			clk.Add(time.Hour)
			dec := decision(model.ChannelReplay, fmt.Sprint("list", i), x.text, []string{fmt.Sprint("词", i)}, nil, x.dist, x.lead)
			mustHandle(t, d, dec)
			nos = append(nos, caseOf(t, st, dec.Post.ID).No)
		}
		c := apiClient{t, d.API()}
		list := func(query, token string) ([]string, string) {
			t.Helper()
			code, body := c.do("GET", "/api/cases?"+query, token, "")
			if code != 200 {
				t.Fatalf("GET /api/cases?%s: %d %s", query, code, body)
			}
			var page CaseList
			if err := json.Unmarshal(body, &page); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, x := range page.Cases {
				got = append(got, x.No)
			}
			return got, page.Next
		}
		for _, tc := range []struct {
			name, query, token string
			want               []string
		}{
			{"supervisor, newest first", "", "tok-duty", []string{nos[3], nos[2], nos[1], nos[0]}},
			{"a department sees its own", "", "tok-cgj", []string{nos[2], nos[0]}},
			{"district by name", "district=雨山区", "tok-duty", []string{nos[2], nos[1]}},
			{"district by code and department", "district=340504&department=cgj", "tok-duty", []string{nos[2]}},
			{"text", "text=" + url.QueryEscape("路灯"), "tok-duty", []string{nos[2], nos[0]}},
			{"since a time", "since=" + url.QueryEscape(start.Add(3*time.Hour).Format(time.RFC3339)), "tok-duty", []string{nos[3], nos[2]}},
			{"since a date", "since=2026-11-27", "tok-duty", nil},
			{"state", "state=resolved", "tok-duty", nil},
		} {
			got, _ := list(tc.query, tc.token)
			if !slices.Equal(got, tc.want) {
				t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
			}
		}
		// Cursor paging walks every case once.
		var all []string
		next := ""
		for range 5 {
			q := "limit=3"
			if next != "" {
				q += "&cursor=" + next
			}
			var got []string
			got, next = list(q, "tok-duty")
			all = append(all, got...)
			if next == "" {
				break
			}
		}
		if want := []string{nos[3], nos[2], nos[1], nos[0]}; !slices.Equal(all, want) {
			t.Errorf("paged: %v, want %v", all, want)
		}
		for _, tc := range []struct {
			name, query, token string
			code               int
			msg                string
		}{
			{"other department", "department=gas", "tok-cgj", 403, "own cases"},
			{"limit zero", "limit=0", "tok-duty", 400, "limit must be a number from 1 to 1000"},
			{"limit too big", "limit=1001", "tok-duty", 400, "limit must be"},
			{"limit not a number", "limit=ten", "tok-duty", 400, "limit must be"},
			{"bad state", "state=closed", "tok-duty", 400, "state must be open or resolved"},
			{"state and status disagree", "state=open&status=resolved", "tok-duty", 400, "disagree"},
			{"bad since", "since=yesterday", "tok-duty", 400, "since must be a date"},
			{"bad cursor", "cursor=abc", "tok-duty", 400, "cursor"},
			{"old paging", "after_id=3", "tok-duty", 400, "cursor"},
			{"text too long", "text=" + strings.Repeat("路", 101), "tok-duty", 400, "at most 100"},
		} {
			code, body := c.do("GET", "/api/cases?"+tc.query, tc.token, "")
			if code != tc.code || !strings.Contains(string(body), tc.msg) {
				t.Errorf("%s: %d %s, want %d with %q", tc.name, code, body, tc.code, tc.msg)
			}
		}
	})
}
