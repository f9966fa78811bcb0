package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/mashangban/mashangban/config"
	"github.com/mashangban/mashangban/dispatch"
	"github.com/mashangban/mashangban/store"
)

// reportCmd prints a report from the store:
//
//	mashangban report weekly [--week YYYY-MM-DD] [--format csv|md|json] [--db.url URL | --config FILE ...]
//
// The week starts on the given date (Asia/Shanghai); the default is the last
// full Monday-to-Sunday week. Counts of states and "overdue now" are as of
// the moment the report runs.
func reportCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "weekly" {
		fmt.Fprintln(stderr, "usage: mashangban report weekly [--week YYYY-MM-DD] [--format csv|md|json] [--db.url URL]")
		return 2
	}
	own, rest, err := splitReportFlags(args[1:])
	if err != nil {
		fmt.Fprintf(stderr, "mashangban report: %v\n", err)
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
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		loc = time.FixedZone("CST", 8*3600)
	}
	now := time.Now()
	week := dispatch.LastFullWeek(now, loc)
	if own["week"] != "" {
		if week, err = time.Parse("2006-01-02", own["week"]); err != nil {
			fmt.Fprintf(stderr, "mashangban report: --week: want a date like 2026-11-23, got %q\n", own["week"])
			return 2
		}
	}
	format := own["format"]
	switch format {
	case "":
		format = "md"
	case "csv", "md", "json":
	default:
		fmt.Fprintf(stderr, "mashangban report: --format: want csv, md or json, got %q\n", format)
		return 2
	}
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
	rep, err := dispatch.BuildReport(ctx, st, week, now, loc, nil)
	if err != nil {
		fmt.Fprintf(stderr, "mashangban report: %v\n", err)
		return 1
	}
	switch format {
	case "csv":
		err = rep.WriteCSV(stdout)
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
// "--week=DATE", one or two dashes) out of args and leaves the rest for the
// shared configuration flags.
func splitReportFlags(args []string) (map[string]string, []string, error) {
	own := map[string]string{}
	var rest []string
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
		own[name] = val
	}
	return own, rest, nil
}

func writeReportJSON(w io.Writer, r dispatch.Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}
