package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/mashangban/mashangban/config"
)

// flagSets holds, by command name, the flag set each command built last,
// so that a test can check that its --help lists every flag.
var (
	flagSetsMu sync.Mutex
	flagSets   = map[string]*flag.FlagSet{}
)

// newFlags is a command's flag set: errors go to stderr, and the usage
// (usage line, then every flag) is what --help prints.
func newFlags(name, usage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: %s\n\nflags:\n", usage)
		fs.PrintDefaults()
	}
	flagSetsMu.Lock()
	flagSets[name] = fs
	flagSetsMu.Unlock()
	return fs
}

// wantsHelp reports whether args ask for help (-h, -help, --help) before
// the first "--" or positional argument.
func wantsHelp(args []string) bool {
	for _, a := range args {
		switch {
		case a == "-h" || a == "-help" || a == "--help":
			return true
		case a == "--" || !strings.HasPrefix(a, "-"):
			return false
		}
	}
	return false
}

// parseFlags parses args into fs. It returns done when the command must
// stop with code: 0 after printing the usage to stdout for --help, 2 for
// a bad flag (already reported on stderr).
func parseFlags(fs *flag.FlagSet, args []string, stdout io.Writer) (code int, done bool) {
	if wantsHelp(args) {
		out := fs.Output()
		fs.SetOutput(stdout)
		fs.Usage()
		fs.SetOutput(out)
		return 0, true
	}
	if err := fs.Parse(args); err != nil {
		return 2, true
	}
	return 0, false
}

// printConfigFlags lists the configuration flags every command that reads
// the configuration accepts.
func printConfigFlags(w io.Writer, name string) {
	fmt.Fprintln(w, "\nconfiguration flags (also from the configuration file and environment):")
	var b bytes.Buffer
	config.Parse(name, []string{"-h"}, func(string) (string, bool) { return "", false }, &b) //nolint:errcheck // -h only prints
	text := b.String()
	if _, rest, ok := strings.Cut(text, "\n"); ok && strings.HasPrefix(text, "Usage of") {
		text = rest
	}
	fmt.Fprint(w, text)
}

// configHelp prints the usage of a command whose only flags are the
// configuration's, if args ask for it.
func configHelp(args []string, name, usage string, stdout io.Writer) bool {
	if !wantsHelp(args) {
		return false
	}
	fmt.Fprintf(stdout, "usage: %s\n", usage)
	printConfigFlags(stdout, name)
	return true
}
