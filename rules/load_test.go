package rules

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

var wantRE = regexp.MustCompile(`(?m)#\s*want: (\d+:\d+: .*)$`)

// TestFixtures loads every testdata/fixtures/*.bad.yaml with the base rule
// set and checks that exactly the errors its "# want: line:col: message"
// comments name are reported (all of them, at once); *.good.yaml must load.
func TestFixtures(t *testing.T) {
	files, err := filepath.Glob("testdata/fixtures/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	base, err := RuleFiles("testdata/base")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			paths := append(slices.Clone(base), f)
			if strings.Contains(string(src), "# standalone") {
				paths = []string{f}
			}
			rs, err := LoadFiles(paths)
			if strings.HasSuffix(f, ".good.yaml") {
				if err != nil {
					t.Fatalf("good fixture failed:\n%v", err)
				}
				if rs.Version == "" || len(rs.Routes) == 0 {
					t.Fatalf("good fixture loaded empty: %+v", rs)
				}
				return
			}
			var want []string
			for _, m := range wantRE.FindAllStringSubmatch(string(src), -1) {
				want = append(want, f+":"+m[1])
			}
			if len(want) == 0 {
				t.Fatal("bad fixture without # want lines")
			}
			var es Errors
			if !errors.As(err, &es) {
				t.Fatalf("want Errors, got %v", err)
			}
			var got []string
			for _, e := range es {
				got = append(got, e.Error())
			}
			slices.Sort(want)
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("errors differ\ngot:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
			}
		})
	}
}

func TestGoodFixtureContent(t *testing.T) {
	base, _ := RuleFiles("testdata/base")
	rs, err := LoadFiles(append(base, "testdata/fixtures/routes.good.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	r := rs.Routes[len(rs.Routes)-1]
	if r.Name != "强光广告牌" || !r.Continue || !r.Certain || r.Priority != PriorityUrgent || r.Category != "light" {
		t.Errorf("route = %+v", r)
	}
	if !slices.Equal(r.Districts, []string{"340503", "340504"}) {
		t.Errorf("districts by name and code = %v, want codes", r.Districts)
	}
	if r.SLA == nil || r.SLA.Claim != time.Hour || r.SLA.Reply != 4*time.Hour || r.SLA.Close != 24*time.Hour {
		t.Errorf("sla = %+v", r.SLA)
	}
	if !slices.Equal(r.Match.All, []string{"广告牌"}) || !slices.Equal(r.Match.None, []string{"招租"}) || r.Match.Regex != ".*晚上.*" {
		t.Errorf("match = %+v", r.Match)
	}
	if r.Pos.File != "testdata/fixtures/routes.good.yaml" || r.Pos.Line != 2 {
		t.Errorf("pos = %v", r.Pos)
	}
	for _, ch := range Channels {
		if rs.Ack[ch] != "编号{{.CaseNo}}" {
			t.Errorf("ack %s = %q, want the default", ch, rs.Ack[ch])
		}
	}
	if rs.Triage.Threshold != DefaultTriageThreshold || !rs.Triage.UnknownDistrict {
		t.Errorf("triage defaults = %+v", rs.Triage)
	}

	rs, err = LoadFiles(append(base, "testdata/fixtures/model.good.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if rs.Model == nil || rs.Model.Threshold != 0.6 || rs.Model.Override != 0.9 || rs.Model.File != filepath.Join("testdata/fixtures", "model.bin") {
		t.Errorf("model = %+v", rs.Model)
	}
	if rs.Model.Labels["城乡建设"] != (ModelLabel{Category: "urban", Lead: "cgj"}) || rs.Model.Labels["燃气"].Lead != "gas" {
		t.Errorf("labels = %+v", rs.Model.Labels)
	}
	if rs.Triage.Threshold != 0.7 || rs.Triage.UnknownDistrict || rs.Coordinator != "cgj" {
		t.Errorf("triage/coordinator = %+v %q", rs.Triage, rs.Coordinator)
	}
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

const minimalRules = `departments: [{id: cgj, name: 市城市管理局}]
routes: [{name: 路灯, match: {any: [路灯]}, assign: {lead: cgj}}]
acknowledgement: {default: '{{.CaseNo}}'}
fallback: {name: 人工分拣}
`

func TestLoadDirectory(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"b.yaml":         "routes: [{name: 二, match: {any: [二]}, assign: {lead: cgj}}]\n",
		"a.yaml":         minimalRules,
		"c.yml":          "routes: [{name: 三, match: {any: [三]}, assign: {lead: cgj}}]\n",
		"a_test.yaml":    "this is a test file, not rules: [",
		".hidden.yaml":   "not: loaded",
		"notes.txt":      "not yaml",
		"places.yaml":    "roads: [{name: 测试路, in: 花山区}]\n",
		"sub/x.yaml":     "not: loaded",
		"zz/ignored.yml": "not: loaded",
	})
	rs, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range rs.Routes {
		names = append(names, r.Name)
	}
	if !slices.Equal(names, []string{"路灯", "二", "三"}) {
		t.Errorf("route order = %v, want lexical file order", names)
	}
	if rs.Places != filepath.Join(dir, "places.yaml") {
		t.Errorf("places = %q", rs.Places)
	}
	v1 := rs.Version

	// The places file is part of the version; editing it changes it.
	writeFiles(t, dir, map[string]string{"places.yaml": "roads: [{name: 测试路, in: 雨山区}]\n"})
	rs, err = Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if rs.Version == v1 {
		t.Error("version unchanged after the places file changed")
	}
	// Same content, same version.
	rs2, err := Load(dir)
	if err != nil || rs2.Version != rs.Version {
		t.Errorf("version not stable: %v %q %q", err, rs2.Version, rs.Version)
	}
}

func TestLoadNamedPlacesAndConfigMap(t *testing.T) {
	// A Kubernetes ConfigMap volume: files are symlinks into ..data, which
	// is itself a symlink to a timestamped directory.
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"..2026_11_26_01/rules.yaml":     minimalRules + "places: gazetteer.yaml\n",
		"..2026_11_26_01/gazetteer.yaml": "roads: []\n",
	})
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Symlink("..2026_11_26_01", filepath.Join(dir, "..data")))
	must(os.Symlink("..data/rules.yaml", filepath.Join(dir, "rules.yaml")))
	must(os.Symlink("..data/gazetteer.yaml", filepath.Join(dir, "gazetteer.yaml")))
	rs, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs.Files) != 1 || rs.Places != filepath.Join(dir, "gazetteer.yaml") {
		t.Errorf("files %v places %q: the named places file must not load as rules", rs.Files, rs.Places)
	}
}

func TestLoadErrorsNotRuleFiles(t *testing.T) {
	if _, err := Load(t.TempDir()); err == nil || !strings.Contains(err.Error(), "no rule files") {
		t.Errorf("empty dir: %v", err)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing dir: %v, want ErrNotExist", err)
	}
}
