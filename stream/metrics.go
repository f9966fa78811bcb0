package stream

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// NewStageErrors registers mashangban_errors_total for one stage (ingest,
// classify, dispatch): the stage is a constant label, the error category a
// variable one from the stage's small fixed set. Every stage registers its
// own, so each owns its categories and the series share one name.
func NewStageErrors(f promauto.Factory, stage string) *prometheus.CounterVec {
	return f.NewCounterVec(prometheus.CounterOpts{
		Name:        "mashangban_errors_total",
		Help:        "Errors by stage and category.",
		ConstLabels: prometheus.Labels{"stage": stage},
	}, []string{"category"})
}

// NewStageLatency registers mashangban_stage_duration_seconds for one stage:
// the time it takes for one message.
func NewStageLatency(f promauto.Factory, stage string) prometheus.Observer {
	return f.NewHistogram(prometheus.HistogramOpts{
		Name:        "mashangban_stage_duration_seconds",
		Help:        "Time a stage takes for one message.",
		Buckets:     prometheus.ExponentialBuckets(0.0005, 2, 16),
		ConstLabels: prometheus.Labels{"stage": stage},
	})
}
