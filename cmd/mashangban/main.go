// Command mashangban runs the "马上办" citizen-request daemon and its tools.
//
//	mashangban run          run the daemon (embedded default with no configuration)
//	mashangban migrate      bring the database schema up to date
//	mashangban rules        check, test and explain routing rule files
//	mashangban train        train the learned fallback model
//	mashangban eval         measure the classifier on a labelled file
//	mashangban report       the weekly report (反馈, 曝光, 专报)
//	mashangban healthcheck  ask a running daemon whether it is ready (container health check)
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"syscall"
)

type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

var commands = map[string]command{
	"run":         {"run the daemon", runCmd},
	"migrate":     {"bring the database schema up to date", migrateCmd},
	"version":     {"print the version", versionCmd},
	"rules":       {"check, test and explain routing rule files", rulesCmd},
	"train":       {"train the learned fallback model from labelled JSON Lines", trainCmd},
	"eval":        {"measure the classifier on a labelled JSON Lines file", evalCmd},
	"report":      {"the weekly report: feedback, exposure and special report (md, csv, html, json)", reportCmd},
	"healthcheck": {"ask a running daemon whether it is ready (exit 0) or not (exit 1)", healthcheckCmd},
}

// version, when set at build time with -ldflags "-X main.version=...",
// replaces the module version of the build information.
var version string

// revision, when set at build time with -ldflags "-X main.revision=...", is
// the VCS revision shown when the build information records none (a build
// without the .git directory, as in the Docker image).
var revision string

func main() { os.Exit(run()) }

func run() int {
	// SIGINT/SIGTERM cancel the context (graceful shutdown); SIGHUP is
	// delivered to the commands that reload (see runCmd).
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	args := os.Args[1:]
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(os.Stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(os.Stderr, "mashangban: unknown command %q\n\n", args[0])
		usage(os.Stderr)
		return 2
	}
	return cmd.run(ctx, args[1:], os.Stdout, os.Stderr)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: mashangban COMMAND [flags]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-11s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'mashangban COMMAND -h' for a command's flags.")
}

func versionCmd(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("mashangban version", "mashangban version\n\nPrints the module version, the VCS revision and time it was built from, and the Go version.", stderr)
	if code, done := parseFlags(fs, args, stdout); done {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "mashangban version: unexpected arguments %q\n", fs.Args())
		return 2
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		info = nil
	}
	fmt.Fprintln(stdout, versionText(info, version, revision))
	return 0
}

// versionText is "mashangban VERSION (revision REV[, modified], TIME) GOVERSION"
// from the build information: the module version (a tag, or a pseudo-version
// made from the commit) and the vcs.* settings that go build records.
// override replaces the version; rev is the revision to show when the
// build information has none.
func versionText(info *debug.BuildInfo, override, rev string) string {
	v, at, modified, gover := "(unknown)", "", false, runtime.Version()
	if info != nil {
		if info.Main.Version != "" {
			v = info.Main.Version
		}
		gover = info.GoVersion
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.time":
				at = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	if override != "" {
		v = override
	}
	var b strings.Builder
	b.WriteString("mashangban " + v)
	if rev != "" {
		b.WriteString(" (revision " + rev)
		if modified {
			b.WriteString(", modified")
		}
		if at != "" {
			b.WriteString(", " + at)
		}
		b.WriteString(")")
	} else {
		b.WriteString(" (no VCS revision recorded)")
	}
	b.WriteString(" " + gover)
	return b.String()
}
