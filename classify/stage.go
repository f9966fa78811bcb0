package classify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/mashangban/mashangban/model"
	"github.com/mashangban/mashangban/stream"
)

// MaxDecisionMessage bounds a decision on the decisions log, well under the
// log's one-megabyte message limit.
const MaxDecisionMessage = 900 << 10

// DeadLetters records input a stage will never be able to handle.
type DeadLetters interface {
	AddDeadLetter(ctx context.Context, d model.DeadLetter) error
}

// Stage is the classify stage: it reads posts from the posts log and
// publishes one decision per post on the decisions log, keyed by district.
type Stage struct {
	m       *Manager
	log     stream.Log
	dead    DeadLetters
	logger  *slog.Logger
	metrics stageMetrics
	// done is called once per post handled: published says whether a
	// decision went on the decisions log (else the post was a dead letter).
	done func(published bool)
}

type stageMetrics struct {
	postsIn   prometheus.Counter
	decisions *prometheus.CounterVec
	errors    *prometheus.CounterVec
	latency   prometheus.Observer
}

// Error categories of mashangban_errors_total{stage="classify"}.
const (
	catDecode     = "decode"     // a message on the posts log that is not a post
	catLog        = "log"        // publishing to the decisions log failed
	catDeadLetter = "deadletter" // recording a dead letter failed
)

// NewStage builds the classify stage over m. done, if not nil, is called
// once per post handled, saying whether its decision was published.
func NewStage(m *Manager, log stream.Log, dead DeadLetters, logger *slog.Logger, reg prometheus.Registerer, done func(published bool)) *Stage {
	f := promauto.With(reg)
	s := &Stage{m: m, log: log, dead: dead, logger: logger.With("component", "classify"), done: done}
	s.metrics = stageMetrics{
		postsIn: f.NewCounter(prometheus.CounterOpts{
			Name: "mashangban_posts_in_total",
			Help: "Posts read from the posts log by the classifier.",
		}),
		decisions: f.NewCounterVec(prometheus.CounterOpts{
			Name: "mashangban_decisions_total",
			Help: "Decisions published, by outcome (routed, triage).",
		}, []string{"outcome"}),
		errors:  stream.NewStageErrors(f, "classify"),
		latency: stream.NewStageLatency(f, "classify"),
	}
	return s
}

// Handle turns one post from the posts log into a decision on the decisions
// log. A message that is not a post is a dead letter, not an error:
// redelivering it would never succeed. An error (the log refused the
// decision) leaves the post to be delivered again.
func (s *Stage) Handle(ctx context.Context, msg stream.Message) error {
	start := time.Now()
	var p model.Post
	if err := json.Unmarshal(msg.Value, &p); err != nil || p.ID == "" {
		if err == nil {
			err = errors.New("post has no id")
		}
		s.metrics.errors.WithLabelValues(catDecode).Inc()
		return s.deadLetter(ctx, p.Source, string(msg.Key), "undecodable post: "+err.Error(), msg.Value)
	}
	s.metrics.postsIn.Inc()
	dec := s.m.Classify(ctx, p)
	b, err := EncodeDecision(dec)
	if err != nil {
		return fmt.Errorf("encode decision for %s: %w", p.ID, err)
	}
	if err := s.log.Publish(ctx, stream.TopicDecisions, stream.Message{Key: []byte(dec.DistrictKey()), Value: b}); err != nil {
		s.metrics.errors.WithLabelValues(catLog).Inc()
		return fmt.Errorf("publish decision for %s: %w", p.ID, err)
	}
	outcome := "routed"
	if dec.Triage {
		outcome = "triage"
	}
	s.metrics.decisions.WithLabelValues(outcome).Inc()
	s.metrics.latency.Observe(time.Since(start).Seconds())
	if s.done != nil {
		s.done(true)
	}
	s.logger.Debug("classified", "post_id", p.ID, "outcome", outcome, "district", dec.DistrictKey(), "rule_set", dec.RuleSetVersion)
	return nil
}

// EncodeDecision is a decision's message on the decisions log. The post's
// raw platform body rides along while it fits; when it would not, it is
// dropped (it stays on the posts log, and a post too large for that log was
// kept whole as a dead letter by ingest).
func EncodeDecision(dec model.Decision) ([]byte, error) {
	b, err := json.Marshal(dec)
	if err == nil && len(b) > MaxDecisionMessage {
		dec.Post.Raw = nil
		b, err = json.Marshal(dec)
	}
	return b, err
}

func (s *Stage) deadLetter(ctx context.Context, source, key, reason string, raw []byte) error {
	if err := s.dead.AddDeadLetter(ctx, model.DeadLetter{Stage: "classify", Source: source, Key: key, Reason: reason, Raw: raw}); err != nil {
		s.metrics.errors.WithLabelValues(catDeadLetter).Inc()
		return fmt.Errorf("record dead letter: %w", err)
	}
	s.logger.Warn("dead letter", "stage", "classify", "key", key, "reason", reason)
	if s.done != nil {
		s.done(false)
	}
	return nil
}
