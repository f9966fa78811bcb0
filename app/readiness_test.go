package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mashangban/mashangban/app"
	"github.com/mashangban/mashangban/ingest"
)

// fakeSource answers every poll with nothing, or with an error.
type fakeSource struct {
	name string
	fail bool
}

func (f fakeSource) Name() string  { return f.name }
func (f fakeSource) Query() string { return "q" }
func (f fakeSource) Poll(_ context.Context, cur ingest.Cursor) (ingest.Batch, error) {
	if f.fail {
		return ingest.Batch{}, errors.New("platform unreachable")
	}
	return ingest.Batch{Next: cur}, nil
}

type readyDetails struct {
	Ready    bool     `json:"ready"`
	Problems []string `json:"problems"`
	Stages   map[string]struct {
		Waiting int64 `json:"waiting"`
		Stalled bool  `json:"stalled"`
	} `json:"stages"`
	Sources map[string]ingest.PollerStatus `json:"sources"`
}

func readyz(t *testing.T, r *running) (public string, code int, details readyDetails) {
	t.Helper()
	u := "http://" + r.app.Addr() + "/readyz"
	// The public and the administrator must get the same verdict. The
	// state may change between two calls (a source's first poll ends), so
	// the public answer is taken between two administrator answers that
	// agree with it.
	var body string
	for i := 0; ; i++ {
		before, _ := call(t, "GET", u, adminToken, "")
		code, public = call(t, "GET", u, "", "")
		var after int
		after, body = call(t, "GET", u, adminToken, "")
		if before == code && code == after {
			break
		}
		if i == 50 {
			t.Errorf("/readyz: %d to the public between %d and %d to an administrator", code, before, after)
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := json.Unmarshal([]byte(body), &details); err != nil {
		t.Fatalf("/readyz details: %v: %s", err, body)
	}
	if want := map[int]string{200: "ready\n", 503: "not ready\n"}[code]; public != want {
		t.Errorf("public /readyz = %d %q, want only %q", code, public, want)
	}
	return public, code, details
}

// TestReadyzStalledStage: a stage with work waiting and no progress for
// http.stall_after is not ready; an idle stage or one that moves is.
func TestReadyzStalledStage(t *testing.T) {
	cfg := setups[0].cfg(t, t.TempDir())
	cfg.Examples = false
	r := start(t, cfg, app.Options{})
	if _, code, d := readyz(t, r); code != 200 || !d.Ready {
		t.Fatalf("fresh app not ready: %+v", d)
	}
	for _, tc := range []struct {
		name    string
		waiting int64
		since   time.Duration
		ready   bool
	}{
		{"work waits, no progress for an hour", 3, time.Hour, false},
		{"idle for an hour", 0, time.Hour, true},
		{"work waits, progress just now", 3, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !r.app.StallStageForTest("dispatch", tc.waiting, time.Now().Add(-tc.since)) {
				t.Fatal("no dispatch stage")
			}
			_, code, d := readyz(t, r)
			if d.Ready != tc.ready || (code == 200) != tc.ready {
				t.Errorf("ready=%v (%d), want %v: %+v", d.Ready, code, tc.ready, d)
			}
			if s := d.Stages["dispatch"]; s.Stalled == tc.ready || s.Waiting != tc.waiting {
				t.Errorf("dispatch stage = %+v", s)
			}
		})
	}
	r.app.StallStageForTest("dispatch", 0, time.Now())
}

// TestReadyzSources: not ready only when every source is failing.
func TestReadyzSources(t *testing.T) {
	for _, tc := range []struct {
		name    string
		sources []ingest.Source
		ready   bool
	}{
		{"every source failing", []ingest.Source{fakeSource{"a", true}, fakeSource{"b", true}}, false},
		{"one of two failing", []ingest.Source{fakeSource{"a", true}, fakeSource{"b", false}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := setups[0].cfg(t, t.TempDir())
			cfg.Examples = false
			cfg.HTTP.SourceFailures = 1
			r := start(t, cfg, app.Options{Sources: tc.sources})
			// Wait until each source has polled once.
			deadline := time.Now().Add(30 * time.Second)
			for {
				_, code, d := readyz(t, r)
				polled := len(d.Sources) == len(tc.sources)
				for _, s := range d.Sources {
					polled = polled && (s.Failures > 0 || !s.LastSuccess.IsZero())
				}
				// The sources' verdict is what this test is about: other
				// checks (a slow store answer on a loaded machine) may
				// say not ready for a moment, so wait for the verdict.
				everyFailing := slices.ContainsFunc(d.Problems, func(p string) bool { return strings.HasPrefix(p, "every source is failing") })
				if polled && everyFailing == !tc.ready && (!tc.ready || d.Ready) {
					if (code == 200) != d.Ready {
						t.Errorf("status %d with ready=%v: %+v", code, d.Ready, d)
					}
					if d.Sources["a"].LastErrorClass == "" {
						t.Errorf("failing source without its error class: %+v", d.Sources["a"])
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("no verdict of ready=%v from the sources: %+v", tc.ready, d)
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}
