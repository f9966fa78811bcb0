package ingest

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/mashangban/mashangban/model"
	"github.com/mashangban/mashangban/stream"
)

// Limits that keep one post from blocking its source: the log refuses
// messages over a megabyte, and a citizen's report is never that long.
const (
	MaxPostRunes   = 10000
	MaxPostMessage = 900 << 10
)

// DeadLetterStore keeps what a stage could not handle (the store does).
type DeadLetterStore interface {
	AddDeadLetter(ctx context.Context, d model.DeadLetter) error
}

// StoreDeadLetters adapts a DeadLetterStore to the poller's DeadLetters.
type StoreDeadLetters struct{ Store DeadLetterStore }

// AddDeadLetter records r as an ingest dead letter.
func (s StoreDeadLetters) AddDeadLetter(ctx context.Context, r Rejected) error {
	return s.Store.AddDeadLetter(ctx, model.DeadLetter{Stage: "ingest", Source: r.Source, Key: r.Key, Reason: r.Reason, Raw: r.Raw})
}

// Error categories of mashangban_errors_total{stage="ingest"}.
const (
	catDecode     = "decode"     // a post with bytes that are not UTF-8
	catLog        = "log"        // publishing to the posts log failed
	catOversize   = "oversize"   // a post cut to fit the log
	catDeadLetter = "deadletter" // recording a dead letter failed
)

// LogPublisher puts polled posts on the posts log, keyed by post ID. It is
// the Publisher of every poller.
type LogPublisher struct {
	log    stream.Log
	dead   DeadLetterStore
	logger *slog.Logger
	errors *prometheus.CounterVec
	// published is called with the number of posts each successful Publish
	// put on the log.
	published func(n int)
}

// NewLogPublisher builds the publisher; published may be nil.
func NewLogPublisher(log stream.Log, dead DeadLetterStore, logger *slog.Logger, reg prometheus.Registerer, published func(n int)) *LogPublisher {
	return &LogPublisher{
		log:       log,
		dead:      dead,
		logger:    logger.With("component", "ingest"),
		errors:    stream.NewStageErrors(promauto.With(reg), "ingest"),
		published: published,
	}
}

// PublishPosts encodes posts and publishes them in one call: either all are
// durable on the log or the poller tries again.
func (p *LogPublisher) PublishPosts(ctx context.Context, posts []model.Post) error {
	msgs := make([]stream.Message, 0, len(posts))
	for _, post := range posts {
		b, err := p.encode(ctx, post)
		if err != nil {
			return err
		}
		msgs = append(msgs, stream.Message{Key: []byte(post.ID), Value: b})
	}
	if err := p.log.Publish(ctx, stream.TopicPosts, msgs...); err != nil {
		p.errors.WithLabelValues(catLog).Inc()
		return err
	}
	if p.published != nil {
		p.published(len(msgs))
	}
	return nil
}

// encode turns a post into its log message. A post over MaxPostRunes
// characters is cut to that length, and the whole post is kept as a dead
// letter (stage "ingest", reason "truncated"), so nothing is lost and the
// post still becomes a case; a message still too large drops the platform's
// raw body, which the dead letter keeps too.
func (p *LogPublisher) encode(ctx context.Context, post model.Post) ([]byte, error) {
	if !utf8.ValidString(post.Text) || !utf8.ValidString(post.Author.Name) || (len(post.Raw) > 0 && !utf8.Valid(post.Raw)) {
		// The platform sent bytes that are not UTF-8: keep what can be read
		// and mark the rest, so the post still reaches a person.
		p.logger.Warn("post has invalid UTF-8; replaced with U+FFFD", "post_id", post.ID)
		p.errors.WithLabelValues(catDecode).Inc()
		post.Text = strings.ToValidUTF8(post.Text, "\uFFFD")
		post.Author.Name = strings.ToValidUTF8(post.Author.Name, "\uFFFD")
		if len(post.Raw) > 0 && !utf8.Valid(post.Raw) {
			post.Raw = json.RawMessage(strings.ToValidUTF8(string(post.Raw), "\uFFFD"))
		}
	}
	b, err := json.Marshal(post)
	if err != nil && len(post.Raw) > 0 {
		// A raw body that is not JSON cannot ride along; the post can.
		p.logger.Warn("post's raw body is not JSON; dropped from the log message", "post_id", post.ID, "error", err)
		post.Raw = nil
		b, err = json.Marshal(post)
	}
	if err != nil {
		return nil, fmt.Errorf("encode post %s: %w", post.ID, err)
	}
	n := utf8.RuneCountInString(post.Text)
	if n <= MaxPostRunes && len(b) <= MaxPostMessage {
		return b, nil
	}
	reason := fmt.Sprintf("post too large for the log (%d characters, %d bytes): cut to %d characters without its raw body; the whole post is this record", n, len(b), MaxPostRunes)
	if err := p.dead.AddDeadLetter(ctx, model.DeadLetter{Stage: "ingest", Source: post.Source, Key: post.ID, Reason: reason, Raw: b}); err != nil {
		p.errors.WithLabelValues(catDeadLetter).Inc()
		return nil, fmt.Errorf("record the whole of oversized post %s: %w", post.ID, err)
	}
	p.errors.WithLabelValues(catOversize).Inc()
	p.logger.Warn("post cut to fit the log", "post_id", post.ID, "characters", n, "bytes", len(b))
	if n > MaxPostRunes {
		post.Text = string([]rune(post.Text)[:MaxPostRunes]) + "…"
	}
	post.Raw = nil
	if b, err = json.Marshal(post); err != nil {
		return nil, fmt.Errorf("encode post %s: %w", post.ID, err)
	}
	return b, nil
}
