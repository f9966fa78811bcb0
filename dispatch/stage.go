package dispatch

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
	"github.com/mashangban/mashangban/store"
	"github.com/mashangban/mashangban/stream"
)

// Stage is the dispatch stage: it reads decisions from the decisions log and
// hands each to the Dispatcher.
type Stage struct {
	d       *Dispatcher
	logger  *slog.Logger
	done    func()
	commits *prometheus.CounterVec
	errors  *prometheus.CounterVec
	latency prometheus.Observer
}

// Error categories of mashangban_errors_total{stage="dispatch"}.
const (
	catDecode     = "decode"     // a message on the decisions log that is not a decision
	catDispatch   = "dispatch"   // the dispatcher failed on a decision
	catDeadLetter = "deadletter" // recording a dead letter failed
)

// NewStage builds the dispatch stage over d. done, if not nil, is called
// once per decision whose effect is committed.
func (d *Dispatcher) NewStage(reg prometheus.Registerer, done func()) *Stage {
	f := promauto.With(reg)
	return &Stage{
		d:      d,
		logger: d.log,
		done:   done,
		commits: f.NewCounterVec(prometheus.CounterOpts{
			Name: "mashangban_dispatched_total",
			Help: "Decisions the dispatcher committed.",
		}, []string{"outcome"}),
		errors:  stream.NewStageErrors(f, "dispatch"),
		latency: stream.NewStageLatency(f, "dispatch"),
	}
}

// MaxPermanentAttempts is how many times a decision is tried against a
// store error that retrying cannot fix (store.Permanent: bad data, a
// constraint other than the idempotence keys) before it is set aside as a
// dead letter, so that the decisions after it still flow.
const MaxPermanentAttempts = 3

// Handle applies one decision from the decisions log. Dispatcher.Handle is
// idempotent by post ID, so a redelivered decision changes nothing; an error
// leaves the offset uncommitted and the decision is delivered again. Input
// that would fail the same way forever is a dead letter instead: a message
// that is not a decision, a decision the dispatcher rejects as invalid, and
// one the store refused MaxPermanentAttempts times with a permanent error.
// Only transient errors (the database unreachable, a serialization failure,
// a deadlock) are returned, to be retried for as long as they last.
func (s *Stage) Handle(ctx context.Context, msg stream.Message) error {
	start := time.Now()
	var dec model.Decision
	if err := json.Unmarshal(msg.Value, &dec); err != nil || dec.Post.ID == "" {
		if err == nil {
			err = errors.New("decision has no post id")
		}
		s.errors.WithLabelValues(catDecode).Inc()
		return s.deadLetter(ctx, dec.Post.Source, string(msg.Key), "undecodable decision: "+err.Error(), msg.Value)
	}
	for attempt := 1; ; attempt++ {
		err := s.d.Handle(ctx, dec)
		if err == nil {
			break
		}
		s.errors.WithLabelValues(catDispatch).Inc()
		if errors.Is(err, ErrInvalid) {
			return s.deadLetter(ctx, dec.Post.Source, dec.Post.ID, err.Error(), msg.Value)
		}
		if !store.Permanent(err) {
			return fmt.Errorf("dispatch %s: %w", dec.Post.ID, err)
		}
		if attempt == MaxPermanentAttempts {
			reason := fmt.Sprintf("the store refused the decision %d times: %v", attempt, err)
			return s.deadLetter(ctx, dec.Post.Source, dec.Post.ID, reason, msg.Value)
		}
		// A permanent error may still be a race in disguise (a constraint
		// checked against a row another dispatcher is writing): try again
		// after a pause, a bounded number of times.
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(attempt) * 50 * time.Millisecond):
		}
	}
	s.commits.WithLabelValues("committed").Inc()
	s.latency.Observe(time.Since(start).Seconds())
	if s.done != nil {
		s.done()
	}
	return nil
}

func (s *Stage) deadLetter(ctx context.Context, source, key, reason string, raw []byte) error {
	if err := s.d.st.AddDeadLetter(ctx, model.DeadLetter{Stage: "dispatch", Source: source, Key: key, Reason: reason, Raw: raw}); err != nil {
		s.errors.WithLabelValues(catDeadLetter).Inc()
		return fmt.Errorf("record dead letter: %w", err)
	}
	s.logger.Warn("dead letter", "stage", "dispatch", "key", key, "reason", reason)
	if s.done != nil {
		s.done()
	}
	return nil
}
