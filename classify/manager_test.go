package classify

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/mashangban/mashangban/model"
)

// syncBuffer is a log sink that tests can read while the manager writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

const reloadRules = `departments: [{id: cgj, name: 市城市管理局}, {id: sthjj, name: 市生态环境局}]
routes: [{name: 路灯, match: {any: [路灯]}, assign: {lead: %s}}]
acknowledgement: {default: '{{.CaseNo}}'}
triage: {unknown_district: false}
fallback: {name: 人工分拣}
`

func rulesWithLead(lead string) []byte { return []byte(strings.Replace(reloadRules, "%s", lead, 1)) }

type managerFixture struct {
	m   *Manager
	reg *prometheus.Registry
	log *syncBuffer
}

// openManager serves dir. The fixture's places file is copied in so that
// every test in the package needs the same segmenter (built once).
func openManager(t *testing.T, dir string) *managerFixture {
	t.Helper()
	writeFile(t, filepath.Join(dir, "places.yaml"), mustRead(t, "testdata/rules/places.yaml"))
	f := &managerFixture{reg: prometheus.NewRegistry(), log: &syncBuffer{}}
	m, err := Open(context.Background(), Options{
		RulesDir:     dir,
		Logger:       slog.New(slog.NewTextHandler(f.log, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Registerer:   f.reg,
		Debounce:     20 * time.Millisecond,
		NewSegmenter: testSeg,
	})
	if err != nil {
		t.Fatal(err)
	}
	f.m = m
	return f
}

func (f *managerFixture) lead(t *testing.T) string {
	t.Helper()
	d := f.m.Classify(context.Background(), model.Post{Text: "路灯坏了"})
	if d.Lead == nil {
		t.Fatalf("no lead: %+v", d)
	}
	return d.Lead.ID
}

// value reads a gauge or counter.
func value(t *testing.T, c prometheus.Metric) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	if m.Gauge != nil {
		return m.Gauge.GetValue()
	}
	return m.Counter.GetValue()
}

// waitFor polls cond until it holds; the timeout is generous and only
// catches a reload that never happens.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func writeFile(t *testing.T, p string, b []byte) {
	t.Helper()
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestReload(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "rules.yaml")
	writeFile(t, file, rulesWithLead("cgj"))
	f := openManager(t, dir)
	v1 := f.m.Version()
	if f.lead(t) != "cgj" || value(t, f.m.reloadOK) != 1 || value(t, f.m.reloadOKTime) == 0 {
		t.Fatal("initial load not serving")
	}

	// Broken: the previous set keeps serving and says so.
	writeFile(t, file, []byte("routes: [{name: 路灯, match: {any: [路灯]}, assign: {lead: nobody}}]\n"))
	err := f.m.Reload(context.Background())
	if err == nil || !strings.Contains(err.Error(), `undefined department "nobody"`) || !strings.Contains(err.Error(), "rules.yaml:1:") {
		t.Fatalf("reload error = %v", err)
	}
	if f.m.Version() != v1 || f.lead(t) != "cgj" {
		t.Error("a broken reload replaced the serving rule set")
	}
	if value(t, f.m.reloadOK) != 0 {
		t.Error("mashangban_rules_last_reload_successful not 0 after a failed reload")
	}
	if !strings.Contains(f.log.String(), "previous rule set kept") {
		t.Errorf("log does not say the previous rule set was kept:\n%s", f.log)
	}
	if f.m.LastError() == nil {
		t.Error("LastError nil after a failed reload")
	}

	// Good again: swapped in.
	writeFile(t, file, rulesWithLead("sthjj"))
	if err := f.m.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if f.m.Version() == v1 || f.lead(t) != "sthjj" || value(t, f.m.reloadOK) != 1 {
		t.Error("good reload not serving")
	}

	// Decisions are counted by what decided them.
	f.m.Classify(context.Background(), model.Post{Text: "别的事"})
	if got := value(t, f.m.decisions.WithLabelValues("route", "路灯")); got != 3 {
		t.Errorf("route decisions = %v, want 3", got)
	}
	if got := value(t, f.m.decisions.WithLabelValues("fallback", "人工分拣")); got != 1 {
		t.Errorf("fallback decisions = %v, want 1", got)
	}
	mfs, err := f.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, mf := range mfs {
		names[mf.GetName()] = true
	}
	for _, n := range []string{"mashangban_rules_last_reload_successful", "mashangban_rules_last_reload_success_timestamp_seconds", "mashangban_classify_decisions_total"} {
		if !names[n] {
			t.Errorf("metric %s not registered", n)
		}
	}
}

func TestOpenFailsWithoutRules(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "rules.yaml"), []byte("routes: []\n"))
	if _, err := Open(context.Background(), Options{RulesDir: dir, NewSegmenter: testSeg}); err == nil {
		t.Fatal("Open succeeded on a broken rule set")
	}
}

func TestWatchReloads(t *testing.T) {
	must := func(t *testing.T, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name   string
		setup  func(t *testing.T, dir string)
		change func(t *testing.T, dir string, hup chan<- struct{})
	}{
		{
			name:  "editor renames a new file over the old",
			setup: func(t *testing.T, dir string) { writeFile(t, filepath.Join(dir, "rules.yaml"), rulesWithLead("cgj")) },
			change: func(t *testing.T, dir string, _ chan<- struct{}) {
				tmp := filepath.Join(dir, ".rules.yaml.tmp")
				writeFile(t, tmp, rulesWithLead("sthjj"))
				must(t, os.Rename(tmp, filepath.Join(dir, "rules.yaml")))
			},
		},
		{
			name: "configmap symlink swap",
			setup: func(t *testing.T, dir string) {
				must(t, os.Mkdir(filepath.Join(dir, "..v1"), 0o755))
				writeFile(t, filepath.Join(dir, "..v1", "rules.yaml"), rulesWithLead("cgj"))
				must(t, os.Symlink("..v1", filepath.Join(dir, "..data")))
				must(t, os.Symlink("..data/rules.yaml", filepath.Join(dir, "rules.yaml")))
			},
			change: func(t *testing.T, dir string, _ chan<- struct{}) {
				must(t, os.Mkdir(filepath.Join(dir, "..v2"), 0o755))
				writeFile(t, filepath.Join(dir, "..v2", "rules.yaml"), rulesWithLead("sthjj"))
				must(t, os.Symlink("..v2", filepath.Join(dir, "..data_tmp")))
				must(t, os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")))
				must(t, os.RemoveAll(filepath.Join(dir, "..v1")))
			},
		},
		{
			// The rules live outside the watched directory's view here: the
			// file is edited through a path the watcher does not see, so only
			// SIGHUP can pick the change up.
			name: "sighup",
			setup: func(t *testing.T, dir string) {
				must(t, os.Mkdir(filepath.Join(dir, "real"), 0o755))
				writeFile(t, filepath.Join(dir, "real", "rules.yaml"), rulesWithLead("cgj"))
				must(t, os.Symlink("real/rules.yaml", filepath.Join(dir, "rules.yaml")))
			},
			change: func(t *testing.T, dir string, hup chan<- struct{}) {
				writeFile(t, filepath.Join(dir, "real", "rules.yaml"), rulesWithLead("sthjj"))
				hup <- struct{}{}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.setup(t, dir)
			f := openManager(t, dir)
			if f.lead(t) != "cgj" {
				t.Fatal("initial rules not serving")
			}
			ctx, cancel := context.WithCancel(context.Background())
			hup := make(chan struct{})
			done := make(chan error, 1)
			go func() { done <- f.m.Watch(ctx, hup) }()
			waitFor(t, "the watcher", func() bool { return strings.Contains(f.log.String(), "watching rule files") })
			defer func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("watch: %v", err)
				}
			}()
			// Classify concurrently with the reload (for -race).
			stop := make(chan struct{})
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
						f.m.Classify(ctx, model.Post{Text: "路灯坏了"})
					}
				}
			}()
			tc.change(t, dir, hup)
			waitFor(t, "the new rule set", func() bool { return f.lead(t) == "sthjj" })
			close(stop)
			wg.Wait()
		})
	}
}

// TestFixedAckDeadlineWarning: a rule set whose acknowledgement section
// promises a fixed deadline (as the 90-channel.yaml an earlier version
// wrote does) is loaded with one warning naming the file and how to drop
// the section; an acknowledgement that takes the route's deadlines, or none
// at all, loads without one.
func TestFixedAckDeadlineWarning(t *testing.T) {
	const legacy = `acknowledgement:
  weibo: '{{if .Repeat}}此问题已有网友反映，已并入{{.CaseNo}}一并办理。{{else}}您反映的问题已转交{{.Lead}}办理，编号{{.CaseNo}}，我们将在72小时内答复。{{end}}'
  wechat: '{{if .Repeat}}已并入{{.CaseNo}}办理{{else}}已转{{.Lead}}，编号{{.CaseNo}}{{end}}'
  replay: '{{.CaseNo}} {{.Lead}}'
`
	const base = `departments: [{id: cgj, name: 市城市管理局}]
routes: [{name: 路灯, match: {any: [路灯]}, assign: {lead: cgj}}]
triage: {unknown_district: false}
fallback: {name: 人工分拣}
`
	const warning = "acknowledgement section promises a fixed deadline"
	for _, tc := range []struct {
		name, channel string
		want          int
	}{
		{"legacy 72 hours", legacy, 1},
		{"route deadlines", "acknowledgement: {default: '已转{{.Lead}}，编号{{.CaseNo}}，{{.Claim}}内签收，{{.Reply}}内答复'}\n", 0},
		{"fixed text between actions", "acknowledgement: {default: '{{.CaseNo}}{{if eq .Count 3}}3天{{end}}'}\n", 1},
		{"no section", "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, "10-rules.yaml"), []byte(base))
			if tc.channel != "" {
				writeFile(t, filepath.Join(dir, "90-channel.yaml"), []byte(tc.channel))
			}
			f := openManager(t, dir)
			// A reload of the same files does not warn again.
			if err := f.m.Reload(context.Background()); err != nil {
				t.Fatal(err)
			}
			logs := f.log.String()
			if got := strings.Count(logs, warning); got != tc.want {
				t.Fatalf("%d warnings, want %d:\n%s", got, tc.want, logs)
			}
			if tc.want > 0 && (!strings.Contains(logs, "90-channel.yaml:1:1") || !strings.Contains(logs, "delete that section")) {
				t.Errorf("the warning does not name the file and what to do:\n%s", logs)
			}
			if tc.name == "legacy 72 hours" && !strings.Contains(logs, "deadline=72小时") {
				t.Errorf("the warning does not quote the promise:\n%s", logs)
			}
		})
	}
}
