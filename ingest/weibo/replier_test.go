package weibo

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mashangban/mashangban/ingest"
	"github.com/mashangban/mashangban/ingest/weibo/weibofake"
	"github.com/mashangban/mashangban/model"
	"github.com/mashangban/mashangban/reply"
)

func newReplierPair(t *testing.T, clk *clock, fo weibofake.OpenOptions, ro ReplierOptions) (*weibofake.Open, *Replier, []weibofake.Post) {
	t.Helper()
	fo.Now = clk.Now
	fo.Token = testToken
	fake := weibofake.NewOpen(fo)
	t.Cleanup(fake.Close)
	ro.BaseURL = fake.URL
	ro.AccessToken = testToken
	ro.Now = clk.Now
	r, err := NewReplier(ro)
	if err != nil {
		t.Fatal(err)
	}
	posts, _ := bigPosts(11, clk.Now(), 3, true)
	fake.Add(posts...)
	return fake, r, posts
}

func commentReply(p weibofake.Post, text string) reply.Reply {
	id := strconv.FormatInt(p.ID, 10)
	return reply.Reply{PostID: model.PostID(model.ChannelWeibo, id), NativeID: id, Kind: "ack", CaseNo: "MSB-20261126-0042", Text: text}
}

func TestReplierSend(t *testing.T) {
	clk := newClock()
	fake, r, posts := newReplierPair(t, clk, weibofake.OpenOptions{RequireRIP: true}, ReplierOptions{RIP: "203.0.113.7", AccountUID: "1404376560"})
	ack := "您反映的问题已转交市城管局办理，编号MSB-20261126-0042，我们将在72小时内答复。#马上办#"
	res, err := r.Send(context.Background(), commentReply(posts[0], ack))
	if err != nil || res.Skipped || res.RemoteID == "" {
		t.Fatalf("send: %+v %v", res, err)
	}
	cs := fake.Comments()
	if len(cs) != 1 || cs[0].PostID != posts[0].ID || cs[0].RIP != "203.0.113.7" || strings.Contains(cs[0].Text, "#") ||
		strconv.FormatInt(cs[0].ID, 10) != res.RemoteID {
		t.Fatalf("comments %+v", cs)
	}
	sent, err := r.Sent(context.Background(), commentReply(posts[0], ack))
	if err != nil || !sent {
		t.Errorf("Sent after send = %v, %v", sent, err)
	}
	if sent, err := r.Sent(context.Background(), commentReply(posts[1], ack)); err != nil || sent {
		t.Errorf("Sent on another post = %v, %v", sent, err)
	}

	// Too long for a comment: cut to 140 units and accepted.
	long := strings.Repeat("您的诉求已收到，", 30) + "编号MSB-9"
	res, err = r.Send(context.Background(), commentReply(posts[1], long))
	if err != nil || res.Skipped {
		t.Fatalf("long: %+v %v", res, err)
	}
	if got := fake.Comments()[1].Text; reply.WeiboLength(got) > 140 || !strings.HasSuffix(got, "…") {
		t.Errorf("long comment %q", got)
	}
}

func TestReplierRecoveredAttempt(t *testing.T) {
	clk := newClock()
	fake, r, posts := newReplierPair(t, clk, weibofake.OpenOptions{}, ReplierOptions{})
	rep := commentReply(posts[0], "您的诉求已收到，编号MSB-20261126-0001。")
	// The platform took the comment but the answer was lost.
	fake.Inject(weibofake.FaultCommitThen502)
	if _, err := r.Send(context.Background(), rep); !errors.Is(err, ingest.ErrTransient) {
		t.Fatalf("interrupted send: %v", err)
	}
	// The outbox checks before resending.
	sent, err := r.Sent(context.Background(), rep)
	if err != nil || !sent {
		t.Fatalf("Sent after interrupted attempt = %v, %v", sent, err)
	}
	// A blind resend is refused as repeat content, and recognised as done.
	res, err := r.Send(context.Background(), rep)
	if err != nil || res.Skipped || res.RemoteID != strconv.FormatInt(fake.Comments()[0].ID, 10) {
		t.Fatalf("resend: %+v %v", res, err)
	}
	if n := len(fake.Comments()); n != 1 {
		t.Errorf("%d comments on the post, want 1", n)
	}
}

func TestReplierRefusals(t *testing.T) {
	tests := []struct {
		name     string
		fake     weibofake.OpenOptions
		setup    func(f *weibofake.Open, r *Replier, posts []weibofake.Post)
		text     string
		skipped  string // reason prefix, "" if not skipped
		class    string // error class, "" if none
		wait     time.Duration
		comments int
	}{
		{name: "post deleted", setup: func(f *weibofake.Open, _ *Replier, p []weibofake.Post) { f.Delete(p[0].ID) },
			skipped: "post deleted"},
		{name: "same text already on another post", setup: func(f *weibofake.Open, r *Replier, p []weibofake.Post) {
			if _, err := r.Send(context.Background(), commentReply(p[1], "已收到")); err != nil {
				panic(err)
			}
		}, text: "已收到", skipped: "repeat content", comments: 1},
		{name: "comments quota", fake: weibofake.OpenOptions{HourlyComments: 1}, setup: func(f *weibofake.Open, r *Replier, p []weibofake.Post) {
			if _, err := r.Send(context.Background(), commentReply(p[1], "第一条")); err != nil {
				panic(err)
			}
		}, class: "rate_limited", wait: 12*time.Minute + 30*time.Second, comments: 1},
		{name: "ip limit", setup: func(f *weibofake.Open, _ *Replier, _ []weibofake.Post) { f.Inject(weibofake.FaultIPLimit) },
			class: "rate_limited", wait: 12*time.Minute + 30*time.Second},
		{name: "expired token", setup: func(f *weibofake.Open, _ *Replier, _ []weibofake.Post) { f.ExpireToken() }, class: "auth"},
		{name: "system error", setup: func(f *weibofake.Open, _ *Replier, _ []weibofake.Post) { f.Inject(weibofake.FaultSystemError) }, class: "transient"},
		{name: "empty text", text: " ", skipped: "refused: Content is null"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock()
			fake, r, posts := newReplierPair(t, clk, tt.fake, ReplierOptions{})
			if tt.setup != nil {
				tt.setup(fake, r, posts)
			}
			text := tt.text
			if text == "" {
				text = "您的诉求已收到，编号MSB-20261126-0042。"
			}
			res, err := r.Send(context.Background(), commentReply(posts[0], text))
			if got := ingest.Class(err); got != tt.class {
				t.Errorf("class %q want %q (%v)", got, tt.class, err)
			}
			if tt.skipped != "" && (!res.Skipped || !strings.HasPrefix(res.Reason, tt.skipped)) {
				t.Errorf("result %+v, want skipped %q", res, tt.skipped)
			}
			if tt.skipped == "" && res.Skipped {
				t.Errorf("unexpected skip %+v", res)
			}
			var be *ingest.BackoffError
			if tt.wait != 0 && (!errors.As(err, &be) || be.Wait != tt.wait) {
				t.Errorf("wait: %v, want %v", err, tt.wait)
			}
			if n := len(fake.Comments()); n != tt.comments {
				t.Errorf("%d comments, want %d", n, tt.comments)
			}
			if err != nil && strings.Contains(err.Error(), testToken) {
				t.Errorf("token leaked: %v", err)
			}
		})
	}
}

func TestReplierSentOnDeletedPost(t *testing.T) {
	clk := newClock()
	fake, r, posts := newReplierPair(t, clk, weibofake.OpenOptions{}, ReplierOptions{})
	fake.Delete(posts[0].ID)
	if sent, err := r.Sent(context.Background(), commentReply(posts[0], "x")); sent || err != nil {
		t.Errorf("Sent on deleted post = %v, %v", sent, err)
	}
}
