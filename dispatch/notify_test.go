package dispatch

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/mashangban/mashangban/model"
	"github.com/mashangban/mashangban/notify"
	"github.com/mashangban/mashangban/notify/wecomfake"
	"github.com/mashangban/mashangban/store"
	"github.com/mashangban/mashangban/store/storetest"
)

// jsonHook records the generic JSON notices it is sent; drop makes it cut
// the connection after reading a request (the answer is lost).
type jsonHook struct {
	mu   sync.Mutex
	got  []notify.Message
	drop bool
	srv  *httptest.Server
}

func newJSONHook(t *testing.T) *jsonHook {
	h := &jsonHook{}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m notify.Message
		dec := json.NewDecoder(r.Body)
		dec.DisallowUnknownFields()
		if err := dec.Decode(&m); err != nil {
			t.Errorf("json notice: %v", err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		h.mu.Lock()
		h.got = append(h.got, m)
		drop := h.drop
		h.mu.Unlock()
		if drop {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *jsonHook) messages() []notify.Message {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]notify.Message(nil), h.got...)
}

func outboxStates(t *testing.T, st *store.Store) map[string]int {
	t.Helper()
	rows, err := st.DB.Query(context.Background(), `SELECT state, count(*) FROM outbox WHERE kind = 'notice' GROUP BY state`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			t.Fatal(err)
		}
		out[s] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestNoticesReachDepartments(t *testing.T) {
	t.Parallel()
	storetest.ForEachStore(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		clk := newFakeClock(start)
		// The ldj robot takes one message a minute, so a second notice in
		// the same minute is refused with 45009 and retried.
		robot := (&wecomfake.Robot{Keys: map[string]bool{"key-ldj-0123": true, "key-fire-4567": true}, Now: clk.Now, PerMinute: 1}).Start()
		defer robot.Close()
		hook := newJSONHook(t)
		var logs bytes.Buffer
		reg := prometheus.NewRegistry()
		d := New(st, Options{Now: clk.Now, Departments: testDepartments, CaseURL: "https://msb.example.gov.cn/c/{case_no}",
			Notify: map[string]notify.Target{
				"ldj":  {URL: robot.URL("key-ldj-0123"), Format: notify.FormatWeCom},
				"fire": {URL: robot.URL("key-fire-4567"), Format: notify.FormatWeCom, MentionedMobiles: []string{"13800000000"}},
				"cgj":  {URL: hook.srv.URL + "/hook", Format: notify.FormatJSON},
				"gas":  {URL: robot.URL("revoked-key-89"), Format: notify.FormatWeCom},
			}}, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})), reg)
		send := func() {
			t.Helper()
			if _, err := d.SendDue(ctx, d.Notifiers()); err != nil {
				t.Fatal(err)
			}
		}

		mustHandle(t, d, decision(model.ChannelReplay, "n1", "翠湖小区门口路灯坏了，联系电话13912345678", lightA, lightPlace, huashan, ldj, cgj, fire))
		mustHandle(t, d, decision(model.ChannelReplay, "n2", "燃气味道很重", []string{"燃气", "味道"}, nil, yushan, gas))
		mustHandle(t, d, decision(model.ChannelReplay, "n3", "楼道灯不亮", []string{"楼道", "灯", "不亮"}, nil, yushan, ldj))
		send()
		// ldj: the first assignment notice went out, the second was rate
		// limited; gas's robot key is invalid (93000): failed, not retried.
		if got := robot.Refused(); len(got) != 2 || !containsInt(got, 45009) || !containsInt(got, 93000) {
			t.Fatalf("robot refused %v, want one 45009 and one 93000", got)
		}
		if s := outboxStates(t, st); s[store.OutboxSent] != 3 || s[store.OutboxQueued] != 1 || s[store.OutboxFailed] != 1 {
			t.Fatalf("notice outbox after the first round = %v", s)
		}
		send() // still within the robot's pause: nothing sent
		if n := len(robot.Accepted()); n != 2 {
			t.Fatalf("robot accepted %d messages during the pause, want 2 (ldj 1, fire 1)", n)
		}
		clk.Add(61 * time.Second)
		send()
		if s := outboxStates(t, st); s[store.OutboxSent] != 4 || s[store.OutboxQueued] != 0 || s[store.OutboxFailed] != 1 {
			t.Fatalf("notice outbox after the pause = %v", s)
		}
		if v := counterValue(d.m.noticeSends.WithLabelValues("ldj", "retry")); v != 1 {
			t.Errorf("ldj retries metric = %v, want 1", v)
		}
		if v := counterValue(d.m.noticeSends.WithLabelValues("gas", "failed")); v != 1 {
			t.Errorf("gas failed metric = %v, want 1", v)
		}

		var ldjMsgs, fireMsgs []wecomfake.Message
		for _, m := range robot.Accepted() {
			if m.Key == "key-ldj-0123" {
				ldjMsgs = append(ldjMsgs, m)
			} else {
				fireMsgs = append(fireMsgs, m)
			}
		}
		if len(ldjMsgs) != 2 || ldjMsgs[0].MsgType != "markdown" || !strings.Contains(ldjMsgs[0].Content, "市路灯管理所") ||
			!strings.Contains(ldjMsgs[0].Content, "新办件") || !strings.Contains(ldjMsgs[0].Content, "牵头办理") ||
			!strings.Contains(ldjMsgs[0].Content, "139****5678") || strings.Contains(ldjMsgs[0].Content, "13912345678") {
			t.Errorf("ldj's assignment notices = %+v", ldjMsgs)
		}
		if len(fireMsgs) != 1 || fireMsgs[0].MsgType != "text" || strings.Join(fireMsgs[0].MentionedMobiles, ",") != "13800000000" ||
			!strings.Contains(fireMsgs[0].Content, "市消防救援支队") || !strings.Contains(fireMsgs[0].Content, "协办") {
			t.Errorf("fire's notice = %+v", fireMsgs)
		}
		js := hook.messages()
		if len(js) != 1 || js[0].Kind != NoticeAssigned || js[0].Department != (notify.Department{ID: "cgj", Name: "市城市管理局"}) ||
			js[0].Role != "assist" || js[0].Deadline == nil || !js[0].Deadline.Equal(start.Add(24*time.Hour)) ||
			!strings.HasPrefix(js[0].CaseNo, "MSB-") || js[0].URL != "https://msb.example.gov.cn/c/"+js[0].CaseNo || js[0].Key == "" {
			t.Errorf("cgj's JSON notices = %+v", js)
		}

		// A day later nobody has claimed: reminders went out before, cards
		// now; each exactly once, however often the clock ticks.
		for _, h := range []time.Duration{21 * time.Hour, 25 * time.Hour} {
			clk.Set(start.Add(h))
			for range 2 {
				if err := d.Tick(ctx, clk.Now()); err != nil {
					t.Fatal(err)
				}
				if err := New(st, Options{Now: clk.Now, Departments: testDepartments}, nil, nil).Tick(ctx, clk.Now()); err != nil {
					t.Fatal(err)
				}
			}
			for range 3 { // one a minute for the ldj robot
				send()
				clk.Add(61 * time.Second)
			}
		}
		js = hook.messages()
		var kinds []string
		for _, m := range js {
			kinds = append(kinds, m.Kind)
		}
		if strings.Join(kinds, " ") != "assigned remind_claim yellow" {
			t.Errorf("cgj's notices = %v, want assigned remind_claim yellow", kinds)
		}
		if y := js[len(js)-1]; y.Card != "yellow" || !strings.Contains(y.Text, "黄牌") || !strings.Contains(y.Text, "市城市管理局") {
			t.Errorf("yellow card notice = %+v", y)
		}
		var cards int
		for _, m := range robot.Accepted() {
			if m.Key == "key-ldj-0123" && strings.Contains(m.Content, "黄牌") {
				cards++
				if !strings.Contains(m.Content, "市路灯管理所") || strings.Contains(m.Content, "ldj") {
					t.Errorf("ldj's card names the department by code: %q", m.Content)
				}
			}
		}
		if cards != 2 {
			t.Errorf("ldj's yellow card notices = %d, want 2 (two cases)", cards)
		}
		if s := outboxStates(t, st); s[store.OutboxQueued] != 0 || s[store.OutboxSending] != 0 {
			t.Errorf("notices left undelivered: %v", s)
		}
		// Audited: an event per sent or failed notice, on its case.
		sent := count(t, st, `SELECT count(*) FROM events WHERE kind = 'notice.sent' AND case_id IS NOT NULL AND assignment_id IS NOT NULL`)
		failed := count(t, st, `SELECT count(*) FROM events WHERE kind = 'notice.failed'`)
		states := outboxStates(t, st)
		if sent != states[store.OutboxSent] || failed != states[store.OutboxFailed] || sent == 0 || failed == 0 {
			t.Errorf("notice events: %d sent, %d failed; outbox %v", sent, failed, states)
		}
		if v := counterValue(d.m.notices.WithLabelValues(store.NoticeYellow, "ldj")); v < 1 {
			t.Errorf("notices metric has no ldj yellow card: %v", v)
		}
		// The webhook keys are secrets: never in a log line.
		for _, key := range []string{"key-ldj-0123", "key-fire-4567", "revoked-key-89"} {
			if strings.Contains(logs.String(), key) {
				t.Errorf("log shows webhook key %s", key)
			}
		}
	})
}

// A notice whose answer was lost may have arrived: it is not sent again.
func TestNoticeAtMostOnce(t *testing.T) {
	t.Parallel()
	storetest.ForEachStore(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		clk := newFakeClock(start)
		hook := newJSONHook(t)
		hook.drop = true
		d := New(st, Options{Now: clk.Now, Departments: testDepartments,
			Notify: map[string]notify.Target{"ldj": {URL: hook.srv.URL, Format: notify.FormatJSON}}}, nil, nil)
		mustHandle(t, d, decision(model.ChannelReplay, "m1", "路灯坏了", []string{"路灯", "坏"}, nil, huashan, ldj))
		for range 3 {
			if _, err := d.SendDue(ctx, d.Notifiers()); err != nil {
				t.Fatal(err)
			}
			clk.Add(time.Hour)
		}
		if n := len(hook.messages()); n != 1 {
			t.Errorf("webhook called %d times, want 1", n)
		}
		if s := outboxStates(t, st); s[store.OutboxFailed] != 1 {
			t.Errorf("outbox = %v, want the notice failed", s)
		}
		// A notice found mid-delivery after a crash is not sent again either.
		hook.mu.Lock()
		hook.drop = false
		hook.mu.Unlock()
		mustHandle(t, d, decision(model.ChannelReplay, "m2", "井盖丢了", []string{"井盖", "丢"}, nil, yushan, ldj))
		items, err := st.DueReplies(ctx, string(noticeChannel("ldj")), clk.Now(), 10)
		if err != nil || len(items) != 1 {
			t.Fatalf("due notices = %v, %v", items, err)
		}
		if ok, err := st.BeginSend(ctx, items[0], clk.Now().Add(time.Minute)); !ok || err != nil {
			t.Fatal("begin send", ok, err)
		}
		clk.Add(2 * time.Minute) // the lease runs out: the "crashed" attempt is found
		if _, err := d.SendDue(ctx, d.Notifiers()); err != nil {
			t.Fatal(err)
		}
		if n := len(hook.messages()); n != 1 {
			t.Errorf("webhook called %d times after the crash, want still 1", n)
		}
		if s := outboxStates(t, st); s[store.OutboxFailed] != 2 {
			t.Errorf("outbox = %v, want both failed", s)
		}
	})
}

func containsInt(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return -1
	}
	return m.GetCounter().GetValue()
}
