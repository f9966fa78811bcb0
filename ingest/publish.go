package ingest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"

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
// durable on the log or the poller tries again. A post that cannot be put on
// the log at all (an ID over MaxIDBytes) is a dead letter instead and the
// others go on.
func (p *LogPublisher) PublishPosts(ctx context.Context, posts []model.Post) error {
	msgs := make([]stream.Message, 0, len(posts))
	for _, post := range posts {
		key, b, err := p.encode(ctx, post)
		if err != nil {
			return err
		}
		if b == nil {
			continue
		}
		msgs = append(msgs, stream.Message{Key: []byte(key), Value: b})
	}
	if len(msgs) == 0 {
		return nil
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

// encode turns a post into its log message and key. Every field is made
// storable and bounded first (Clean): NUL and invalid UTF-8 are cleaned, a
// text over MaxPostRunes characters, a long author name, too many or too
// long image URLs and the like are cut, and a message still over
// MaxPostMessage drops the platform's raw body. When anything was cut, the
// post as the source returned it is kept as a dead letter (stage "ingest",
// the post's ID, a reason naming the cut fields), so nothing is lost and
// the post still becomes a case. A post that cannot be made to fit is only
// a dead letter: encode returns a nil message for it.
func (p *LogPublisher) encode(ctx context.Context, post model.Post) (string, []byte, error) {
	orig := post
	post, cleaned, unfit := Clean(post)
	if cleaned {
		// The platform sent bytes that are not UTF-8, or NULs: keep what can
		// be read and mark the rest, so the post still reaches a person.
		p.logger.Warn("post has invalid UTF-8 or NUL bytes; cleaned", "post_id", post.ID)
		p.errors.WithLabelValues(catDecode).Inc()
	}
	if unfit != nil {
		if err := p.keepWhole(ctx, orig, post, "post cannot be put on the posts log: "+unfit.Error()); err != nil {
			return "", nil, err
		}
		p.errors.WithLabelValues(catOversize).Inc()
		p.logger.Warn("post dead-lettered: it cannot be put on the posts log", "post_id", post.ID, "reason", unfit.Error())
		return "", nil, nil
	}
	b, err := json.Marshal(post)
	if err != nil && len(post.Raw) > 0 {
		// A raw body that is not JSON cannot ride along; the post can.
		p.logger.Warn("post's raw body is not JSON; dropped from the log message", "post_id", post.ID, "error", err)
		post.Raw = nil
		b, err = json.Marshal(post)
	}
	if err != nil {
		return "", nil, fmt.Errorf("encode post %s: %w", post.ID, err)
	}
	if len(b) > MaxPostMessage {
		post.Raw = nil
		post.Cut = append(post.Cut, "raw")
		if b, err = json.Marshal(post); err != nil {
			return "", nil, fmt.Errorf("encode post %s: %w", post.ID, err)
		}
	}
	if len(post.Cut) == 0 {
		return post.ID, b, nil
	}
	reason := fmt.Sprintf("post too large for the log: %s cut to fit; the whole post is this record", strings.Join(post.Cut, ", "))
	if err := p.keepWhole(ctx, orig, post, reason); err != nil {
		return "", nil, err
	}
	p.errors.WithLabelValues(catOversize).Inc()
	p.logger.Warn("post cut to fit the log", "post_id", post.ID, "cut", strings.Join(post.Cut, ","), "bytes", len(b))
	return post.ID, b, nil
}

// keepWhole records orig, the post as its source returned it, as an ingest
// dead letter keyed by the cleaned post's ID.
func (p *LogPublisher) keepWhole(ctx context.Context, orig, post model.Post, reason string) error {
	whole, err := json.Marshal(orig)
	if err != nil {
		// NaN coordinates or a raw body that is not JSON: keep the rest.
		orig.Geo, orig.Raw = nil, nil
		if whole, err = json.Marshal(orig); err != nil {
			whole = nil
		}
	}
	key := post.ID
	if len(key) > MaxIDBytes {
		// Long IDs that share a prefix stay apart.
		sum := sha256.Sum256([]byte(key))
		key = cutBytes(key, MaxIDBytes-20) + "…" + hex.EncodeToString(sum[:8])
	}
	if err := p.dead.AddDeadLetter(ctx, model.DeadLetter{Stage: "ingest", Source: post.Source, Key: key, Reason: reason, Raw: whole}); err != nil {
		p.errors.WithLabelValues(catDeadLetter).Inc()
		return fmt.Errorf("record the whole of post %s: %w", key, err)
	}
	return nil
}
