package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mashangban/mashangban/classify/gazetteer"
	linear "github.com/mashangban/mashangban/classify/linear"
	"github.com/mashangban/mashangban/classify/segment"
	"github.com/mashangban/mashangban/config"
	"github.com/mashangban/mashangban/store"
)

const trainUsage = `usage: mashangban train [--label category|department] [--out FILE] [--cv K | --holdout FRAC] [--eval FILE] FILE.jsonl...
       mashangban train --from-store [--store-cases all|hand] [--config FILE | --db.url URL | --data.dir DIR] [other flags] [FILE.jsonl...]

--from-store trains on the store's own cases: each case's text with its final
lead department (--label department) or category (--label category), after
hand routing and transfers; labelled files given as well are mixed in.`

// trainCmd runs `mashangban train`: read labelled JSON Lines, cut them with
// the daemon's segmenter (gse plus the gazetteer's places), train the
// learned fallback and write the model file. --cv and --holdout print
// figures measured on data the model did not see; --eval measures the
// written model alone (no rules) on another labelled file.
func trainCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("mashangban train", strings.TrimPrefix(trainUsage, "usage: "), stderr)
	def := linear.DefaultTrainOptions()
	label := fs.String("label", "category", "label field of the JSON Lines: category or department")
	out := fs.String("out", "model.msbm", "model file to write")
	folds := fs.Int("cv", 0, "also report K-fold cross-validation on the input (0: none); the model written is trained on all of it")
	holdout := fs.Float64("holdout", 0, "hold about this fraction of the input out (stratified), train on the rest, report on it; the model written is the one measured")
	evalFile := fs.String("eval", "", "labelled JSON Lines file to measure the written model on (the model alone, without rules)")
	loss := fs.String("loss", string(def.Loss), "training objective: svm or logistic")
	c := fs.Float64("svm.c", def.C, "SVM cost")
	balanced := fs.Bool("balanced", def.Balanced, "weight each label by the inverse of its frequency")
	minDF := fs.Int("min-df", def.Features.MinDF, "messages a term must occur in to enter the vocabulary")
	charMax := fs.Int("char-max", def.Features.CharMax, "longest character n-gram (0: none)")
	words := fs.Bool("words", def.Features.Words, "use the segmenter's words")
	bigrams := fs.Bool("word-bigrams", def.Features.WordBigrams, "also use pairs of adjacent words")
	calibrate := fs.Bool("calibrate", def.Calibrate, "fit the confidence scale on a held-out third (one more training)")
	seed := fs.Uint64("seed", def.Seed, "seed of the visiting order and the splits")
	quiet := fs.Bool("quiet", false, "print only the summary lines, not the per-label tables")
	fromStore := fs.Bool("from-store", false, "also train on the store's cases (final department or category, after transfers)")
	storeCases := fs.String("store-cases", "all", "with --from-store: all (every case with a lead) or hand (only cases routed from triage or transferred by a person)")
	cfgFile := fs.String("config", "", "with --from-store: configuration file naming the store")
	dbURL := fs.String("db.url", "", "with --from-store: the store's URL (postgres://... or sqlite:PATH)")
	dataDir := fs.String("data.dir", "", "with --from-store: data directory of the embedded default (its SQLite file)")
	if code, done := parseFlags(fs, args, stdout); done {
		return code
	}
	if (fs.NArg() == 0 && !*fromStore) || (*storeCases != "all" && *storeCases != "hand") || (*label != "category" && *label != "department") || (*folds != 0 && *holdout != 0) || *folds < 0 || *folds == 1 || *holdout < 0 || *holdout >= 1 {
		fmt.Fprintln(stderr, trainUsage)
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "mashangban train: %v\n", err)
		return 1
	}
	opts := def
	opts.Loss, opts.C, opts.Seed, opts.Balanced, opts.Calibrate = linear.Loss(*loss), *c, *seed, *balanced, *calibrate
	opts.Features.MinDF, opts.Features.CharMax, opts.Features.Words, opts.Features.WordBigrams = *minDF, *charMax, *words, *bigrams

	var examples []linear.Example
	var sources []string
	if *fromStore {
		var cfgArgs []string
		for _, f := range []struct{ name, val string }{{"config", *cfgFile}, {"db.url", *dbURL}, {"data.dir", *dataDir}} {
			if f.val != "" {
				cfgArgs = append(cfgArgs, "--"+f.name+"="+f.val)
			}
		}
		cfg, _, err := config.Parse("mashangban train", cfgArgs, os.LookupEnv, stderr)
		if err != nil {
			return configError(stderr, err)
		}
		exs, what, err := storeExamples(ctx, cfg.DBURL(), *label, *storeCases == "hand")
		if err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "read %s\n", what)
		examples = append(examples, exs...)
		sources = append(sources, what)
	}
	for _, name := range fs.Args() {
		exs, err := readLabelledFile(name, *label)
		if err != nil {
			return fail(err)
		}
		examples = append(examples, exs...)
		sources = append(sources, fmt.Sprintf("%s: %d labelled messages", filepath.Base(name), len(exs)))
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stdout, "read %d labelled messages from %d file(s), label %s\n", len(examples), fs.NArg(), *label)
	}
	if len(examples) == 0 {
		return fail(errors.New("nothing to train on"))
	}

	start := time.Now()
	seg, err := newTrainSegmenter()
	if err != nil {
		return fail(err)
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	tok := linear.Tokenize(seg, examples)
	fmt.Fprintf(stdout, "segmenter ready and messages cut in %v\n", time.Since(start).Round(time.Millisecond))

	report := func(title string, m linear.Metrics) {
		fmt.Fprintf(stdout, "\n%s: %d messages, accuracy %.4f, macro-F1 %.4f\n", title, m.N, m.Accuracy, m.MacroF1)
		if !*quiet {
			m.WriteText(stdout)
		}
	}
	if *folds > 0 {
		start := time.Now()
		m, err := linear.CrossValidate(tok, opts, *folds)
		if err != nil {
			return fail(err)
		}
		report(fmt.Sprintf("%d-fold cross-validation (%v)", *folds, time.Since(start).Round(time.Millisecond)), m)
		if err := ctx.Err(); err != nil {
			return fail(err)
		}
	}
	trainSet := tok
	var held []linear.TokenizedExample
	if *holdout > 0 {
		if trainSet, held, err = linear.SplitHoldout(tok, *holdout, *seed); err != nil {
			return fail(err)
		}
	}
	start = time.Now()
	m, err := linear.TrainTokenized(trainSet, opts)
	if err != nil {
		return fail(err)
	}
	fmt.Fprintf(stdout, "\ntrained on %d messages in %v: %d labels, %d features\n", len(trainSet), time.Since(start).Round(time.Millisecond), len(m.Labels()), m.NumFeatures())
	if held != nil {
		report(fmt.Sprintf("held out (%.0f%%)", 100*float64(len(held))/float64(len(tok))), measure(m, held))
	}
	if *evalFile != "" {
		exs, err := readLabelledFile(*evalFile, *label)
		if err != nil {
			return fail(err)
		}
		report(*evalFile, measure(m, linear.Tokenize(seg, exs)))
	}
	m = m.WithTrainInfo(linear.TrainInfo{At: time.Now(), Label: *label, Examples: len(trainSet), Sources: sources})
	size, err := writeModel(*out, m)
	if err != nil {
		return fail(err)
	}
	fmt.Fprintf(stdout, "\nwrote %s (%d bytes), model version %s\n", *out, size, m.Version())
	return 0
}

// newTrainSegmenter builds the segmenter the daemon uses: gse with the
// gazetteer's place names, so that the model sees the same words at
// training and at run time.
func newTrainSegmenter() (*segment.Segmenter, error) {
	gz, err := gazetteer.New(nil)
	if err != nil {
		return nil, fmt.Errorf("gazetteer: %w", err)
	}
	return segment.New(gz.Words())
}

// storeExamples reads the store's cases as labelled examples: the text of
// the post that opened each case with its final lead department or
// category. Cases without that label are left out and counted.
func storeExamples(ctx context.Context, url, label string, byHandOnly bool) ([]linear.Example, string, error) {
	st, err := store.Open(ctx, url, nil)
	if err != nil {
		return nil, "", fmt.Errorf("store: %w", err)
	}
	defer st.Close()
	if err := st.CheckSchema(ctx); err != nil {
		return nil, "", fmt.Errorf("store: %w", err)
	}
	cases, err := st.LabelledCases(ctx, store.LabelledFilter{ByHandOnly: byHandOnly})
	if err != nil {
		return nil, "", err
	}
	var exs []linear.Example
	hand, unlabelled := 0, 0
	for _, c := range cases {
		l := c.Lead
		if label == "category" {
			l = c.Category
		}
		if l == "" || strings.TrimSpace(c.Text) == "" {
			unlabelled++
			continue
		}
		if c.ByHand {
			hand++
		}
		exs = append(exs, linear.Example{Text: c.Text, Label: l})
	}
	what := fmt.Sprintf("store: %d cases (%d routed or transferred by hand), label %s", len(exs), hand, label)
	if unlabelled > 0 {
		what += fmt.Sprintf(", %d without one left out", unlabelled)
	}
	return exs, what, nil
}

func readLabelledFile(name, label string) ([]linear.Example, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	exs, err := linear.ReadLabelled(f, label)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return exs, nil
}

func measure(m *linear.Model, exs []linear.TokenizedExample) linear.Metrics {
	gold := make([]string, len(exs))
	pred := make([]string, len(exs))
	for i, ex := range exs {
		gold[i], pred[i] = ex.Label, m.Predict(ex.Tokens, ex.Text).Label
	}
	return linear.Evaluate(gold, pred)
}

// writeModel writes the file next to its destination and renames it into
// place, so that a daemon watching the path never reads half a model.
func writeModel(path string, m *linear.Model) (int64, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return 0, fmt.Errorf("write model: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := m.Save(tmp); err != nil {
		tmp.Close()
		return 0, err
	}
	info, statErr := tmp.Stat()
	if err := errors.Join(tmp.Sync(), tmp.Close(), statErr); err != nil {
		return 0, fmt.Errorf("write model: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return 0, fmt.Errorf("write model: %w", err)
	}
	return info.Size(), nil
}
