// Package metrics holds the Prometheus metrics that both log implementations
// export, so that dashboards do not depend on which one a deployment runs.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Metrics of a stream.Log. A nil registerer still yields usable,
// unregistered collectors.
type Metrics struct {
	Published     *prometheus.CounterVec // topic
	Handled       *prometheus.CounterVec // topic, group
	HandlerErrors *prometheus.CounterVec // topic, group
	Errors        *prometheus.CounterVec // topic, op: publish, fetch, commit
}

// New creates the metrics and registers them with reg if it is not nil.
// One Log registers them; a process runs one Log.
func New(reg prometheus.Registerer) *Metrics {
	f := promauto.With(reg)
	return &Metrics{
		Published: f.NewCounterVec(prometheus.CounterOpts{
			Name: "mashangban_stream_published_messages_total",
			Help: "Messages durably published to a topic of the posts/decisions log.",
		}, []string{"topic"}),
		Handled: f.NewCounterVec(prometheus.CounterOpts{
			Name: "mashangban_stream_handled_messages_total",
			Help: "Messages whose handler returned nil, by topic and consumer group.",
		}, []string{"topic", "group"}),
		HandlerErrors: f.NewCounterVec(prometheus.CounterOpts{
			Name: "mashangban_stream_handler_errors_total",
			Help: "Handler failures; each one delivers the message again after a backoff.",
		}, []string{"topic", "group"}),
		Errors: f.NewCounterVec(prometheus.CounterOpts{
			Name: "mashangban_stream_errors_total",
			Help: "Failed log operations by topic and operation (publish, fetch, commit).",
		}, []string{"topic", "op"}),
	}
}
