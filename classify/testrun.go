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

// TestResult is one rule test case's outcome in one run.
type TestResult struct {
	File string
	Case rules.TestCase
	// Model is the version of the model loaded for this run, "" for the
	// rules alone.
	Model    string
	Decision model.Decision
	// Failures are the expectations not met, "what: expected X, got Y".
	Failures []string
}

// TestReport is the outcome of running rule test files.
type TestReport struct {
	Results []TestResult
	Passed  int
	Failed  int
	// Models are the versions of the models the cases also ran with.
	Models []string
	// Unreached are routes, per rule set, that no test case matched with
	// the rules alone.
	Unreached []string
}

// TestOptions configure RunTestFiles.
type TestOptions struct {
	// Run, if set, selects the cases whose name it matches.
	Run *regexp.Regexp
	// NewSegmenter builds segmenters (nil: SharedSegmenter()).
	NewSegmenter func([]string) (Segmenter, error)
	// ModelFile, ModelThreshold and ModelOverride name the model for the
	// second run as in Options; without ModelFile the rule set's model
	// section decides.
	ModelFile      string
	ModelThreshold float64
	ModelOverride  float64
}

// RunTestFiles runs rule test files with the daemon's own loader and
// engine. Every case runs with the rules alone, which pins the rules down,
// and, when a model is configured (the rule set's model section or
// o.ModelFile), once more with the model loaded: a route the model's
// override may overrule fails there unless it is certain or the model
// agrees. In that run the case's with_model expectations replace its own.
func RunTestFiles(ctx context.Context, paths []string, o TestOptions) (*TestReport, error) {
	newSeg := o.NewSegmenter
	if newSeg == nil {
		newSeg = SharedSegmenter()
	}
	rep := &TestReport{}
	type ruleSet struct {
		engines []*Engine // rules alone, then with the model if configured
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
		set, ok := sets[key]
		if !ok {
			e, err := Build(ctx, Options{RuleFiles: tf.RuleFiles, NoModel: true, NewSegmenter: newSeg})
			if err != nil {
				return nil, fmt.Errorf("%s: rule_files: %w", p, err)
			}
			set = &ruleSet{engines: []*Engine{e}, reached: map[string]bool{}}
			if o.ModelFile != "" || e.tree.rs.Model != nil {
				em, err := Build(ctx, Options{RuleFiles: tf.RuleFiles, NewSegmenter: newSeg,
					ModelFile: o.ModelFile, ModelThreshold: o.ModelThreshold, ModelOverride: o.ModelOverride})
				if err != nil {
					return nil, fmt.Errorf("%s: rule_files with the model: %w", p, err)
				}
				set.engines = append(set.engines, em)
				if v := em.ModelVersion(); !slices.Contains(rep.Models, v) {
					rep.Models = append(rep.Models, v)
				}
			}
			sets[key] = set
			order = append(order, key)
		}
		for i, tc := range tf.Tests {
			if o.Run != nil && !o.Run.MatchString(tc.Name) {
				continue
			}
			post := model.Post{ID: fmt.Sprintf("test:%d", i+1), Channel: model.ChannelWeibo, Text: tc.Text, Region: tc.Region}
			if tc.Channel != "" {
				post.Channel = model.Channel(tc.Channel)
			}
			if tc.Geo != nil {
				post.Geo = &model.Geo{Lat: tc.Geo.Lat, Lon: tc.Geo.Lon, System: tc.Geo.System}
			}
			for run, e := range set.engines {
				d := e.Classify(ctx, post)
				x := tc.Expect
				if run == 0 {
					for _, r := range d.Explanation.Routes {
						set.reached[r.Name] = true
					}
				} else {
					x = x.Merge(tc.WithModel)
				}
				res := TestResult{File: p, Case: tc, Model: e.ModelVersion(), Decision: d, Failures: CheckExpect(x, d, e.tree.fallback.Name)}
				if len(res.Failures) == 0 {
					rep.Passed++
				} else {
					rep.Failed++
				}
				rep.Results = append(rep.Results, res)
			}
		}
	}
	for _, k := range order {
		s := sets[k]
		for _, name := range s.engines[0].tree.Routes() {
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
