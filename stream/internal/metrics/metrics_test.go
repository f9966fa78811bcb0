package metrics

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// gathered returns the total of the counter name over its series and the
// number of series.
func gathered(t *testing.T, g prometheus.Gatherer, name string) (total float64, series int) {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			total += m.GetCounter().GetValue()
			series++
		}
	}
	return total, series
}

func TestRegistersEveryMetric(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m := New(reg)
	m.Published.WithLabelValues("posts").Add(3)
	m.Handled.WithLabelValues("posts", "g").Inc()
	m.HandlerErrors.WithLabelValues("posts", "g").Inc()
	m.Errors.WithLabelValues("posts", "fetch").Inc()
	for name, want := range map[string]float64{
		"mashangban_stream_published_messages_total": 3,
		"mashangban_stream_handled_messages_total":   1,
		"mashangban_stream_handler_errors_total":     1,
		"mashangban_stream_errors_total":             1,
	} {
		if total, series := gathered(t, reg, name); total != want || series != 1 {
			t.Errorf("%s = %v in %d series, want %v in 1", name, total, series, want)
		}
	}
}

func TestNilRegisterer(t *testing.T) {
	m := New(nil)
	m.Errors.WithLabelValues("posts", "publish").Inc()
	reg := prometheus.NewRegistry()
	reg.MustRegister(m.Errors)
	if total, _ := gathered(t, reg, "mashangban_stream_errors_total"); total != 1 {
		t.Errorf("errors = %v, want 1", total)
	}
}
