package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The rule fixtures of classify are reused here (../../classify/testdata).
const fixtureRules = "../../classify/testdata/rules"

func runCmd2(f func(context.Context, []string, *bytes.Buffer, *bytes.Buffer) int, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := f(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func rulesRun(args ...string) (int, string, string) {
	return runCmd2(func(ctx context.Context, a []string, o, e *bytes.Buffer) int { return rulesCmd(ctx, a, o, e) }, args...)
}

func TestRulesCheck(t *testing.T) {
	code, out, errs := rulesRun("check", "../../rules/default")
	if code != 0 || !strings.Contains(out, "ok:") || errs != "" {
		t.Fatalf("check default rules: exit %d\n%s%s", code, out, errs)
	}

	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.yaml"), []byte(`departments: [{id: cgj, name: 市城市管理局}]
routes:
  - {name: 路灯, match: {any: [路灯]}, assign: {lead: nobody}, sla: {claim: soon}}
acknowledgement: {default: '{{.CaseNo}}'}
fallback: {name: 人工分拣}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "b.yaml"), []byte("# nothing\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs = rulesRun("check", dir)
	if code != 1 || out != "" {
		t.Fatalf("check broken rules: exit %d, stdout %q", code, out)
	}
	lines := strings.Split(strings.TrimSpace(errs), "\n")
	pos := regexp.MustCompile(`^.+\.yaml:\d+:\d+: [a-z]`)
	for _, l := range lines {
		if !pos.MatchString(l) {
			t.Errorf("error line without position: %q", l)
		}
	}
	for _, want := range []string{`a.yaml:3:51: route "路灯": lead: undefined department "nobody"`, `a.yaml:3:73: route "路灯": sla claim: bad duration "soon"`, "b.yaml:1:1: empty rule file"} {
		if !strings.Contains(errs, want) {
			t.Errorf("missing %q in\n%s", want, errs)
		}
	}

	// Without DIR, the configuration's rule directory: with no
	// configuration and no data directory here, the built-in rule set.
	if code, out, errs := rulesRun("check"); code != 0 || !strings.Contains(out, "ok:") {
		t.Errorf("check without DIR: exit %d\n%s%s", code, out, errs)
	}
	if code, _, _ := rulesRun("check", "a", "b"); code != 2 {
		t.Errorf("check with two directories: exit %d, want 2", code)
	}
	if code, _, _ := rulesRun("frobnicate"); code != 2 {
		t.Errorf("unknown subcommand: exit %d, want 2", code)
	}
}

func TestRulesTest(t *testing.T) {
	code, out, errs := rulesRun("test", "../../classify/testdata/failing_test.yaml", fixtureRules+"/rules_test.yaml")
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", code, out, errs)
	}
	for _, want := range []string{
		"FAIL ../../classify/testdata/failing_test.yaml:3:5 wrong lead on purpose (rules alone)\n",
		`    lead: expected "cgj", got "gas"`,
		`(decided by route "燃气泄漏" on 煤气味)`,
		"FAIL: 8 passed, 1 failed (rules alone)\n",
		"coverage: routes no test reaches: 山东\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = rulesRun("test", "--run", "^(passes|geo)", "../../classify/testdata/failing_test.yaml", fixtureRules+"/rules_test.yaml")
	if code != 0 || !strings.Contains(out, "ok: 2 passed, 0 failed (rules alone)") {
		t.Errorf("--run: exit %d\n%s", code, out)
	}
	if code, _, _ := rulesRun("test", "--run", "(", "x_test.yaml"); code != 2 {
		t.Errorf("bad --run: exit %d, want 2", code)
	}
}

func TestRulesExplain(t *testing.T) {
	code, out, errs := rulesRun("explain", "--rules.dir", fixtureRules, "阳湖花园3栋楼道里有很重的煤气味")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{"words:     阳湖花园 |", "districts: 雨山区 340504 (by place)", "  + 燃气泄漏", "  lead:       市燃气公司 [gas]", "  priority:   urgent", "model:     not consulted"} {
		if !strings.Contains(out, want) {
			t.Errorf("explain lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = rulesRun("explain", "--rules.dir", fixtureRules, "--geo", "31.717442,118.552882", "路灯坏了")
	if code != 0 || !strings.Contains(out, "districts: 花山区 340503 (by geo)") {
		t.Errorf("explain --geo: exit %d\n%s", code, out)
	}
	if code, _, _ := rulesRun("explain", "--geo", "north", "x"); code != 2 {
		t.Errorf("bad --geo: exit %d, want 2", code)
	}
}

func TestEval(t *testing.T) {
	path := filepath.Join(t.TempDir(), "labelled.jsonl")
	var b bytes.Buffer
	for _, rec := range []map[string]string{
		{"title": "煤气", "text": "阳湖花园楼道煤气味很重", "category": "城乡建设", "department": "gas"},
		{"text": "东方城二区凌晨还有噪音", "category": "环境保护", "department": "市生态环境局"},
		{"text": "说不清的事情", "category": "环境保护", "department": "sthjj"},
		{"text": "东方城二区门口路灯坏了", "category": "light", "department": "cgj"},
	} {
		line, _ := json.Marshal(rec)
		b.Write(append(line, '\n'))
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := evalCmd(context.Background(), []string{"--rules.dir", fixtureRules, path}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	// Three of four decided by routes and right (a "light" label counts at
	// its group, 城乡建设); the unmatched one goes to triage and counts as wrong.
	for _, want := range []string{"4 labelled posts", "decided by a route: 3 (75.0%)", "fallback (triage): 1 (25.0%)", "right when a route decided: 3/3 (100.0%)", "(triage)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("eval output lacks %q:\n%s", want, out.String())
		}
	}
	if !regexp.MustCompile(`accuracy\s+0\.7500`).MatchString(out.String()) {
		t.Errorf("accuracy not 0.75:\n%s", out.String())
	}
	out.Reset()
	if code := evalCmd(context.Background(), []string{"--rules.dir", fixtureRules, "--json", path}, &out, &errb); code != 0 {
		t.Fatalf("--json exit %d", code)
	}
	var res struct {
		Metrics struct {
			Accuracy float64 `json:"accuracy"`
		} `json:"metrics"`
		ByRoute int `json:"decided_by_route"`
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil || res.Metrics.Accuracy != 0.75 || res.ByRoute != 3 {
		t.Errorf("--json: %v %+v\n%s", err, res, out.String())
	}

	// Department labels (ids or names) are compared with the lead: the
	// lamp post in 花山区 goes to hs.gov, not cgj.
	out.Reset()
	if code := evalCmd(context.Background(), []string{"--rules.dir", fixtureRules, "--label", "department", "--json", path}, &out, &errb); code != 0 {
		t.Fatalf("--label department exit %d: %s", code, errb.String())
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil || res.Metrics.Accuracy != 0.5 {
		t.Errorf("department accuracy: %v %+v\n%s", err, res, out.String())
	}
}

// TestRulesTestWithModel: with a model named, every case also runs with
// it loaded. A model taught that lamp posts are an environmental matter
// overrules the 路灯 route at override 0.3 and the case fails in that run;
// marked certain, the route stands. A case no route settles takes its
// with_model expectations.
func TestRulesTestWithModel(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "labelled.jsonl")
	var b bytes.Buffer
	for i := range 30 {
		for _, rec := range []map[string]string{
			{"text": fmt.Sprintf("第%d号路灯晚上不亮，路灯杆也歪了", i), "category": "环境保护"},
			{"text": fmt.Sprintf("第%d栋楼道煤气味很重，还有人乱扔东西", i), "category": "城乡建设"},
		} {
			line, _ := json.Marshal(rec)
			b.Write(append(line, '\n'))
		}
	}
	if err := os.WriteFile(data, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	modelFile := filepath.Join(dir, "m.msbm")
	var out, errb bytes.Buffer
	if code := trainCmd(context.Background(), []string{"--quiet", "--out", modelFile, data}, &out, &errb); code != 0 {
		t.Fatalf("train: exit %d\n%s%s", code, out.String(), errb.String())
	}

	rulesDir := filepath.Join(dir, "rules")
	if err := os.MkdirAll(rulesDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"rules.yaml", "places.yaml"} {
		src, err := os.ReadFile(filepath.Join(fixtureRules, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(rulesDir, f), src, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	testFile := filepath.Join(dir, "lamp_test.yaml")
	if err := os.WriteFile(testFile, []byte(`rule_files: [rules]
tests:
  - name: lamp post
    text: 东方城二区门口路灯不亮
    expect: {districts: [花山区], lead: hs.gov, route: 路灯}
  - name: no route
    text: 东方城二区楼道煤气管子旁边有人乱扔东西
    expect: {route: 人工分拣, triage: true}
    with_model: {route: model, triage: false, category: urban}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out2, errs := rulesRun("test", "--model", modelFile, "--model.override", "0.3", testFile)
	if code != 1 {
		t.Fatalf("route not certain: exit %d, want 1\n%s%s", code, out2, errs)
	}
	for _, want := range []string{
		"lamp post (with model sha256:",
		`    route: expected "路灯", got "model"`,
		"(decided by the model: 环境保护",
		"FAIL: 3 passed, 1 failed (rules alone and with model sha256:",
	} {
		if !strings.Contains(out2, want) {
			t.Errorf("output lacks %q:\n%s", want, out2)
		}
	}

	src, err := os.ReadFile(filepath.Join(rulesDir, "rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	certain := strings.Replace(string(src), "  - name: 路灯\n", "  - name: 路灯\n    certain: true\n", 1)
	if certain == string(src) {
		t.Fatal("fixture has no route 路灯")
	}
	if err := os.WriteFile(filepath.Join(rulesDir, "rules.yaml"), []byte(certain), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out2, errs = rulesRun("test", "--model", modelFile, "--model.override", "0.3", testFile)
	if code != 0 || !strings.Contains(out2, "ok: 4 passed, 0 failed (rules alone and with model sha256:") {
		t.Errorf("route certain: exit %d\n%s%s", code, out2, errs)
	}
	// Without a model named and none in the rule set, the rules run alone.
	code, out2, _ = rulesRun("test", testFile)
	if code != 0 || !strings.Contains(out2, "ok: 2 passed, 0 failed (rules alone)") {
		t.Errorf("no model: exit %d\n%s", code, out2)
	}
}

// TestEvalRoutes: --routes lists each route with the posts it decided and
// how many were right, the worst first, and what the wrong ones were.
func TestEvalRoutes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "labelled.jsonl")
	var b bytes.Buffer
	for _, rec := range []map[string]string{
		{"text": "阳湖花园门口路灯不亮", "category": "环境保护"},
		{"text": "阳湖花园楼道路灯不亮了", "category": "城乡建设"},
		{"text": "东方城二区门口路灯坏了", "category": "城乡建设"},
		{"text": "阳湖花园楼道煤气味很重", "category": "城乡建设"},
	} {
		line, _ := json.Marshal(rec)
		b.Write(append(line, '\n'))
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := evalCmd(context.Background(), []string{"--rules.dir", fixtureRules, "--routes", path}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	list := out.String()[strings.Index(out.String(), "routes, worst first"):]
	lines := strings.Split(strings.TrimSpace(list), "\n")[1:]
	want := []*regexp.Regexp{
		regexp.MustCompile(`^  雨山区路灯\s+2\s+1\s+50\.0%  环境保护 1$`),
		regexp.MustCompile(`^  燃气泄漏\s+1\s+1\s+100\.0%\s*$`),
		regexp.MustCompile(`^  路灯\s+1\s+1\s+100\.0%\s*$`),
	}
	if len(lines) != len(want) {
		t.Fatalf("route lines:\n%s", list)
	}
	for i, re := range want {
		if !re.MatchString(lines[i]) {
			t.Errorf("line %d = %q, want %s", i, lines[i], re)
		}
	}
	out.Reset()
	if code := evalCmd(context.Background(), []string{"--rules.dir", fixtureRules, "--routes", "--json", path}, &out, &errb); code != 0 {
		t.Fatalf("--json exit %d", code)
	}
	var res struct {
		Routes []struct {
			Route   string `json:"route"`
			Decided int    `json:"decided"`
			Right   int    `json:"right"`
		} `json:"routes"`
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil || len(res.Routes) != 3 || res.Routes[0].Route != "雨山区路灯" || res.Routes[0].Decided != 2 || res.Routes[0].Right != 1 {
		t.Errorf("--json routes: %v %+v", err, res)
	}
}
