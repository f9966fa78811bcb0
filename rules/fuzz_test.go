package rules

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoadRules feeds arbitrary bytes to the loader as one rule file: it
// must never panic, and every error it returns must carry the file's
// position.
func FuzzLoadRules(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/fixtures/*.yaml")
	base, _ := filepath.Glob("testdata/base/*.yaml")
	for _, p := range append(seeds, base...) {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(minimalRules))
	f.Add([]byte("routes: &a [*a]\n"))
	f.Add([]byte("\xff\xfe"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, err := LoadSources([]Source{{Name: "fuzz.yaml", Data: data}})
		if err == nil {
			if rs == nil || rs.Version == "" || len(rs.Routes) == 0 || rs.Fallback.Name == "" {
				t.Fatalf("loaded without error but incomplete: %+v", rs)
			}
			return
		}
		var es Errors
		if !errors.As(err, &es) {
			if !strings.Contains(err.Error(), "no rule files") {
				t.Fatalf("error is not Errors: %v", err)
			}
			return
		}
		for _, e := range es {
			if !strings.HasPrefix(e.Pos.File, "fuzz.yaml") && !strings.HasSuffix(e.Pos.File, ".yaml") || e.Pos.Line < 1 || e.Pos.Col < 1 || e.Msg == "" {
				t.Fatalf("error without position: %#v", e)
			}
		}
	})
}
