package app

import (
	"context"
	"fmt"
	"sort"
	"sync/atomic"
	"time"

	"github.com/mashangban/mashangban/ingest"
)

// stageProgress tracks one consuming stage: when it last finished an item,
// and how many items this process handed it that it has not finished.
type stageProgress struct {
	last    atomic.Int64 // unix nanoseconds
	waiting func() int64
	extra   atomic.Int64 // added to waiting (tests)
}

func newStageProgress(waiting func() int64) *stageProgress {
	s := &stageProgress{waiting: waiting}
	s.mark()
	return s
}

func (s *stageProgress) mark() { s.last.Store(time.Now().UnixNano()) }

// readinessReport is /readyz's answer for administrators.
type readinessReport struct {
	Ready    bool                           `json:"ready"`
	Problems []string                       `json:"problems,omitempty"`
	Checks   map[string]string              `json:"checks"`
	Stages   map[string]stageReport         `json:"stages,omitempty"`
	Sources  map[string]ingest.PollerStatus `json:"sources,omitempty"`
}

type stageReport struct {
	Waiting      int64     `json:"waiting"`
	LastProgress time.Time `json:"last_progress"`
	Stalled      bool      `json:"stalled"`
}

// readiness runs the checks (store, log) and says not ready when one
// fails, when a stage has had work waiting and made no progress for
// http.stall_after, or when every source has failed http.source_failures
// polls in a row (or is paused for its credentials).
func (a *App) readiness(ctx context.Context) readinessReport {
	rep := readinessReport{Ready: true, Checks: map[string]string{}}
	fail := func(format string, args ...any) {
		rep.Ready = false
		rep.Problems = append(rep.Problems, fmt.Sprintf(format, args...))
	}
	for _, c := range a.checks {
		if err := c.fn(ctx); err != nil {
			rep.Checks[c.name] = err.Error()
			fail("%s: check failed", c.name)
		} else {
			rep.Checks[c.name] = "ok"
		}
	}
	stall := a.cfg.HTTP.StallAfter.D()
	if stall <= 0 {
		stall = 2 * time.Minute
	}
	now := time.Now()
	names := make([]string, 0, len(a.stages))
	for n := range a.stages {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		s := a.stages[n]
		if rep.Stages == nil {
			rep.Stages = map[string]stageReport{}
		}
		last := time.Unix(0, s.last.Load())
		sr := stageReport{Waiting: s.waiting() + s.extra.Load(), LastProgress: last.UTC()}
		sr.Stalled = sr.Waiting > 0 && now.Sub(last) > stall
		if sr.Stalled {
			fail("stage %s: no progress for %s with %d waiting", n, now.Sub(last).Round(time.Second), sr.Waiting)
		}
		rep.Stages[n] = sr
	}
	if len(a.pollers) > 0 {
		rep.Sources = map[string]ingest.PollerStatus{}
		failing := 0
		limit := a.cfg.HTTP.SourceFailures
		if limit < 1 {
			limit = 3
		}
		for _, p := range a.pollers {
			st := p.Status()
			rep.Sources[p.Name()] = st
			if !st.Healthy || st.Failures >= limit {
				failing++
			}
		}
		if failing == len(a.pollers) {
			fail("every source is failing (%d)", failing)
		}
	}
	return rep
}
