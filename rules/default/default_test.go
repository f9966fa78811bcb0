package defaultrules_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/mashangban/mashangban/classify"
	"github.com/mashangban/mashangban/classify/gazetteer"
	linear "github.com/mashangban/mashangban/classify/linear"
	"github.com/mashangban/mashangban/classify/segment"
	"github.com/mashangban/mashangban/rules"
	defaultrules "github.com/mashangban/mashangban/rules/default"
)

// TestDefaultRules runs the default rule set's own tests (*_test.yaml), as
// `mashangban rules test` does, and requires every route to be reached.
// When the labelled message-board data lies beside the repository
// (../shared/eval/teddy2020c, read there because it may not be copied in),
// every case also runs with a model trained on its train.jsonl loaded at
// the threshold and override the rule set documents (0.2 and 0.2): no route
// test may fail with the model, which the override cannot do to a certain
// route.
func TestDefaultRules(t *testing.T) {
	files, err := filepath.Glob("*_test.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no rule tests: %v", err)
	}
	opts := classify.TestOptions{}
	if train := teddyTrain(t); train != "" {
		opts.ModelFile, opts.ModelThreshold, opts.ModelOverride = trainModel(t, train), 0.2, 0.2
	}
	rep, err := classify.RunTestFiles(context.Background(), files, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Results {
		for _, f := range r.Failures {
			t.Errorf("%s %s (model %q): %s", r.Case.Pos, r.Case.Name, r.Model, f)
		}
	}
	if len(rep.Unreached) > 0 {
		t.Errorf("routes without a test: %v", rep.Unreached)
	}
	if rep.Passed < 40 {
		t.Errorf("only %d rule tests passed", rep.Passed)
	}
	if opts.ModelFile != "" && len(rep.Models) != 1 {
		t.Errorf("cases ran with models %v, want the trained one", rep.Models)
	}
}

// teddyTrain finds ../shared/eval/teddy2020c/train.jsonl beside the
// repository (or beside the directory holding a worktree of it); "" if it
// is not there, outside CI.
func teddyTrain(t *testing.T) string {
	t.Helper()
	for _, up := range []string{"../../..", "../../../.."} {
		p := filepath.Join(up, "shared", "eval", "teddy2020c", "train.jsonl")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("the labelled data is missing beside the repository")
	}
	t.Log("no labelled data beside the repository: rules alone")
	return ""
}

// trainModel trains the learned fallback on a labelled file as
// `mashangban train --label category` does and returns the model file.
func trainModel(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	exs, err := linear.ReadLabelled(f, "category")
	if err != nil {
		t.Fatal(err)
	}
	gz, err := gazetteer.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	seg, err := segment.New(gz.Words())
	if err != nil {
		t.Fatal(err)
	}
	m, err := linear.TrainTokenized(linear.Tokenize(seg, exs), linear.DefaultTrainOptions())
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "model.msbm")
	w, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Save(w); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestWriteTo: the embedded copy is what a zero-config run serves; it must
// load to the same rule set (same version) as the files in the repository,
// and never overwrite an operator's edits.
func TestWriteTo(t *testing.T) {
	want, err := rules.Load(".")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "rules")
	wrote, err := defaultrules.WriteTo(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(wrote) < len(want.Files)+1 {
		t.Errorf("wrote %v", wrote)
	}
	got, err := rules.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != want.Version || len(got.Routes) != len(want.Routes) || got.Places == "" {
		t.Errorf("written rule set version %s (%d routes, places %q), want %s (%d routes)", got.Version, len(got.Routes), got.Places, want.Version, len(want.Routes))
	}
	edited := filepath.Join(dir, "90-channel.yaml")
	if err := os.WriteFile(edited, []byte("# mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if wrote, err = defaultrules.WriteTo(dir); err != nil || len(wrote) != 0 {
		t.Errorf("second WriteTo wrote %v, %v", wrote, err)
	}
	if b, _ := os.ReadFile(edited); string(b) != "# mine\n" {
		t.Error("WriteTo overwrote an edited file")
	}
}
