package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/mashangban/mashangban/classify"
	"github.com/mashangban/mashangban/classify/gazetteer"
	"github.com/mashangban/mashangban/config"
	"github.com/mashangban/mashangban/model"
	"github.com/mashangban/mashangban/rules"
	defaultrules "github.com/mashangban/mashangban/rules/default"
)

const rulesUsage = `usage: mashangban rules COMMAND

commands:
  check [--config FILE] [DIR]     load a rule directory strictly; print every error with file:line:col
  test [--config FILE] [--run REGEX] [--model FILE] [FILE...]
                                  run rule test files with the rules alone and with the model;
                                  print failures and the routes no test reaches
  explain [--config FILE | --rules.dir DIR] TEXT
                                  show how TEXT is classified: words, places, every route, the model

Without DIR or --rules.dir, the rule directory is the configuration's: rules.dir from
--config FILE (or MSB_CONFIG) and MSB_RULES_DIR, else <data_dir>/rules if the daemon
wrote it, else the built-in rule set. 'mashangban rules COMMAND --help' lists its flags.
`

// rulesCmd runs `mashangban rules`: the same loader and engine as the daemon.
func rulesCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, rulesUsage)
		return 2
	}
	switch args[0] {
	case "check":
		return rulesCheck(args[1:], stdout, stderr)
	case "test":
		return rulesTest(ctx, args[1:], stdout, stderr)
	case "explain":
		return rulesExplain(ctx, args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, rulesUsage)
		return 0
	}
	fmt.Fprintf(stderr, "mashangban rules: unknown command %q\n\n%s", args[0], rulesUsage)
	return 2
}

func rulesCheck(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("mashangban rules check", "mashangban rules check [--config FILE] [DIR]", stderr)
	configFile := fs.String("config", "", "configuration file whose rules.dir is checked when no DIR is given (default $MSB_CONFIG)")
	if code, done := parseFlags(fs, args, stdout); done {
		return code
	}
	if fs.NArg() > 1 {
		fmt.Fprintln(stderr, "usage: mashangban rules check [--config FILE] [DIR]")
		return 2
	}
	dir := fs.Arg(0)
	if dir == "" {
		d, cleanup, err := cliRulesDir("mashangban rules check", "", *configFile)
		if err != nil {
			fmt.Fprintf(stderr, "mashangban rules check: %v\n", err)
			return 2
		}
		defer cleanup()
		dir = d
	}
	rs, err := rules.Load(dir)
	if err != nil {
		printErrors(stderr, err)
		return 1
	}
	var errs []error
	if rs.Places != "" {
		b, err := os.ReadFile(rs.Places)
		if err == nil {
			var places []gazetteer.Place
			if places, err = gazetteer.ParsePlaces(rs.Places, b); err == nil {
				_, err = gazetteer.New(places)
			}
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	if rs.Model != nil {
		if _, err := classify.LoadModel(rs.Model.File); err != nil {
			errs = append(errs, fmt.Errorf("%s: model: %w", rs.Model.Pos, err))
		}
	}
	if len(errs) > 0 {
		for _, err := range errs {
			printErrors(stderr, err)
		}
		return 1
	}
	fmt.Fprintf(stdout, "%s: ok: %d files, %d departments, %d categories, %d routes, version %s\n",
		dir, len(rs.Files), len(rs.Departments), len(rs.Categories), len(rs.Routes), rs.Version)
	return 0
}

// printErrors prints one line per problem (rules.Errors and the
// gazetteer's Errors are already one per line).
func printErrors(w io.Writer, err error) {
	for _, line := range strings.Split(err.Error(), "\n") {
		fmt.Fprintln(w, line)
	}
}

func rulesTest(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("mashangban rules test", "mashangban rules test [--config FILE] [--run REGEX] [--model FILE] [FILE...]", stderr)
	configFile := fs.String("config", "", "configuration file: without FILE arguments, the test files (*_test.yaml) of its rules.dir are run (default $MSB_CONFIG)")
	runRE := fs.String("run", "", "run only the test cases whose name matches this regular expression")
	modelFile := fs.String("model", "", "also run every case with this model loaded (default: the rule set's model section, if any)")
	threshold := fs.Float64("model.threshold", 0, "the model's confidence threshold, overriding the rule set's (0: keep)")
	override := fs.Float64("model.override", 0, "with --model and no model section in the rules: the confidence at which the model overrules a route that is not certain (0: never)")
	if code, done := parseFlags(fs, args, stdout); done {
		return code
	}
	files := fs.Args()
	if len(files) == 0 {
		dir, cleanup, err := cliRulesDir("mashangban rules test", "", *configFile)
		if err != nil {
			fmt.Fprintf(stderr, "mashangban rules test: %v\n", err)
			return 2
		}
		defer cleanup()
		if files, err = filepath.Glob(filepath.Join(dir, "*_test.yaml")); err != nil || len(files) == 0 {
			fmt.Fprintf(stderr, "mashangban rules test: no test files (*_test.yaml) in %s\nusage: mashangban rules test [--config FILE] [--run REGEX] [--model FILE] [FILE...]\n", dir)
			return 2
		}
	}
	var re *regexp.Regexp
	if *runRE != "" {
		var err error
		if re, err = regexp.Compile(*runRE); err != nil {
			fmt.Fprintf(stderr, "mashangban rules test: bad --run: %v\n", err)
			return 2
		}
	}
	rep, err := classify.RunTestFiles(ctx, files, classify.TestOptions{Run: re, ModelFile: *modelFile, ModelThreshold: *threshold, ModelOverride: *override})
	if err != nil {
		printErrors(stderr, err)
		return 1
	}
	for _, r := range rep.Results {
		if len(r.Failures) == 0 {
			continue
		}
		with := "rules alone"
		if r.Model != "" {
			with = "with model " + r.Model
		}
		fmt.Fprintf(stdout, "FAIL %s %s (%s)\n", r.Case.Pos, r.Case.Name, with)
		for _, f := range r.Failures {
			fmt.Fprintf(stdout, "    %s\n", f)
		}
		if rs := r.Decision.Explanation.Routes; len(rs) > 0 {
			fmt.Fprintf(stdout, "    (decided by route %q on %s)\n", rs[0].Name, strings.Join(rs[0].Words, ", "))
		} else if m := r.Decision.Explanation.Model; m != nil && !r.Decision.Explanation.Fallback {
			fmt.Fprintf(stdout, "    (decided by the model: %s %.2f)\n", m.Label, m.Score)
		} else if r.Decision.Triage {
			fmt.Fprintf(stdout, "    (triage: %s)\n", r.Decision.TriageReason)
		}
	}
	status := "ok"
	if rep.Failed > 0 {
		status = "FAIL"
	}
	runs := "rules alone"
	if len(rep.Models) > 0 {
		runs = "rules alone and with model " + strings.Join(rep.Models, ", ")
	}
	fmt.Fprintf(stdout, "%s: %d passed, %d failed (%s)\n", status, rep.Passed, rep.Failed, runs)
	if len(rep.Unreached) == 0 {
		fmt.Fprintln(stdout, "coverage: every route is reached by a test")
	} else {
		fmt.Fprintf(stdout, "coverage: routes no test reaches: %s\n", strings.Join(rep.Unreached, ", "))
	}
	if rep.Failed > 0 {
		return 1
	}
	return 0
}

func rulesExplain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("mashangban rules explain", "mashangban rules explain [--config FILE | --rules.dir DIR] [--geo LAT,LON] [--region R] [--channel C] TEXT", stderr)
	dir := fs.String("rules.dir", "", "rule directory (default: the configuration's rules.dir, $MSB_RULES_DIR, <data_dir>/rules, else the built-in rule set)")
	configFile := fs.String("config", "", "configuration file whose rules.dir is used (default $MSB_CONFIG)")
	modelFile := fs.String("model", "", "model file, overriding the rule set's")
	threshold := fs.Float64("model.threshold", 0, "the model's confidence threshold, overriding the rule set's (0: keep)")
	override := fs.Float64("model.override", 0, "with --model and no model section in the rules: the confidence at which the model overrules a route of another category group (0: never)")
	geo := fs.String("geo", "", "the post's point as LAT,LON (GCJ-02)")
	region := fs.String("region", "", "the platform's region hint, e.g. \"安徽 马鞍山 花山区\"")
	channel := fs.String("channel", "weibo", "channel: weibo, wechat or replay")
	if code, done := parseFlags(fs, args, stdout); done {
		return code
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "usage: mashangban rules explain [--config FILE | --rules.dir DIR] [--geo LAT,LON] [--region R] TEXT")
		return 2
	}
	p := model.Post{ID: "explain:1", Channel: model.Channel(*channel), Text: strings.Join(fs.Args(), " "), Region: *region}
	if *geo != "" {
		lat, lon, ok := strings.Cut(*geo, ",")
		la, err1 := strconv.ParseFloat(strings.TrimSpace(lat), 64)
		lo, err2 := strconv.ParseFloat(strings.TrimSpace(lon), 64)
		if !ok || err1 != nil || err2 != nil {
			fmt.Fprintf(stderr, "mashangban rules explain: bad --geo %q (want LAT,LON)\n", *geo)
			return 2
		}
		p.Geo = &model.Geo{Lat: la, Lon: lo, System: "gcj02"}
	}
	rulesDir, cleanup, err := cliRulesDir("mashangban rules explain", *dir, *configFile)
	if err != nil {
		fmt.Fprintf(stderr, "mashangban rules explain: %v\n", err)
		return 2
	}
	defer cleanup()
	e, err := classify.Build(ctx, classify.Options{RulesDir: rulesDir, ModelFile: *modelFile, ModelOverride: *override, ModelThreshold: *threshold})
	if err != nil {
		printErrors(stderr, err)
		return 1
	}
	d, tr := e.Explain(p)
	if err := classify.WriteExplain(stdout, d, tr); err != nil {
		fmt.Fprintf(stderr, "mashangban rules explain: %v\n", err)
		return 1
	}
	return 0
}

// cliRulesDir picks the rule directory for the tools: the --rules.dir
// flag, else the configuration's (configFile, or MSB_CONFIG, then the
// environment; see configRulesDir).
func cliRulesDir(name, flagDir, configFile string) (string, func(), error) {
	if flagDir != "" {
		return flagDir, func() {}, nil
	}
	var args []string
	if configFile != "" {
		args = []string{"--config", configFile}
	}
	cfg, _, err := config.Parse(name, args, os.LookupEnv, io.Discard)
	if err != nil {
		return "", nil, err
	}
	return configRulesDir(cfg)
}

// configRulesDir is the rule directory of a configuration: rules.dir if it
// is set (in the file, MSB_RULES_DIR or --rules.dir), else the data
// directory's rules if the daemon has written them, else the built-in rule
// set written to a temporary directory (removed by the cleanup function).
func configRulesDir(cfg config.Config) (string, func(), error) {
	if cfg.Rules.Dir != "" {
		return cfg.Rules.Dir, func() {}, nil
	}
	if st, err := os.Stat(cfg.RulesDir()); err == nil && st.IsDir() {
		return cfg.RulesDir(), func() {}, nil
	}
	tmp, err := os.MkdirTemp("", "mashangban-rules-")
	if err != nil {
		return "", nil, err
	}
	cleanup := func() { os.RemoveAll(tmp) }
	if _, err := defaultrules.WriteTo(tmp); err != nil {
		cleanup()
		return "", nil, err
	}
	return tmp, cleanup, nil
}

// cliNames are the department and category names the configuration's rule
// set gives, with the configuration's own department names
// (dispatch.departments[].name) taking precedence.
func cliNames(cfg config.Config) (departments, categories map[string]string, err error) {
	dir, cleanup, err := configRulesDir(cfg)
	if err != nil {
		return nil, nil, err
	}
	defer cleanup()
	rs, err := rules.Load(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("rules.dir: %w", err)
	}
	departments, categories = map[string]string{}, map[string]string{}
	for _, d := range rs.Departments {
		departments[d.ID] = d.Name
	}
	for _, c := range rs.Categories {
		categories[c.ID] = c.Name
	}
	for _, d := range cfg.Dispatch.Departments {
		if d.Name != "" {
			departments[d.ID] = d.Name
		}
	}
	return departments, categories, nil
}
