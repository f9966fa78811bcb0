// Package metrics holds the Prometheus metrics that both log implementations
// export, so that dashboards do not depend on which one a deployment runs.
package metrics

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics of a stream.Log. The zero registerer case still yields usable,
// unregistered collectors.
type Metrics struct {
	Published     *prometheus.CounterVec // topic
	Handled       *prometheus.CounterVec // topic, group
	HandlerErrors *prometheus.CounterVec // topic, group
	Errors        *prometheus.CounterVec // topic, op: publish, fetch, commit
}

// New creates the metrics and registers them with reg if it is not nil. A
// collector already registered (a second Log in one process) is shared.
func New(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Published: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mashangban_stream_published_messages_total",
			Help: "Messages durably published to a topic of the posts/decisions log.",
		}, []string{"topic"}),
		Handled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mashangban_stream_handled_messages_total",
			Help: "Messages whose handler returned nil, by topic and consumer group.",
		}, []string{"topic", "group"}),
		HandlerErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mashangban_stream_handler_errors_total",
			Help: "Handler failures; each one delivers the message again after a backoff.",
		}, []string{"topic", "group"}),
		Errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mashangban_stream_errors_total",
			Help: "Failed log operations by topic and operation (publish, fetch, commit).",
		}, []string{"topic", "op"}),
	}
	if reg == nil {
		return m
	}
	m.Published = register(reg, m.Published)
	m.Handled = register(reg, m.Handled)
	m.HandlerErrors = register(reg, m.HandlerErrors)
	m.Errors = register(reg, m.Errors)
	return m
}

func register(reg prometheus.Registerer, c *prometheus.CounterVec) *prometheus.CounterVec {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(*prometheus.CounterVec); ok {
				return existing
			}
		}
		panic(err)
	}
	return c
}
