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

func TestSharedAcrossLogs(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	a := New(reg)
	b := New(reg)
	a.Published.WithLabelValues("posts").Inc()
	b.Published.WithLabelValues("posts").Add(2)
	total, series := gathered(t, reg, "mashangban_stream_published_messages_total")
	if total != 3 || series != 1 {
		t.Errorf("published = %v in %d series, want 3 in 1 from both logs", total, series)
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
