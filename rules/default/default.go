// Package defaultrules is the default rule set for 马鞍山: departments,
// categories, routes, acknowledgements and the places file, embedded so that
// a zero-configuration `mashangban run` can write it into its data
// directory and serve it. The YAML files beside this one are the source;
// the *_test.yaml files are their tests (`mashangban rules test`).
package defaultrules

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// FS holds the rule files, the places file and the rule tests.
//
//go:embed *.yaml
var FS embed.FS

// WriteTo writes the default rule set into dir (created if missing). Files
// that already exist are left alone, so an operator's edits survive a
// restart; it returns the names it wrote.
func WriteTo(dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("write default rules: %w", err)
	}
	ents, err := fs.ReadDir(FS, ".")
	if err != nil {
		return nil, fmt.Errorf("write default rules: %w", err)
	}
	var wrote []string
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		if _, err := os.Lstat(p); err == nil {
			continue
		}
		b, err := FS.ReadFile(e.Name())
		if err != nil {
			return wrote, fmt.Errorf("write default rules: %w", err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return wrote, fmt.Errorf("write default rules: %w", err)
		}
		wrote = append(wrote, e.Name())
	}
	return wrote, nil
}
