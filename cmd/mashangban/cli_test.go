package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/mashangban/mashangban/config"
	defaultrules "github.com/mashangban/mashangban/rules/default"
)

// configFlagNames are the flags of every command that reads the
// configuration, as the configuration's parser defines them.
func configFlagNames(t *testing.T) []string {
	t.Helper()
	var b bytes.Buffer
	config.Parse("x", []string{"-h"}, func(string) (string, bool) { return "", false }, &b) //nolint:errcheck // -h only prints
	var names []string
	for _, m := range regexp.MustCompile(`(?m)^\s+-([a-z.]+)`).FindAllStringSubmatch(b.String(), -1) {
		names = append(names, m[1])
	}
	if len(names) < 10 {
		t.Fatalf("configuration flags: %q", b.String())
	}
	return names
}

// TestEveryCommandHelp: every command and subcommand answers --help (and
// -h) with exit 0, on stdout, listing every flag it accepts.
func TestEveryCommandHelp(t *testing.T) {
	cfgFlags := configFlagNames(t)
	type sub struct {
		name string   // flag set name, "mashangban ..."
		args []string // before --help
		cfg  bool     // takes the configuration flags
	}
	var subs []sub
	for name := range commands {
		switch name {
		case "rules":
			for _, s := range []string{"check", "test", "explain"} {
				subs = append(subs, sub{name: "mashangban rules " + s, args: []string{"rules", s}})
			}
			subs = append(subs, sub{name: "", args: []string{"rules"}})
		case "report":
			subs = append(subs, sub{name: "", args: []string{"report", "weekly"}, cfg: true})
		case "run", "migrate":
			subs = append(subs, sub{name: "", args: []string{name}, cfg: true})
		default:
			subs = append(subs, sub{name: "mashangban " + name, args: []string{name}})
		}
	}
	for _, s := range subs {
		for _, help := range []string{"--help", "-h"} {
			t.Run(strings.Join(s.args, " ")+" "+help, func(t *testing.T) {
				var out, errb bytes.Buffer
				args := append(append([]string{}, s.args[1:]...), help)
				code := commands[s.args[0]].run(context.Background(), args, &out, &errb)
				if code != 0 || out.Len() == 0 || errb.Len() != 0 {
					t.Fatalf("exit %d, stdout %q, stderr %q", code, out.String(), errb.String())
				}
				text := out.String()
				if !strings.Contains(text, "usage: mashangban "+s.args[0]) {
					t.Errorf("no usage line:\n%s", text)
				}
				var want []string
				if s.name != "" {
					flagSetsMu.Lock()
					fs := flagSets[s.name]
					flagSetsMu.Unlock()
					if fs == nil {
						t.Fatalf("no flag set %q recorded", s.name)
					}
					fs.VisitAll(func(f *flag.Flag) { want = append(want, f.Name) })
				}
				if s.cfg {
					want = append(want, cfgFlags...)
				}
				for _, f := range want {
					if !regexp.MustCompile(`(?m)^\s+-` + regexp.QuoteMeta(f) + `\b`).MatchString(text) {
						t.Errorf("help does not list -%s:\n%s", f, text)
					}
				}
			})
		}
	}
}

// TestRulesCommandsHonourConfig: a configuration naming another rule
// directory changes what rules explain, check, test and eval read.
func TestRulesCommandsHonourConfig(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "rules")
	if _, err := defaultrules.WriteTo(dir); err != nil {
		t.Fatal(err)
	}
	deps := filepath.Join(dir, "00-departments.yaml")
	b, err := os.ReadFile(deps)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(deps, bytes.ReplaceAll(b, []byte("{id: cgj, name: 市城市管理局}"), []byte("{id: cgj, name: 市城市管理和综合执法局}")), 0o644); err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(t.TempDir(), "mashangban.yaml")
	if err := os.WriteFile(cfgFile, []byte("data_dir: "+t.TempDir()+"\nrules:\n  dir: "+dir+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	text := "东方城二区16栋对面楼顶广告牌强光太亮，晚上11点还亮着"

	code, out, errs := rulesRun("explain", "--config", cfgFile, text)
	if code != 0 || !strings.Contains(out, "lead:       市城市管理和综合执法局 [cgj]") {
		t.Fatalf("explain with --config: exit %d\n%s%s", code, out, errs)
	}
	t.Setenv("MSB_CONFIG", cfgFile)
	if code, out, errs := rulesRun("explain", text); code != 0 || !strings.Contains(out, "市城市管理和综合执法局") {
		t.Errorf("explain with MSB_CONFIG: exit %d\n%s%s", code, out, errs)
	}
	t.Setenv("MSB_CONFIG", "")
	if code, out, errs := rulesRun("explain", "--rules.dir", "../../rules/default", "--config", cfgFile, text); code != 0 ||
		!strings.Contains(out, "lead:       市城市管理局 [cgj]") {
		t.Errorf("--rules.dir does not win over --config: exit %d\n%s%s", code, out, errs)
	}
	if code, out, errs := rulesRun("check", "--config", cfgFile); code != 0 || !strings.HasPrefix(out, dir+": ok:") {
		t.Errorf("check with --config: exit %d\n%s%s", code, out, errs)
	}
	if code, out, errs := rulesRun("test", "--config", cfgFile, "--run", "广告牌"); code != 0 || !strings.Contains(out, "ok: ") {
		t.Errorf("test with --config: exit %d\n%s%s", code, out, errs)
	}
	labelled := filepath.Join(t.TempDir(), "l.jsonl")
	if err := os.WriteFile(labelled, []byte(`{"text":"`+text+`","department":"cgj"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var o, e bytes.Buffer
	if code := evalCmd(context.Background(), []string{"--config", cfgFile, "--label", "department", labelled}, &o, &e); code != 0 || !strings.Contains(o.String(), "1") {
		t.Errorf("eval with --config: exit %d\n%s%s", code, o.String(), e.String())
	}
	broken := filepath.Join(t.TempDir(), "broken.yaml")
	if err := os.WriteFile(broken, []byte("rules: {dri: x}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := rulesRun("explain", "--config", broken, text); code != 2 || !strings.Contains(errs, "dri") {
		t.Errorf("explain with a broken configuration: exit %d, %q", code, errs)
	}
}

func TestVersionText(t *testing.T) {
	info := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/mashangban/mashangban", Version: "v1.4.0"},
		Settings: []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "1a159fe0123456789abcdef0123456789abcdef0"},
			{Key: "vcs.time", Value: "2026-12-02T13:45:00Z"}, {Key: "vcs.modified", Value: "true"}}}
	noVCS := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}}
	for _, tt := range []struct {
		info          *debug.BuildInfo
		override, rev string
		want          string
	}{
		{info, "", "", "mashangban v1.4.0 (revision 1a159fe0123456789abcdef0123456789abcdef0, modified, 2026-12-02T13:45:00Z) go1.26.8"},
		{info, "v1.4.0-city", "", "mashangban v1.4.0-city (revision 1a159fe0123456789abcdef0123456789abcdef0, modified, 2026-12-02T13:45:00Z) go1.26.8"},
		// The recorded revision wins over one given at link time.
		{info, "", "0000000000000000000000000000000000000000", "mashangban v1.4.0 (revision 1a159fe0123456789abcdef0123456789abcdef0, modified, 2026-12-02T13:45:00Z) go1.26.8"},
		{noVCS, "", "", "mashangban (devel) (no VCS revision recorded) go1.26.8"},
		// A build without .git (the Docker image) shows the linked one.
		{noVCS, "", "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432", "mashangban (devel) (revision 9f8e7d6c5b4a39281706f5e4d3c2b1a098765432) go1.26.8"},
	} {
		if got := versionText(tt.info, tt.override, tt.rev); got != tt.want {
			t.Errorf("versionText = %q, want %q", got, tt.want)
		}
	}
}

// TestVersionOfABuiltBinary builds mashangban from a clone of this commit
// and checks that `version` prints the commit's revision.
func TestVersionOfABuiltBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	git, err := exec.LookPath("git")
	if err != nil {
		t.Skip("no git")
	}
	head, err := exec.Command(git, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skipf("not in a git checkout: %v", err)
	}
	rev := strings.TrimSpace(string(head))
	root, err := exec.Command(git, "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Skip(err)
	}
	// A clone, because go build records no VCS information in a linked
	// worktree, and the committed tree is what the revision names.
	clone := filepath.Join(t.TempDir(), "src")
	if out, err := exec.Command(git, "clone", "-q", "--no-hardlinks", strings.TrimSpace(string(root)), clone).CombinedOutput(); err != nil {
		t.Skipf("git clone: %v\n%s", err, out)
	}
	if out, err := exec.Command(git, "-C", clone, "checkout", "-q", rev).CombinedOutput(); err != nil {
		t.Fatalf("checkout: %v\n%s", err, out)
	}
	bin := filepath.Join(t.TempDir(), "mashangban")
	build := exec.Command("go", "build", "-buildvcs=true", "-o", bin, "./cmd/mashangban")
	build.Dir = clone
	build.Env = append(os.Environ(), "GOFLAGS=")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	got := string(out)
	if !strings.Contains(got, "(revision "+rev) || strings.Contains(got, "dev ") || strings.Contains(got, "modified") {
		t.Errorf("version = %q, want revision %s", got, rev)
	}
	// The module version is a pseudo-version made from the commit (or a tag).
	if !regexp.MustCompile(`^mashangban v\d+\.\d+\.\d+\S* \(revision`).MatchString(got) {
		t.Errorf("version = %q, want a module version", got)
	}
}

// TestVersionOfTheDockerBuild builds mashangban as the Dockerfile does, with
// its -ldflags and a REVISION, from a copy of the source without .git (as
// the build context is): `version` prints that revision.
func TestVersionOfTheDockerBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	df, err := os.ReadFile(filepath.Join("..", "..", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`go build -trimpath -ldflags "([^"]*)"`).FindSubmatch(df)
	if m == nil {
		t.Fatal("no go build -ldflags line in the Dockerfile")
	}
	const rev = "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432"
	ldflags := strings.NewReplacer("${REVISION}", rev, "${VERSION}", "").Replace(string(m[1]))
	if !strings.Contains(ldflags, "main.revision="+rev) {
		t.Fatalf("the Dockerfile's ldflags %q do not set main.revision from REVISION", m[1])
	}
	bin := filepath.Join(t.TempDir(), "mashangban")
	build := exec.Command("go", "build", "-buildvcs=false", "-trimpath", "-ldflags", ldflags, "-o", bin, ".")
	build.Env = append(os.Environ(), "GOFLAGS=", "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := string(out); !strings.Contains(got, "(revision "+rev+")") {
		t.Errorf("version = %q, want revision %s", got, rev)
	}
}
