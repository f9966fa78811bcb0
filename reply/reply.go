// Package reply owns what mashangban says to citizens: the Reply a channel
// sends, the Replier interface each platform adapter implements
// (ingest/weibo, ingest/wechat, the dispatcher's log replier), and the one
// template set every reply text comes from, with each channel's limits
// enforced where the text is made (texts.go).
//
// It is not for deciding when a reply is sent (the dispatcher's outbox does)
// nor for talking to a platform (the adapters do).
package reply

import (
	"context"
	"errors"

	"github.com/mashangban/mashangban/model"
)

// Reply is a message to a citizen about their post.
type Reply struct {
	PostID   string // global post ID
	NativeID string // platform's post/record ID
	AuthorID string // Weibo uid or WeChat openid
	Kind     string // "ack", "progress"
	CaseNo   string
	Text     string
	// Fields are template fields for channels that send structured messages
	// (WeChat subscribe messages); keys are the template's field names.
	Fields map[string]string
}

// Replier sends replies on one channel. Send must be safe to call again for
// the same reply after an error: implementations use Sent to check whether
// an earlier, interrupted attempt went through.
type Replier interface {
	Channel() model.Channel
	Send(ctx context.Context, r Reply) (SendResult, error)
	// Sent reports whether a reply for r was already delivered (for example a
	// comment with the same text on the post). It returns false when the
	// platform cannot tell.
	Sent(ctx context.Context, r Reply) (bool, error)
}

// SendResult says what happened to a reply that did not fail.
type SendResult struct {
	// Skipped is set when the platform refuses the reply for good (the post
	// was deleted); Reason says why.
	Skipped bool
	Reason  string
	// RemoteID is the platform's ID of the reply, when it gives one.
	RemoteID string
}

// ErrGone is the error class of a post or record that no longer exists on
// its platform: a reply to it can never be delivered, and a source skips
// it. ingest.Class reports it as "gone".
var ErrGone = errors.New("gone")
