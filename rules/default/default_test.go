package defaultrules_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/mashangban/mashangban/classify"
	"github.com/mashangban/mashangban/rules"
	defaultrules "github.com/mashangban/mashangban/rules/default"
)

// TestDefaultRules runs the default rule set's own tests (*_test.yaml), as
// `mashangban rules test` does, and requires every route to be reached.
func TestDefaultRules(t *testing.T) {
	files, err := filepath.Glob("*_test.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no rule tests: %v", err)
	}
	rep, err := classify.RunTestFiles(context.Background(), files, classify.TestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Results {
		for _, f := range r.Failures {
			t.Errorf("%s %s: %s", r.Case.Pos, r.Case.Name, f)
		}
	}
	if len(rep.Unreached) > 0 {
		t.Errorf("routes without a test: %v", rep.Unreached)
	}
	if rep.Passed < 40 {
		t.Errorf("only %d rule tests passed", rep.Passed)
	}
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
