package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
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
	fs := flag.NewFlagSet("mashangban eval", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("rules.dir", "", "rule directory (default $MSB_RULES_DIR, else mashangban-data/rules, else the built-in rule set)")
	modelFile := fs.String("model", "", "model file, overriding the rule set's")
	threshold := fs.Float64("model.threshold", 0, "the model's confidence threshold, overriding the rule set's (0: keep)")
	override := fs.Float64("model.override", 0, "with --model and no model section in the rules: the confidence at which the model overrules a route of another category group (0: never)")
	label := fs.String("label", "category", "label field: category (compared with the decision's top-level category) or department (with the lead)")
	asJSON := fs.Bool("json", false, "print the metrics as JSON")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 || (*label != "category" && *label != "department") {
		fmt.Fprintln(stderr, "usage: mashangban eval [--rules.dir DIR] [--model FILE] [--label category|department] FILE")
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
	rulesDir, cleanup, err := cliRulesDir(*dir)
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
	return 0
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
