package app

import (
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/mashangban/mashangban/config"
	defaultrules "github.com/mashangban/mashangban/rules/default"
)

// A dispatcher without the classify role still knows the rule set's
// departments: transfers to a department without a token, and names.
func TestRuleDirectoryWithoutClassifier(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "rules")
	if _, err := defaultrules.WriteTo(dir); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Rules.Dir = dir
	depts, _ := ruleNames(cfg, nil, slog.New(slog.DiscardHandler))
	if depts == nil {
		t.Fatal("no department names")
	}
	names := depts()
	if names["yushan.gov"] != "雨山区人民政府" || names["huashan.gov"] != "花山区人民政府" {
		t.Errorf("directory = %v", names)
	}
	cfg.Rules.Dir = filepath.Join(t.TempDir(), "missing")
	if depts, _ := ruleNames(cfg, nil, slog.New(slog.DiscardHandler)); depts != nil {
		t.Error("a missing rule directory gave a directory")
	}
}
