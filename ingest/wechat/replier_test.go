package wechat

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/mashangban/mashangban/ingest"
	"github.com/mashangban/mashangban/ingest/wechat/wechatfake"
	"github.com/mashangban/mashangban/reply"
)

const templateID = "W25vrVdFrfC1CBXlJG7aGYk0B8y3hR5jLvsTg2Xmhrs"

func newReplier(t *testing.T, f *wechatfake.Server, opt ReplierOptions) *Replier {
	t.Helper()
	o := f.Options()
	opt.TemplateID, opt.Env, opt.Collection = templateID, o.Env, o.Collection
	if opt.Page == "" {
		opt.Page = "pages/detail/index?id={id}"
	}
	r, err := NewReplier(newClient(t, f), opt)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func ack(id, openid string) reply.Reply {
	return reply.Reply{
		PostID: "wechat:" + id, NativeID: id, AuthorID: openid, Kind: "ack", CaseNo: "MSB-20261126-0042",
		Text: "您反映的东方城二区16栋对面广告牌强光扰民问题已转交市城市管理局办理，我们将在72小时内答复。",
	}
}

func TestReplierSendsSubscribeMessage(t *testing.T) {
	f := newFake(t, wechatfake.Options{Templates: []string{templateID}, Pages: []string{"pages/detail/index"}, RequireGrant: true})
	f.Add(map[string]any{"_id": "rec1", "_openid": "oAbCd1234xyz", "content": "广告牌强光", "createdAt": base})
	f.Grant("oAbCd1234xyz", templateID, 1)
	r := newReplier(t, f, ReplierOptions{})
	res, err := r.Send(context.Background(), ack("rec1", "oAbCd1234xyz"))
	if err != nil || res.Skipped {
		t.Fatalf("%+v, %v", res, err)
	}
	sends := f.Sends()
	if len(sends) != 1 {
		t.Fatalf("sends %+v", sends)
	}
	s := sends[0]
	if s.ToUser != "oAbCd1234xyz" || s.Page != "pages/detail/index?id=rec1" || s.State != "formal" || s.Lang != "zh_CN" {
		t.Errorf("send %+v", s)
	}
	thing := s.Data["thing1"]["value"]
	if utf8.RuneCountInString(thing) != 20 || !strings.HasSuffix(thing, "…") || !strings.HasPrefix(thing, "您反映的东方城二区") {
		t.Errorf("thing1 %q: want the text cut to 20 characters", thing)
	}
	// MSB-20261126-0042 is 17 ASCII characters: kept whole.
	if s.Data["character_string2"]["value"] != "MSB-20261126-0042" || s.Data["phrase3"]["value"] != "已受理" ||
		s.Data["time4"]["value"] != "2026年11月26日 10:00" {
		t.Errorf("data %v", s.Data)
	}
	// The only authorisation is used up: the next reply goes to the record.
	progress := ack("rec1", "oAbCd1234xyz")
	progress.Kind, progress.Text = "progress", "经查，广告牌属于违建，已责令关闭。"
	res, err = r.Send(context.Background(), progress)
	if err != nil || res.Skipped || !strings.Contains(res.Reason, "43101") {
		t.Fatalf("%+v, %v", res, err)
	}
	if len(f.Sends()) != 1 {
		t.Error("a refused message was recorded as sent")
	}
}

func TestReplierFallsBackToRecord(t *testing.T) {
	f := newFake(t, wechatfake.Options{})
	f.Add(map[string]any{"_id": "rec1", "_openid": "oRefuser", "content": "路灯", "createdAt": base})
	f.Refuse("oRefuser")
	r := newReplier(t, f, ReplierOptions{})
	rp := ack("rec1", "oRefuser")
	sent, err := r.Sent(context.Background(), rp)
	if err != nil || sent {
		t.Fatalf("Sent before sending = %v, %v", sent, err)
	}
	res, err := r.Send(context.Background(), rp)
	if err != nil || res.Skipped || res.RemoteID != "rec1" {
		t.Fatalf("%+v, %v", res, err)
	}
	rec, _ := f.Record("rec1")
	replies, _ := rec["msb_replies"].(map[string]any)
	if len(replies) != 1 {
		t.Fatalf("record %v", rec)
	}
	for k, v := range replies {
		m := v.(map[string]any)
		if !strings.HasPrefix(k, "ack_") || m["text"] != rp.Text || m["case_no"] != rp.CaseNo {
			t.Errorf("reply slot %s = %v", k, v)
		}
	}
	if sent, err := r.Sent(context.Background(), rp); err != nil || !sent {
		t.Fatalf("Sent after the fallback = %v, %v", sent, err)
	}
	// A different reply on the same record is not taken for this one.
	other := rp
	other.Kind, other.Text = "progress", "已处理"
	if sent, _ := r.Sent(context.Background(), other); sent {
		t.Error("a progress reply was reported sent")
	}
	// Sending again writes the same slot.
	if _, err := r.Send(context.Background(), rp); err != nil {
		t.Fatal(err)
	}
	rec, _ = f.Record("rec1")
	if len(rec["msb_replies"].(map[string]any)) != 1 {
		t.Errorf("retried fallback wrote another slot: %v", rec)
	}
	if len(f.Sends()) != 0 {
		t.Errorf("sends %v", f.Sends())
	}
}

func TestReplierFallbackCases(t *testing.T) {
	tests := []struct {
		name     string
		reply    func(r reply.Reply) reply.Reply
		fault    []wechatfake.Fault
		deleted  bool
		wantErr  error
		skipped  bool
		inRecord bool
	}{
		{name: "no openid", reply: func(r reply.Reply) reply.Reply { r.AuthorID = ""; return r }, inRecord: true},
		{name: "value that cannot fit its type", reply: func(r reply.Reply) reply.Reply {
			r.Fields = map[string]string{"phrase3": "正在加紧处理中"}
			return r
		}, inRecord: true},
		{name: "platform rejects a value (47003)", fault: []wechatfake.Fault{{Errcode: 47003, Errmsg: "argument invalid! data.thing1.value invalid"}}, inRecord: true},
		{name: "record deleted", reply: func(r reply.Reply) reply.Reply { r.AuthorID = ""; return r }, deleted: true, skipped: true},
		{name: "minute quota is retried later, not written", fault: wechatfake.Errcode(45011, 1), wantErr: ingest.ErrRateLimited},
		{name: "5xx is retried later", fault: []wechatfake.Fault{{Status: http.StatusBadGateway}}, wantErr: ingest.ErrTransient},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, wechatfake.Options{})
			f.Add(map[string]any{"_id": "rec1", "_openid": "oUser", "content": "路灯", "createdAt": base})
			if tt.deleted {
				f.Delete("rec1")
			}
			f.Fail("/cgi-bin/message/subscribe/send", tt.fault...)
			r := newReplier(t, f, ReplierOptions{})
			rp := ack("rec1", "oUser")
			if tt.reply != nil {
				rp = tt.reply(rp)
			}
			res, err := r.Send(context.Background(), rp)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				if len(f.Updates()) != 0 {
					t.Error("a retryable failure wrote the record")
				}
				return
			}
			if err != nil || res.Skipped != tt.skipped {
				t.Fatalf("%+v, %v", res, err)
			}
			rec, _ := f.Record("rec1")
			if _, ok := rec["msb_replies"]; ok != tt.inRecord {
				t.Errorf("record %v", rec)
			}
		})
	}
}

func TestFitValue(t *testing.T) {
	long := strings.Repeat("路灯", 15)
	tests := []struct {
		key, in, want, wantErr string
	}{
		{"thing1", "路灯不亮", "路灯不亮", ""},
		{"thing1", long, string([]rune(long)[:19]) + "…", ""},
		{"thing1", "😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀", strings.Repeat("😀", 19) + "…", ""},
		{"thing1", "  多个   空格\n换行 ", "多个 空格 换行", ""},
		{"thing1", "   ", "", "empty"},
		{"character_string2", "MSB-20261126-0042", "MSB-20261126-0042", ""},
		{"character_string2", "编号MSB1", "MSB1", ""},
		{"character_string2", "编号", "", "no ASCII"},
		{"character_string2", strings.Repeat("A", 40), strings.Repeat("A", 31) + "…", ""},
		{"phrase3", "已受理", "已受理", ""},
		{"phrase3", "正在加紧处理", "", "more than 5"},
		{"phrase3", "OK", "", "only Chinese"},
		{"number4", "12.5", "12.5", ""},
		{"number4", "12a", "", "not a number"},
		{"time5", "2026年11月26日 10:00", "2026年11月26日 10:00", ""},
		{"time5", "明天", "", "not a 24-hour"},
		{"name6", "王小明同学你好世界再见", "王小明同学你好世界…", ""},
		{"letter7", "abc123", "abc", ""},
		{"bogus8", "x", "", "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.key+"/"+tt.in, func(t *testing.T) {
			got, err := FitValue(tt.key, tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %q, %v; want error %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// Whatever FitValue lets through, the fake (which applies the reference's
// rules independently) accepts — except the "…" that a cut character_string
// ends with, which is not ASCII.
func TestFitValueAgreesWithFake(t *testing.T) {
	inputs := []string{"路灯不亮", strings.Repeat("长", 50), "MSB-1", "已受理", "2026年11月26日 10:00", "12:30", "3.14", "abcDEF"}
	for _, key := range []string{"thing1", "character_string2", "phrase3", "time4", "number5", "letter6", "name7"} {
		for _, in := range inputs {
			v, err := FitValue(key, in)
			if err != nil || strings.HasSuffix(v, "…") && key == "character_string2" {
				continue
			}
			if !wechatfake.ValidValue(key, v) {
				t.Errorf("FitValue(%s, %q) = %q, which the platform refuses", key, in, v)
			}
		}
	}
}

func TestReplierConfig(t *testing.T) {
	f := newFake(t, wechatfake.Options{})
	c := newClient(t, f)
	for name, opt := range map[string]ReplierOptions{
		"no template":     {Env: "e", Collection: "c"},
		"no collection":   {TemplateID: "t", Env: "e"},
		"bad keyword":     {TemplateID: "t", Env: "e", Collection: "c", Fields: map[string]string{"title": "text"}},
		"bad source":      {TemplateID: "t", Env: "e", Collection: "c", Fields: map[string]string{"thing1": "body"}},
		"bad reply field": {TemplateID: "t", Env: "e", Collection: "c", ReplyField: "a b"},
		"bad collection":  {TemplateID: "t", Env: "e", Collection: `c")`},
	} {
		if _, err := NewReplier(c, opt); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestClientToken(t *testing.T) {
	t.Run("cached across calls", func(t *testing.T) {
		f := newFake(t, wechatfake.Options{})
		addRecords(f, 0, 3)
		src := newSource(t, f, SourceOptions{})
		for range 5 {
			if _, err := src.Poll(context.Background(), ""); err != nil {
				t.Fatal(err)
			}
		}
		if got := f.Calls("/cgi-bin/stable_token"); got != 1 {
			t.Errorf("stable_token called %d times", got)
		}
	})
	t.Run("refused token that comes back unchanged is force-refreshed", func(t *testing.T) {
		f := newFake(t, wechatfake.Options{})
		addRecords(f, 0, 1)
		src := newSource(t, f, SourceOptions{})
		if _, err := src.Poll(context.Background(), ""); err != nil {
			t.Fatal(err)
		}
		f.Fail("/tcb/databasequery", wechatfake.Errcode(CodeInvalidCredential, 1)...)
		b, err := src.Poll(context.Background(), "")
		if err != nil || len(b.Posts) != 1 {
			t.Fatalf("%+v, %v", b, err)
		}
		if got := src.c.TokenFetches(); got != 3 {
			t.Errorf("token fetches %d, want 3 (first, normal refresh, forced)", got)
		}
	})
	t.Run("retried once only", func(t *testing.T) {
		f := newFake(t, wechatfake.Options{})
		src := newSource(t, f, SourceOptions{})
		f.Fail("/tcb/databasequery", wechatfake.Errcode(CodeTokenExpired, 2)...)
		_, err := src.Poll(context.Background(), "")
		var ae *APIError
		if !errors.Is(err, ingest.ErrAuth) || !errors.As(err, &ae) || ae.Code != CodeTokenExpired {
			t.Fatalf("err = %v", err)
		}
		if got := f.Calls("/tcb/databasequery"); got != 2 {
			t.Errorf("%d queries, want 2", got)
		}
	})
	t.Run("near-expiry token replaced before use", func(t *testing.T) {
		now := clientNow
		f := newFake(t, wechatfake.Options{Now: func() time.Time { return now }})
		o := f.Options()
		c, err := NewClient(ClientOptions{BaseURL: f.URL, AppID: o.AppID, AppSecret: o.Secret, Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		src, _ := NewSource(c, SourceOptions{Env: o.Env, Collection: o.Collection})
		if _, err := src.Poll(context.Background(), ""); err != nil {
			t.Fatal(err)
		}
		now = now.Add(7200*time.Second - 4*time.Minute) // inside the 5-minute margin
		if _, err := src.Poll(context.Background(), ""); err != nil {
			t.Fatal(err)
		}
		if c.TokenFetches() != 2 || f.Calls("/tcb/databasequery") != 2 {
			t.Errorf("token fetches %d, queries %d", c.TokenFetches(), f.Calls("/tcb/databasequery"))
		}
	})
	t.Run("network errors do not reveal the token", func(t *testing.T) {
		f := newFake(t, wechatfake.Options{})
		src := newSource(t, f, SourceOptions{})
		if _, err := src.Poll(context.Background(), ""); err != nil {
			t.Fatal(err)
		}
		f.Close()
		_, err := src.Poll(context.Background(), "")
		if !errors.Is(err, ingest.ErrTransient) || strings.Contains(err.Error(), "access_token") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestErrorClasses(t *testing.T) {
	c := &Client{opt: ClientOptions{Now: func() time.Time { return clientNow }}}
	tests := []struct {
		code int
		want string
		wait time.Duration
	}{
		{-1, "transient", 0},
		{-501002, "transient", 0},
		{45009, "rate_limited", 14*time.Hour + time.Minute},
		{45011, "rate_limited", time.Minute},
		{-501004, "rate_limited", time.Minute},
		{40125, "auth", 0},
		{40164, "auth", 0},
		{42001, "auth", 0},
		{48001, "permission", 0},
		{-502005, "permission", 0},
		{43101, "other", 0},
		{12345, "other", 0},
	}
	for _, tt := range tests {
		err := c.check("/x", envelope{ErrCode: tt.code, ErrMsg: "m rid: 1"})
		if got := ingest.Class(err); got != tt.want {
			t.Errorf("%d: class %s, want %s", tt.code, got, tt.want)
		}
		var be *ingest.BackoffError
		if errors.As(err, &be) != (tt.wait > 0) || (tt.wait > 0 && be.Wait != tt.wait) {
			t.Errorf("%d: backoff %v, want %v", tt.code, be, tt.wait)
		}
	}
}

// The demo environment works with the real source and replier: every
// submission is read once, and every citizen gets an answer, by message or,
// for the one who refuses messages, in the record.
func TestDemoEndToEnd(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d := wechatfake.Demo(ctx, wechatfake.DemoOptions{Initial: 12, Every: time.Hour, Seed: 3})
	defer d.Close()
	c, err := NewClient(ClientOptions{BaseURL: d.URL, AppID: d.AppID, AppSecret: d.Secret})
	if err != nil {
		t.Fatal(err)
	}
	src, err := NewSource(c, SourceOptions{Env: d.Env, Collection: d.Collection, MarkRead: "acked"})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := NewReplier(c, ReplierOptions{TemplateID: d.TemplateID, Page: d.Page, Env: d.Env, Collection: d.Collection})
	if err != nil {
		t.Fatal(err)
	}
	var cur ingest.Cursor
	seen := map[string]bool{}
	refused := 0
	for {
		b, err := src.Poll(ctx, cur)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range b.Posts {
			if seen[p.ID] {
				t.Fatalf("%s read twice", p.ID)
			}
			seen[p.ID] = true
			res, err := rep.Send(ctx, reply.Reply{PostID: p.ID, NativeID: p.NativeID, AuthorID: p.Author.ID, Kind: "ack", CaseNo: "MSB-20261126-0001", Text: "已转交相关部门办理"})
			if err != nil || res.Skipped {
				t.Fatalf("reply to %s: %+v, %v", p.ID, res, err)
			}
			if p.Author.ID == "oDemoRefuse000000000000000" {
				refused++
				if ok, err := rep.Sent(ctx, reply.Reply{NativeID: p.NativeID, Kind: "ack", CaseNo: "MSB-20261126-0001", Text: "已转交相关部门办理"}); err != nil || !ok {
					t.Errorf("fallback for %s not found: %v", p.ID, err)
				}
			}
		}
		cur = b.Next
		if !b.More {
			break
		}
	}
	if len(seen) != 12 || refused == 0 {
		t.Fatalf("read %d of 12 submissions, %d from the citizen who refuses messages", len(seen), refused)
	}
	if got := len(d.Sends()); got != 12-refused {
		t.Errorf("%d messages sent, want %d (%d refused)", got, 12-refused, refused)
	}
}

// A success answer that omits errcode after a refused token must not be
// read as the refusal again.
func TestClientRetryDecodesClean(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/cgi-bin/stable_token", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"access_token":"tok","expires_in":7200}`))
	})
	calls := 0
	mux.HandleFunc("/cgi-bin/message/subscribe/send", func(w http.ResponseWriter, r *http.Request) {
		calls++
		if calls == 1 {
			w.Write([]byte(`{"errcode":42001,"errmsg":"access_token expired rid: 1"}`))
			return
		}
		w.Write([]byte(`{}`))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c, err := NewClient(ClientOptions{BaseURL: srv.URL, AppID: "wx1", AppSecret: "s"})
	if err != nil {
		t.Fatal(err)
	}
	var resp envelope
	if err := c.call(context.Background(), pathSubscribe, map[string]string{}, &resp); err != nil || calls != 2 {
		t.Fatalf("err %v after %d calls", err, calls)
	}
}

// TestReplierPageNamesTheCase: replies.wechat.page with {case} opens the
// case's page in the mini-program.
func TestReplierPageNamesTheCase(t *testing.T) {
	f := newFake(t, wechatfake.Options{Templates: []string{templateID}, Pages: []string{"pages/case/index"}, RequireGrant: true})
	f.Add(map[string]any{"_id": "rec1", "_openid": "oAbCd1234xyz", "content": "广告牌强光", "createdAt": base})
	f.Grant("oAbCd1234xyz", templateID, 1)
	r := newReplier(t, f, ReplierOptions{Page: "pages/case/index?no={case}&id={id}"})
	if res, err := r.Send(context.Background(), ack("rec1", "oAbCd1234xyz")); err != nil || res.Skipped {
		t.Fatalf("%+v, %v", res, err)
	}
	sends := f.Sends()
	if len(sends) != 1 || sends[0].Page != "pages/case/index?no=MSB-20261126-0042&id=rec1" {
		t.Fatalf("sends %+v", sends)
	}
}
