package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/mashangban/mashangban/config"
	"github.com/mashangban/mashangban/dispatch"
	"github.com/mashangban/mashangban/model"
	"github.com/mashangban/mashangban/store"
)

const reportUsage = `usage: mashangban report weekly [--week DATE] [--format md|csv|html|json] [configuration flags]

The weekly report as the city publishes it: 一周一反馈 (per department,
against the 95% target), 一周一曝光 (cases with orange or red cards or
overdue), 一周一专报 (top subjects, districts and places, repeated problems,
week-on-week change). The week is Monday to Sunday in Asia/Shanghai; states
and "overdue now" are read at the moment the report runs. The chosen week is
written to stderr.

report flags:
`

// reportFlags are the report's own flags; the rest of the command line is
// the shared configuration (where the database is).
func reportFlags(w io.Writer) (*flag.FlagSet, *string, *string) {
	fs := flag.NewFlagSet("mashangban report weekly", flag.ContinueOnError)
	fs.SetOutput(w)
	week := fs.String("week", "", "any date (2026-11-26, or with a time: 2026-11-26 15:04) in the week to report; default: the last full week")
	format := fs.String("format", "md", "md (Markdown), csv (UTF-8 with BOM, for Excel), html (one page with charts) or json")
	return fs, week, format
}

// printReportUsage lists every flag report weekly accepts: its own and the
// configuration flags.
func printReportUsage(w io.Writer) {
	fmt.Fprint(w, reportUsage)
	fs, _, _ := reportFlags(w)
	fs.PrintDefaults()
	fmt.Fprintln(w, "\nconfiguration flags (also from the configuration file and environment):")
	var b bytes.Buffer
	config.Parse("mashangban report weekly", []string{"-h"}, func(string) (string, bool) { return "", false }, &b) //nolint:errcheck // -h only prints
	text := b.String()
	if _, rest, ok := strings.Cut(text, "\n"); ok && strings.HasPrefix(text, "Usage of") {
		text = rest
	}
	fmt.Fprint(w, text)
}

func isHelp(a string) bool { return a == "-h" || a == "-help" || a == "--help" || a == "help" }

// reportCmd prints a report from the store:
//
//	mashangban report weekly [--week DATE] [--format md|csv|html|json] [--db.url URL | --config FILE ...]
func reportCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	for _, a := range args {
		if isHelp(a) {
			printReportUsage(stdout)
			return 0
		}
	}
	if len(args) == 0 || args[0] != "weekly" {
		printReportUsage(stderr)
		return 2
	}
	own, rest, err := splitReportFlags(args[1:])
	if err != nil {
		fmt.Fprintf(stderr, "mashangban report: %v\n", err)
		return 2
	}
	fs, weekFlag, formatFlag := reportFlags(stderr)
	if err := fs.Parse(own); err != nil {
		return 2
	}
	cfg, extra, err := config.Parse("mashangban report weekly", rest, os.LookupEnv, stderr)
	if err != nil {
		return configError(stderr, err)
	}
	if len(extra) > 0 {
		fmt.Fprintf(stderr, "mashangban report: unexpected arguments %q\n", extra)
		return 2
	}
	format := *formatFlag
	switch format {
	case "md", "csv", "html", "json":
	default:
		fmt.Fprintf(stderr, "mashangban report: --format: want md, csv, html or json, got %q\n", format)
		return 2
	}
	loc := model.Shanghai
	now := time.Now()
	day := dispatch.LastFullWeek(now, loc)
	if *weekFlag != "" {
		if day, err = dispatch.ParseWeekDate(*weekFlag, loc); err != nil {
			fmt.Fprintf(stderr, "mashangban report: --week: want a date such as 2026-11-26 (optionally with a time), got %q\n", *weekFlag)
			return 2
		}
	}
	monday := dispatch.WeekOf(day, loc)
	fmt.Fprintf(stderr, "mashangban report: week %s (Monday) to %s (Sunday), Asia/Shanghai\n",
		monday.Format("2006-01-02"), monday.AddDate(0, 0, 6).Format("2006-01-02"))

	st, err := store.Open(ctx, cfg.DBURL(), nil)
	if err != nil {
		fmt.Fprintf(stderr, "mashangban report: db.url: %v\n", err)
		return 1
	}
	defer st.Close()
	if err := st.CheckSchema(ctx); err != nil {
		fmt.Fprintf(stderr, "mashangban report: %v\n", err)
		return 1
	}
	names, categories, err := cliNames(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "mashangban report: %v\n", err)
		return 1
	}
	rep, err := dispatch.BuildReport(ctx, st, monday, now, loc, names, dispatch.WithCategoryNames(categories))
	if err != nil {
		fmt.Fprintf(stderr, "mashangban report: %v\n", err)
		return 1
	}
	switch format {
	case "csv":
		err = rep.WriteCSV(stdout)
	case "html":
		err = rep.WriteHTML(stdout)
	case "json":
		err = writeReportJSON(stdout, rep)
	default:
		err = rep.WriteMarkdown(stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "mashangban report: %v\n", err)
		return 1
	}
	return 0
}

// splitReportFlags takes --week and --format (as "--week DATE" or
// "--week=DATE", one or two dashes) out of args, normalised to
// "--name=value" for the report's flag set, and leaves the rest for the
// shared configuration flags.
func splitReportFlags(args []string) ([]string, []string, error) {
	var own, rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || (name != "week" && name != "format") {
			rest = append(rest, a)
			continue
		}
		if !hasVal {
			if i+1 >= len(args) {
				return nil, nil, fmt.Errorf("--%s needs a value", name)
			}
			i++
			val = args[i]
		}
		own = append(own, "--"+name+"="+val)
	}
	return own, rest, nil
}

func writeReportJSON(w io.Writer, r dispatch.Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}
