package notify_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/mashangban/mashangban/ingest"
	"github.com/mashangban/mashangban/notify"
	"github.com/mashangban/mashangban/notify/wecomfake"
)

func message(text string) notify.Message {
	dl := time.Date(2026, 11, 27, 1, 0, 0, 0, time.UTC)
	return notify.Message{Kind: "yellow", CaseNo: "MSB-20261126-0001", Card: "yellow", Deadline: &dl, Key: "notice:1:yellow:1",
		Department: notify.Department{ID: "huashan.cgj", Name: "花山区城市管理局"}, Title: "【马上办】黄牌警示", Text: text}
}

func TestWeComThroughFakeRobot(t *testing.T) {
	now := time.Date(2026, 11, 26, 1, 0, 0, 0, time.UTC)
	robot := (&wecomfake.Robot{Keys: map[string]bool{"k1": true}, Now: func() time.Time { return now }, PerMinute: 3}).Start()
	defer robot.Close()
	ctx := context.Background()
	c := notify.Client{}
	long := strings.Repeat("路灯坏了很久没人修，", 600) // about 18,000 bytes
	for _, tc := range []struct {
		name    string
		target  notify.Target
		msg     notify.Message
		class   error // nil: accepted
		msgType string
		limit   int
	}{
		{"markdown", notify.Target{URL: robot.URL("k1"), Format: notify.FormatWeCom}, message("花山区城市管理局：办件未在11月27日09:00前签收，亮黄牌。"), nil, "markdown", notify.WeComMarkdownLimit},
		{"markdown cut to 4096 bytes", notify.Target{URL: robot.URL("k1"), Format: notify.FormatWeCom}, message(long), nil, "markdown", notify.WeComMarkdownLimit},
		{"text cut to 2048 bytes", notify.Target{URL: robot.URL("k1"), Format: notify.FormatWeCom, MentionedMobiles: []string{"13800000000"}}, message(long), nil, "text", notify.WeComTextLimit},
		{"rate limited", notify.Target{URL: robot.URL("k1"), Format: notify.FormatWeCom}, message("x"), ingest.ErrRateLimited, "", 0},
		{"invalid key", notify.Target{URL: robot.URL("secret-key-42"), Format: notify.FormatWeCom}, message("x"), ingest.ErrAuth, "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(robot.Accepted())
			err := c.Send(ctx, tc.target, tc.msg)
			if tc.class == nil {
				if err != nil {
					t.Fatal(err)
				}
				got := robot.Accepted()
				if len(got) != before+1 {
					t.Fatalf("robot accepted %d, want %d", len(got), before+1)
				}
				m := got[len(got)-1]
				if m.MsgType != tc.msgType || len(m.Content) > tc.limit || !utf8.ValidString(m.Content) ||
					!strings.Contains(m.Content, "花山区城市管理局") || m.IdempotencyKey != tc.msg.Key {
					t.Errorf("accepted %s of %d bytes: %.200q", m.MsgType, len(m.Content), m.Content)
				}
				return
			}
			if !errors.Is(err, tc.class) {
				t.Fatalf("error %v, want %v", err, tc.class)
			}
			if strings.Contains(err.Error(), "secret-key-42") {
				t.Errorf("error shows the webhook key: %v", err)
			}
		})
	}
	var be *ingest.BackoffError
	if err := c.Send(ctx, notify.Target{URL: robot.URL("k1"), Format: notify.FormatWeCom}, message("x")); !errors.As(err, &be) || be.Wait <= 0 {
		t.Errorf("rate limit answer = %v, want a BackoffError with a wait", err)
	}
	if got := robot.Refused(); len(got) != 3 || got[0] != 45009 || got[1] != 93000 || got[2] != 45009 {
		t.Errorf("robot refused %v", got)
	}
}

func TestFakeRobotChecksBodies(t *testing.T) {
	robot := (&wecomfake.Robot{Keys: map[string]bool{"k": true}}).Start()
	defer robot.Close()
	for _, tc := range []struct {
		body    string
		errcode string
	}{
		{`{"text":{"content":"x"}}`, `"errcode":40008`},
		{`{"msgtype":"image","image":{}}`, `"errcode":40008`},
		{`{"msgtype":"markdown","markdown":{"content":""}}`, `"errcode":44004`},
		{`{"msgtype":"text","text":{"content":"` + strings.Repeat("长", 700) + `"}}`, `"errcode":45002`},
		{`{"msgtype":"markdown","markdown":{"content":"` + strings.Repeat("长", 1400) + `"}}`, `"errcode":45002`},
		{`{"msgtype":"text","text":{"content":"ok"}}`, `"errcode":0`},
	} {
		resp, err := http.Post(robot.URL("k"), "application/json", strings.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		buf := make([]byte, 512)
		n, _ := resp.Body.Read(buf)
		b.Write(buf[:n])
		resp.Body.Close()
		if !strings.Contains(b.String(), tc.errcode) {
			t.Errorf("%.60s: answer %s, want %s", tc.body, b.String(), tc.errcode)
		}
	}
}

func TestSendErrorClasses(t *testing.T) {
	ctx := context.Background()
	// Nothing listens: the request never left, so it may be sent again.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	err = notify.Client{}.Send(ctx, notify.Target{URL: "http://" + addr + "/hook?key=secret-key-42", Format: notify.FormatJSON}, message("x"))
	if !errors.Is(err, ingest.ErrTransient) || strings.Contains(err.Error(), "secret-key-42") {
		t.Errorf("refused connection: %v, want transient without the key", err)
	}
	// An unknown format is refused before anything is sent.
	if err := (notify.Client{}).Send(ctx, notify.Target{URL: "http://" + addr, Format: "xml"}, message("x")); !errors.Is(err, ingest.ErrMalformed) {
		t.Errorf("unknown format: %v", err)
	}
	if s := (notify.Target{URL: "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=secret-key-42", Format: "wecom"}).String(); strings.Contains(s, "secret-key-42") {
		t.Errorf("target prints its key: %s", s)
	}
}
