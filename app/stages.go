package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mashangban/mashangban/dispatch"
	"github.com/mashangban/mashangban/ingest"
	"github.com/mashangban/mashangban/model"
	"github.com/mashangban/mashangban/store"
	"github.com/mashangban/mashangban/stream"
)

// handlePost is the classify stage: a post from the posts log becomes a
// decision on the decisions log. A message that is not a post is a dead
// letter, not an error: redelivering it would never succeed.
func (a *App) handlePost(ctx context.Context, m stream.Message) error {
	start := time.Now()
	var p model.Post
	if err := decodeStrict(m.Value, &p); err != nil || p.ID == "" {
		if err == nil {
			err = errors.New("post has no id")
		}
		a.metrics.errors.WithLabelValues("classify", catDecode).Inc()
		return a.deadLetter(ctx, "classify", string(m.Key), "undecodable post: "+err.Error(), m.Value)
	}
	a.metrics.postsIn.Inc()
	dec := a.rules.Classify(ctx, p)
	b, err := json.Marshal(dec)
	if err == nil && len(b) > maxPostMessage {
		// The post's raw body stays on the posts log; the decision must fit
		// the decisions log.
		dec.Post.Raw = nil
		b, err = json.Marshal(dec)
	}
	if err != nil {
		return fmt.Errorf("encode decision for %s: %w", p.ID, err)
	}
	if err := a.log.Publish(ctx, stream.TopicDecisions, stream.Message{Key: []byte(dec.DistrictKey()), Value: b}); err != nil {
		a.metrics.errors.WithLabelValues("classify", catLog).Inc()
		return fmt.Errorf("publish decision for %s: %w", p.ID, err)
	}
	outcome := "routed"
	if dec.Triage {
		outcome = "triage"
	}
	a.metrics.decisions.WithLabelValues(outcome).Inc()
	a.metrics.latency.WithLabelValues("classify").Observe(time.Since(start).Seconds())
	a.decisionsPublished.Add(1)
	a.postsDone.Add(1)
	a.logger.Debug("classified", "post_id", p.ID, "outcome", outcome, "district", dec.DistrictKey(), "rule_set", dec.RuleSetVersion)
	return nil
}

// handleDecision is the dispatch stage. Dispatcher.Handle is idempotent by
// post ID, so a redelivered decision changes nothing; an error leaves the
// offset uncommitted and the decision is delivered again.
func (a *App) handleDecision(ctx context.Context, m stream.Message) error {
	start := time.Now()
	var d model.Decision
	if err := decodeStrict(m.Value, &d); err != nil || d.Post.ID == "" {
		if err == nil {
			err = errors.New("decision has no post id")
		}
		a.metrics.errors.WithLabelValues("dispatch", catDecode).Inc()
		return a.deadLetter(ctx, "dispatch", string(m.Key), "undecodable decision: "+err.Error(), m.Value)
	}
	if err := a.disp.Handle(ctx, d); err != nil {
		a.metrics.errors.WithLabelValues("dispatch", catDispatch).Inc()
		if errors.Is(err, dispatch.ErrInvalid) {
			// It would fail the same way forever: record it and go on.
			return a.deadLetter(ctx, "dispatch", d.Post.ID, err.Error(), m.Value)
		}
		return fmt.Errorf("dispatch %s: %w", d.Post.ID, err)
	}
	a.metrics.cases.WithLabelValues("committed").Inc()
	a.metrics.latency.WithLabelValues("dispatch").Observe(time.Since(start).Seconds())
	a.decisionsDone.Add(1)
	return nil
}

func (a *App) deadLetter(ctx context.Context, stage, key, reason string, raw []byte) error {
	err := a.store.AddDeadLetter(ctx, store.DeadLetter{Stage: stage, Key: key, Reason: reason, Raw: raw})
	if err != nil {
		a.metrics.errors.WithLabelValues(stage, catDeadLetter).Inc()
		return fmt.Errorf("record dead letter: %w", err)
	}
	a.logger.Warn("dead letter", "stage", stage, "key", key, "reason", reason)
	return nil
}

// decodeStrict decodes a message from a log. Invalid UTF-8 inside strings
// becomes U+FFFD (publishers already clean the text they write; a message
// from another producer is read as well as it can be, not thrown away).
func decodeStrict(b []byte, v any) error {
	return json.Unmarshal(b, v)
}

// postPublisher puts polled posts on the posts log, keyed by post ID.
type postPublisher struct{ a *App }

func (p postPublisher) PublishPosts(ctx context.Context, posts []model.Post) error {
	msgs := make([]stream.Message, 0, len(posts))
	for _, post := range posts {
		b, err := p.encode(ctx, post)
		if err != nil {
			return err
		}
		msgs = append(msgs, stream.Message{Key: []byte(post.ID), Value: b})
	}
	if err := p.a.log.Publish(ctx, stream.TopicPosts, msgs...); err != nil {
		p.a.metrics.errors.WithLabelValues("ingest", catLog).Inc()
		return err
	}
	p.a.postsPublished.Add(int64(len(msgs)))
	return nil
}

// Limits that keep one post from blocking its source: the log refuses
// messages over a megabyte, and a citizen's report is never that long.
const (
	maxPostRunes   = 10000
	maxPostMessage = 900 << 10
)

// encode turns a post into its log message. A post over maxPostRunes
// characters is cut to that length, and the whole post is kept as a dead
// letter (stage "ingest", reason "truncated"), so nothing is lost and the
// post still becomes a case; a message still too large drops the platform's
// raw body, which the dead letter keeps too.
func (p postPublisher) encode(ctx context.Context, post model.Post) ([]byte, error) {
	if !utf8.ValidString(post.Text) || !utf8.ValidString(post.Author.Name) || (len(post.Raw) > 0 && !utf8.Valid(post.Raw)) {
		// The platform sent bytes that are not UTF-8: keep what can be read
		// and mark the rest, so the post still reaches a person.
		p.a.logger.Warn("post has invalid UTF-8; replaced with U+FFFD", "post_id", post.ID)
		p.a.metrics.errors.WithLabelValues("ingest", catDecode).Inc()
		post.Text = strings.ToValidUTF8(post.Text, "\uFFFD")
		post.Author.Name = strings.ToValidUTF8(post.Author.Name, "\uFFFD")
		if len(post.Raw) > 0 && !utf8.Valid(post.Raw) {
			post.Raw = json.RawMessage(strings.ToValidUTF8(string(post.Raw), "\uFFFD"))
		}
	}
	b, err := json.Marshal(post)
	if err != nil && len(post.Raw) > 0 {
		// A raw body that is not JSON cannot ride along; the post can.
		p.a.logger.Warn("post's raw body is not JSON; dropped from the log message", "post_id", post.ID, "error", err)
		post.Raw = nil
		b, err = json.Marshal(post)
	}
	if err != nil {
		return nil, fmt.Errorf("encode post %s: %w", post.ID, err)
	}
	n := utf8.RuneCountInString(post.Text)
	if n <= maxPostRunes && len(b) <= maxPostMessage {
		return b, nil
	}
	reason := fmt.Sprintf("post too large for the log (%d characters, %d bytes): cut to %d characters without its raw body; the whole post is this record", n, len(b), maxPostRunes)
	if err := p.a.store.AddDeadLetter(ctx, store.DeadLetter{Stage: "ingest", Source: post.Source, Key: post.ID, Reason: reason, Raw: b}); err != nil {
		p.a.metrics.errors.WithLabelValues("ingest", catDeadLetter).Inc()
		return nil, fmt.Errorf("record the whole of oversized post %s: %w", post.ID, err)
	}
	p.a.metrics.errors.WithLabelValues("ingest", catOversize).Inc()
	p.a.logger.Warn("post cut to fit the log", "post_id", post.ID, "characters", n, "bytes", len(b))
	if n > maxPostRunes {
		post.Text = string([]rune(post.Text)[:maxPostRunes]) + "…"
	}
	post.Raw = nil
	if b, err = json.Marshal(post); err != nil {
		return nil, fmt.Errorf("encode post %s: %w", post.ID, err)
	}
	return b, nil
}

// cursorStore adapts the store's cursors to the poller.
type cursorStore struct{ st *store.Store }

func (c cursorStore) Cursor(ctx context.Context, source string) (string, string, error) {
	q, cur, err := c.st.Cursor(ctx, source)
	if errors.Is(err, store.ErrNotFound) {
		return "", "", ingest.ErrNoCursor
	}
	return q, cur, err
}

func (c cursorStore) SaveCursor(ctx context.Context, source, query, cursor string) error {
	return c.st.SaveCursor(ctx, source, query, cursor)
}

// deadLetters records what a source could not parse.
type deadLetters struct{ a *App }

func (d deadLetters) AddDeadLetter(ctx context.Context, r ingest.Rejected) error {
	err := d.a.store.AddDeadLetter(ctx, store.DeadLetter{Stage: "ingest", Source: r.Source, Key: r.Key, Reason: r.Reason, Raw: r.Raw})
	if err != nil {
		d.a.metrics.errors.WithLabelValues("ingest", catDeadLetter).Inc()
	}
	return err
}
