package classify

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/mashangban/mashangban/model"
	"github.com/mashangban/mashangban/rules"
)

// TestResult is one rule test case's outcome.
type TestResult struct {
	File     string
	Case     rules.TestCase
	Decision model.Decision
	// Failures are the expectations not met, "what: expected X, got Y".
	Failures []string
}

// TestReport is the outcome of running rule test files.
type TestReport struct {
	Results []TestResult
	Passed  int
	Failed  int
	// Unreached are routes, per rule set, that no test case matched.
	Unreached []string
}

// RunTestFiles runs rule test files with the daemon's own loader and
// engine. Cases whose name does not match run (if non-nil) are skipped.
// Rules are loaded without the model so that tests pin the rules down;
// newSeg builds segmenters (nil: SharedSegmenter()).
func RunTestFiles(ctx context.Context, paths []string, run *regexp.Regexp, newSeg func([]string) (Segmenter, error)) (*TestReport, error) {
	if newSeg == nil {
		newSeg = SharedSegmenter()
	}
	rep := &TestReport{}
	type ruleSet struct {
		e       *Engine
		reached map[string]bool
	}
	sets := map[string]*ruleSet{}
	var order []string
	for _, p := range paths {
		tf, err := rules.LoadTestFile(p)
		if err != nil {
			return nil, err
		}
		key := strings.Join(tf.RuleFiles, "\x00")
		rsEntry, ok := sets[key]
		if !ok {
			e, err := Build(ctx, Options{RuleFiles: tf.RuleFiles, NoModel: true, NewSegmenter: newSeg})
			if err != nil {
				return nil, fmt.Errorf("%s: rule_files: %w", p, err)
			}
			rsEntry = &ruleSet{e: e, reached: map[string]bool{}}
			sets[key] = rsEntry
			order = append(order, key)
		}
		for i, tc := range tf.Tests {
			if run != nil && !run.MatchString(tc.Name) {
				continue
			}
			post := model.Post{ID: fmt.Sprintf("test:%d", i+1), Channel: model.ChannelWeibo, Text: tc.Text, Region: tc.Region}
			if tc.Channel != "" {
				post.Channel = model.Channel(tc.Channel)
			}
			if tc.Geo != nil {
				post.Geo = &model.Geo{Lat: tc.Geo.Lat, Lon: tc.Geo.Lon, System: tc.Geo.System}
			}
			d := rsEntry.e.Classify(ctx, post)
			for _, r := range d.Explanation.Routes {
				rsEntry.reached[r.Name] = true
			}
			res := TestResult{File: p, Case: tc, Decision: d, Failures: CheckExpect(tc.Expect, d, rsEntry.e.tree.fallback.Name)}
			if len(res.Failures) == 0 {
				rep.Passed++
			} else {
				rep.Failed++
			}
			rep.Results = append(rep.Results, res)
		}
	}
	for _, k := range order {
		s := sets[k]
		for _, name := range s.e.tree.Routes() {
			if !s.reached[name] {
				rep.Unreached = append(rep.Unreached, name)
			}
		}
	}
	return rep, nil
}

// DecidedBy names what decided d: the first matched route, "model", or
// the fallback's name.
func DecidedBy(d model.Decision, fallback string) string {
	switch {
	case len(d.Explanation.Routes) > 0:
		return d.Explanation.Routes[0].Name
	case d.Explanation.Model != nil && !d.Explanation.Fallback:
		return "model"
	}
	return fallback
}

// CheckExpect compares a decision with a test case's expectations.
func CheckExpect(x rules.Expect, d model.Decision, fallback string) []string {
	var fails []string
	check := func(what, want, got string) {
		if want != got {
			fails = append(fails, fmt.Sprintf("%s: expected %q, got %q", what, want, got))
		}
	}
	set := func(what string, want, got []string) {
		w, g := slices.Clone(want), slices.Clone(got)
		slices.Sort(w)
		slices.Sort(g)
		if !slices.Equal(w, g) {
			fails = append(fails, fmt.Sprintf("%s: expected %s, got %s", what, quoteList(want, 0), quoteList(got, 0)))
		}
	}
	if x.Districts != nil {
		var got []string
		for _, dist := range d.Districts {
			got = append(got, dist.Code)
		}
		set("districts", *x.Districts, got)
	}
	if x.Lead != nil {
		got := ""
		if d.Lead != nil {
			got = d.Lead.ID
		}
		check("lead", *x.Lead, got)
	}
	if x.Assist != nil {
		var got []string
		for _, a := range d.Assist {
			got = append(got, a.ID)
		}
		set("assist", *x.Assist, got)
	}
	if x.Category != nil {
		check("category", *x.Category, d.Category)
	}
	if x.Priority != nil {
		check("priority", *x.Priority, string(d.Priority))
	}
	if x.Route != nil {
		check("route", *x.Route, DecidedBy(d, fallback))
	}
	if x.Triage != nil && *x.Triage != d.Triage {
		fails = append(fails, fmt.Sprintf("triage: expected %v, got %v (%s)", *x.Triage, d.Triage, d.TriageReason))
	}
	return fails
}
