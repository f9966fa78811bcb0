package dispatch

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

type metrics struct {
	decisions     *prometheus.CounterVec
	handleSeconds prometheus.Histogram
	notices       *prometheus.CounterVec
	noticeSends   *prometheus.CounterVec
	sends         *prometheus.CounterVec
	api           *prometheus.CounterVec
	lastTick      prometheus.Gauge
	outbox        *prometheus.GaugeVec
	conflicts     prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	f := promauto.With(reg)
	return &metrics{
		decisions: f.NewCounterVec(prometheus.CounterOpts{
			Name: "mashangban_dispatch_decisions_total",
			Help: "Decisions handled by outcome: case, repeat, triage, duplicate, invalid, error.",
		}, []string{"outcome"}),
		handleSeconds: f.NewHistogram(prometheus.HistogramOpts{
			Name:    "mashangban_dispatch_handle_seconds",
			Help:    "Time to handle one decision (one transaction).",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		notices: f.NewCounterVec(prometheus.CounterOpts{
			Name: "mashangban_dispatch_notices_total",
			Help: "Reminders and cards issued by the deadline clock, by kind (remind_claim, remind_reply, remind_close, yellow, orange, red) and department.",
		}, []string{"kind", "department"}),
		noticeSends: f.NewCounterVec(prometheus.CounterOpts{
			Name: "mashangban_notice_deliveries_total",
			Help: "Notice delivery attempts to departments' webhooks by department and result (sent, retry, failed).",
		}, []string{"department", "result"}),
		sends: f.NewCounterVec(prometheus.CounterOpts{
			Name: "mashangban_replies_total",
			Help: "Reply send attempts by channel and result (sent, already_sent, skipped, retry, failed).",
		}, []string{"channel", "result"}),
		api: f.NewCounterVec(prometheus.CounterOpts{
			Name: "mashangban_api_requests_total",
			Help: "Department API requests by action and HTTP status code.",
		}, []string{"action", "code"}),
		lastTick: f.NewGauge(prometheus.GaugeOpts{
			Name: "mashangban_dispatch_clock_last_tick_timestamp_seconds",
			Help: "When the deadline clock last completed a tick.",
		}),
		outbox: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "mashangban_outbox_replies",
			Help: "Replies to citizens and notices to departments in the outbox by state (queued, sending, sent, skipped, failed), read at each clock tick.",
		}, []string{"state"}),
		conflicts: f.NewCounter(prometheus.CounterOpts{
			Name: "mashangban_dispatch_conflicting_duplicates_total",
			Help: "Posts that came again under an ID already handled but with another text, each kept as a dead letter.",
		}),
	}
}
