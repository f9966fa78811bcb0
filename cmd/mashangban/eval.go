package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/mashangban/mashangban/classify"
	linear "github.com/mashangban/mashangban/classify/linear"
	"github.com/mashangban/mashangban/model"
)

// Predictions that are not a label.
const (
	evalTriage = "(triage)" // the fallback caught it: no route, no confident model answer
	evalNone   = "(none)"   // decided, but with no lead (department labels only)
)

// evalCmd runs `mashangban eval`: the whole classifier (rules, then the
// model for posts no route settles) on a labelled JSON Lines file.
func evalCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("mashangban eval", "mashangban eval [--config FILE | --rules.dir DIR] [--model FILE] [--label category|department] [--routes] FILE", stderr)
	dir := fs.String("rules.dir", "", "rule directory (default: the configuration's rules.dir, $MSB_RULES_DIR, <data_dir>/rules, else the built-in rule set)")
	configFile := fs.String("config", "", "configuration file whose rules.dir is used (default $MSB_CONFIG)")
	modelFile := fs.String("model", "", "model file, overriding the rule set's")
	threshold := fs.Float64("model.threshold", 0, "the model's confidence threshold, overriding the rule set's (0: keep)")
	override := fs.Float64("model.override", 0, "with --model and no model section in the rules: the confidence at which the model overrules a route of another category group (0: never)")
	label := fs.String("label", "category", "label field: category (compared with the decision's top-level category) or department (with the lead)")
	asJSON := fs.Bool("json", false, "print the metrics as JSON")
	byRouteList := fs.Bool("routes", false, "also list each route with the posts it decided and how many were right, worst first")
	if code, done := parseFlags(fs, args, stdout); done {
		return code
	}
	if fs.NArg() != 1 || (*label != "category" && *label != "department") {
		fmt.Fprintln(stderr, "usage: mashangban eval [--config FILE | --rules.dir DIR] [--model FILE] [--label category|department] [--routes] FILE")
		return 2
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		fmt.Fprintf(stderr, "mashangban eval: %v\n", err)
		return 1
	}
	examples, err := linear.ReadLabelled(f, *label)
	f.Close()
	if err != nil {
		fmt.Fprintf(stderr, "mashangban eval: %s: %v\n", fs.Arg(0), err)
		return 1
	}
	rulesDir, cleanup, err := cliRulesDir("mashangban eval", *dir, *configFile)
	if err != nil {
		fmt.Fprintf(stderr, "mashangban eval: %v\n", err)
		return 1
	}
	defer cleanup()
	e, err := classify.Build(ctx, classify.Options{RulesDir: rulesDir, ModelFile: *modelFile, ModelOverride: *override, ModelThreshold: *threshold})
	if err != nil {
		printErrors(stderr, err)
		return 1
	}
	tree := e.Tree()
	start := time.Now()
	gold := make([]string, len(examples))
	pred := make([]string, len(examples))
	suggest := make([]string, len(examples))
	var byRoute, byModel, byFallback, routeRight, modelRight int
	routes := map[string]*routeTally{}
	for i, ex := range examples {
		d := e.Classify(ctx, model.Post{ID: fmt.Sprintf("eval:%d", i+1), Channel: model.ChannelReplay, Text: ex.Text})
		switch {
		case len(d.Explanation.Routes) > 0:
			byRoute++
		case d.Explanation.Fallback:
			byFallback++
		default:
			byModel++
		}
		if *label == "category" {
			gold[i] = tree.CategoryLabel(ex.Label)
			suggest[i] = tree.TopCategory(d.Category).Name
		} else {
			gold[i] = tree.DepartmentLabel(ex.Label)
			suggest[i] = evalNone
			if d.Lead != nil {
				suggest[i] = d.Lead.Name
			}
		}
		if suggest[i] == "" {
			suggest[i] = evalNone
		}
		pred[i] = suggest[i]
		if len(d.Explanation.Routes) > 0 {
			name := d.Explanation.Routes[0].Name
			rt := routes[name]
			if rt == nil {
				rt = &routeTally{Route: name, wrong: map[string]int{}}
				routes[name] = rt
			}
			rt.Decided++
			if pred[i] == gold[i] {
				rt.Right++
			} else {
				rt.wrong[gold[i]]++
			}
		}
		switch {
		case d.Explanation.Fallback:
			pred[i] = evalTriage
		case len(d.Explanation.Routes) > 0 && pred[i] == gold[i]:
			routeRight++
		case len(d.Explanation.Routes) == 0 && pred[i] == gold[i]:
			modelRight++
		}
	}
	elapsed := time.Since(start)
	m := linear.Evaluate(gold, pred)
	ms := linear.Evaluate(gold, suggest)
	if *asJSON {
		out := map[string]any{"file": fs.Arg(0), "rule_set_version": tree.Version, "decided_by_route": byRoute,
			"route_correct": routeRight, "decided_by_model": byModel, "model_correct": modelRight, "fallback": byFallback,
			"metrics": m, "metrics_with_suggestions": ms}
		if *byRouteList {
			out["routes"] = sortedTallies(routes)
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			fmt.Fprintf(stderr, "mashangban eval: %v\n", err)
			return 1
		}
		return 0
	}
	n := len(examples)
	fmt.Fprintf(stdout, "file: %s (%d labelled posts, label %s)\n", fs.Arg(0), n, *label)
	fmt.Fprintf(stdout, "rule set: %s; model: %s\n", tree.Version, orNone(e.ModelVersion()))
	fmt.Fprintf(stdout, "decided by a route: %d (%.1f%%), by the model: %d (%.1f%%), fallback (triage): %d (%.1f%%); %.1f ms/post\n",
		byRoute, pct(byRoute, n), byModel, pct(byModel, n), byFallback, pct(byFallback, n), float64(elapsed.Microseconds())/1000/float64(max(n, 1)))
	fmt.Fprintf(stdout, "right when a route decided: %d/%d (%.1f%%); when the model decided: %d/%d (%.1f%%)\n",
		routeRight, byRoute, pct(routeRight, byRoute), modelRight, byModel, pct(modelRight, byModel))
	fmt.Fprintf(stdout, "\nwhole classifier (triage counts as wrong):\n")
	if err := m.WriteText(stdout); err != nil {
		fmt.Fprintf(stderr, "mashangban eval: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "\nwith the triaged posts' suggestions taken: accuracy %.4f, macro-F1 %.4f\n", ms.Accuracy, ms.MacroF1)
	if *byRouteList {
		fmt.Fprintf(stdout, "\nroutes, worst first (posts decided, right, and what the wrong ones were labelled):\n")
		writeRouteTallies(stdout, sortedTallies(routes))
	}
	return 0
}

// routeTally is how one route did: the posts it decided and how many of
// them it got right.
type routeTally struct {
	Route   string `json:"route"`
	Decided int    `json:"decided"`
	Right   int    `json:"right"`
	// Wrong is what the posts it got wrong were labelled, most first.
	Wrong []labelCount `json:"wrong,omitempty"`
	wrong map[string]int
}

type labelCount struct {
	Label string `json:"label"`
	N     int    `json:"n"`
}

// sortedTallies orders routes worst first: lowest share right, then most
// posts wrong, then name.
func sortedTallies(m map[string]*routeTally) []*routeTally {
	out := make([]*routeTally, 0, len(m))
	for _, rt := range m {
		rt.Wrong = rt.Wrong[:0]
		for l, n := range rt.wrong {
			rt.Wrong = append(rt.Wrong, labelCount{l, n})
		}
		sort.Slice(rt.Wrong, func(i, j int) bool {
			if rt.Wrong[i].N != rt.Wrong[j].N {
				return rt.Wrong[i].N > rt.Wrong[j].N
			}
			return rt.Wrong[i].Label < rt.Wrong[j].Label
		})
		out = append(out, rt)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		// a.Right/a.Decided < b.Right/b.Decided without division.
		if l, r := a.Right*b.Decided, b.Right*a.Decided; l != r {
			return l < r
		}
		if wa, wb := a.Decided-a.Right, b.Decided-b.Right; wa != wb {
			return wa > wb
		}
		return a.Route < b.Route
	})
	return out
}

func writeRouteTallies(w io.Writer, ts []*routeTally) {
	width := 0
	for _, rt := range ts {
		width = max(width, classify.DisplayWidth(rt.Route))
	}
	for _, rt := range ts {
		var wrong []string
		for _, lc := range rt.Wrong {
			wrong = append(wrong, fmt.Sprintf("%s %d", lc.Label, lc.N))
		}
		fmt.Fprintf(w, "  %s%s %5d %5d %6.1f%%  %s\n", rt.Route, strings.Repeat(" ", width-classify.DisplayWidth(rt.Route)),
			rt.Decided, rt.Right, pct(rt.Right, rt.Decided), strings.Join(wrong, ", "))
	}
}

func pct(a, n int) float64 {
	if n == 0 {
		return 0
	}
	return 100 * float64(a) / float64(n)
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
