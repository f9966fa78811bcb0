package app

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Error categories for mashangban_errors_total; a small fixed set so the
// label stays bounded.
const (
	catDecode     = "decode"     // a message on a log that is not what it should be
	catLog        = "log"        // the posts or decisions log failed
	catDispatch   = "dispatch"   // the dispatcher failed on a decision
	catOversize   = "oversize"   // a post cut to fit the log
	catDeadLetter = "deadletter" // recording a dead letter failed
)

type metrics struct {
	postsIn   prometheus.Counter
	decisions *prometheus.CounterVec
	cases     *prometheus.CounterVec
	errors    *prometheus.CounterVec
	latency   *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		postsIn: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mashangban_posts_in_total",
			Help: "Posts read from the posts log by the classifier.",
		}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mashangban_decisions_total",
			Help: "Decisions published, by outcome (routed, triage).",
		}, []string{"outcome"}),
		cases: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mashangban_dispatched_total",
			Help: "Decisions the dispatcher committed.",
		}, []string{"outcome"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mashangban_errors_total",
			Help: "Errors by stage and category.",
		}, []string{"stage", "category"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "mashangban_stage_duration_seconds",
			Help:    "Time a stage takes for one message.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"stage"}),
	}
	reg.MustRegister(m.postsIn, m.decisions, m.cases, m.errors, m.latency,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}
