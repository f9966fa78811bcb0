package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
)

// TestWholeClassifierOnTeddy runs the README's measurement: train the model on
// ../shared/eval/teddy2020c/train.jsonl, then measure the whole classifier
// (the built-in rule set plus that model) on eval.jsonl, which is never
// trained or tuned on. The data lives outside the repository (it has no
// licence to be copied in), beside it in ../shared; the test reads it there.
func TestWholeClassifierOnTeddy(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "shared", "eval", "teddy2020c")
	if _, err := os.Stat(filepath.Join(dir, "eval.jsonl")); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("the labelled data is missing: %v", err)
		}
		t.Skipf("no labelled data beside the repository: %v", err)
	}
	ctx := context.Background()
	modelFile := filepath.Join(t.TempDir(), "teddy.msbm")
	var out, errs bytes.Buffer
	if code := trainCmd(ctx, []string{"--label", "category", "--quiet", "--out", modelFile, filepath.Join(dir, "train.jsonl")}, &out, &errs); code != 0 {
		t.Fatalf("train: exit %d\n%s%s", code, out.String(), errs.String())
	}
	out.Reset()
	errs.Reset()
	if code := evalCmd(ctx, []string{"--rules.dir", filepath.Join("..", "..", "rules", "default"), "--model", modelFile,
		"--model.threshold", "0.2", "--model.override", "0.2", filepath.Join(dir, "eval.jsonl")}, &out, &errs); code != 0 {
		t.Fatalf("eval: exit %d\n%s%s", code, out.String(), errs.String())
	}
	m := regexp.MustCompile(`(?m)^whole classifier.*\n(?:.*\n)*?macro-F1\s+([0-9.]+)`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no macro-F1 in eval output:\n%s", out.String())
	}
	f1, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("whole classifier macro-F1 on eval.jsonl: %.4f", f1)
	if f1 < 0.88 {
		t.Errorf("macro-F1 %.4f is below the 0.88 bar\n%s", f1, out.String())
	}
}
