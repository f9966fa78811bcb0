// Package ingest pulls citizen posts from the platforms into the posts log.
//
// A Source knows one platform's API (ingest/weibo, ingest/wechat,
// ingest/replay); the Poller runs one loop per configured source: interval
// with jitter, the platform's rate limit, backoff by error class, and the
// cursor saved only after the posts are durably on the posts log.
//
// It is not for classifying or replying: platform adapters also implement
// reply.Replier, but the dispatcher's outbox decides when a reply is sent.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mashangban/mashangban/model"
	"github.com/mashangban/mashangban/reply"
)

// Cursor is a source's opaque resume point, saved in the store after the
// posts it covers are on the posts log. The empty cursor means "from the start"
// (each source documents how far back that is).
type Cursor string

// Batch is what one Poll returned.
type Batch struct {
	Posts []model.Post
	// Next is the cursor to save once Posts are durable.
	Next Cursor
	// More is true when the source has more to give right away (the poller
	// polls again without waiting for the interval).
	More bool
	// Rejected are items the source could not parse; they go to the dead
	// letters with their raw body and reason, and polling goes on.
	Rejected []Rejected
	// Duplicates counts items the source dropped because it had already
	// returned them (pages that repeat or reorder); it feeds a metric only.
	Duplicates int
}

// Rejected is an item a source could not turn into a post.
type Rejected struct {
	Source string
	Key    string // the platform's ID if known
	Reason string
	Raw    []byte
}

// Source is one platform's poll API.
type Source interface {
	// Name is the configured source name, e.g. "weibo-mobile".
	Name() string
	// Query identifies what the source reads (topic, collection): a change of
	// query resets the saved cursor instead of skipping posts.
	Query() string
	Poll(ctx context.Context, cur Cursor) (Batch, error)
}

// Error classes: every platform error is wrapped so that errors.Is matches
// one of these or reply.ErrGone (the post was deleted); the class is also
// the "category" label of error metrics.
var (
	ErrRateLimited = errors.New("rate limited")
	ErrTransient   = errors.New("transient error")
	ErrAuth        = errors.New("authentication failed")
	ErrPermission  = errors.New("permission denied")
	ErrMalformed   = errors.New("malformed response")
)

// MaxResponseBytes bounds the body a platform client reads from one answer
// (after gzip decoding). A larger answer is refused as malformed without
// being read further: the poll fails, and the next poll tries again.
const MaxResponseBytes = 16 << 20

// ErrNoCursor is returned by a CursorStore that holds no cursor for a source.
var ErrNoCursor = errors.New("no saved cursor")

// MalformedError is a platform answer that could not be understood as a
// whole (a truncated or non-JSON body). It carries the raw body so that the
// poller can keep it as a dead letter. It matches ErrMalformed.
type MalformedError struct {
	Reason string
	Raw    []byte
}

func (e *MalformedError) Error() string { return "malformed response: " + e.Reason }

func (e *MalformedError) Unwrap() error { return ErrMalformed }

// BackoffError carries how long the platform asked us to wait.
type BackoffError struct {
	Wait  time.Duration
	Cause error // wraps one of the Err* classes
}

func (e *BackoffError) Error() string {
	return fmt.Sprintf("%v (wait %s)", e.Cause, e.Wait)
}

func (e *BackoffError) Unwrap() error { return e.Cause }

// Class returns the metric label for err: "rate_limited", "transient",
// "auth", "permission", "malformed", "gone" or "other".
func Class(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrRateLimited):
		return "rate_limited"
	case errors.Is(err, ErrTransient):
		return "transient"
	case errors.Is(err, ErrAuth):
		return "auth"
	case errors.Is(err, ErrPermission):
		return "permission"
	case errors.Is(err, ErrMalformed):
		return "malformed"
	case errors.Is(err, reply.ErrGone):
		return "gone"
	}
	return "other"
}
