package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/mashangban/mashangban/app"
	"github.com/mashangban/mashangban/config"
)

func runCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if configHelp(args, "mashangban run", "mashangban run [flags]\n\nRuns the daemon: the stages of --roles, the HTTP server, the rule reloader.", stdout) {
		return 0
	}
	cfg, rest, err := config.Parse("mashangban run", args, os.LookupEnv, stderr)
	if err != nil {
		return configError(stderr, err)
	}
	if len(rest) > 0 {
		fmt.Fprintf(stderr, "mashangban run: unexpected arguments %q\n", rest)
		return 2
	}
	logger, err := app.NewLogger(stderr, cfg.Log)
	if err != nil {
		return configError(stderr, err)
	}
	// SIGHUP reloads the rule files and the credentials of the configuration.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	reload := make(chan struct{}, 1)
	go func() {
		for range hup {
			select {
			case reload <- struct{}{}:
			default:
			}
		}
	}()
	reloadConfig := func() (config.Config, error) {
		c, _, err := config.Parse("mashangban run", args, os.LookupEnv, io.Discard)
		return c, err
	}
	if err := app.Run(ctx, cfg, app.Options{Logger: logger, Reload: reload, ReloadConfig: reloadConfig}); err != nil {
		fmt.Fprintf(stderr, "mashangban: %v\n", err)
		return 1
	}
	return 0
}

func migrateCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if configHelp(args, "mashangban migrate", "mashangban migrate [flags]\n\nBrings the configured database's schema up to date.", stdout) {
		return 0
	}
	cfg, _, err := config.Parse("mashangban migrate", args, os.LookupEnv, stderr)
	if err != nil {
		return configError(stderr, err)
	}
	from, to, err := app.Migrate(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "mashangban migrate: %v\n", err)
		return 1
	}
	if from == to {
		fmt.Fprintf(stdout, "schema is up to date (version %d)\n", to)
	} else {
		fmt.Fprintf(stdout, "schema migrated from version %d to %d\n", from, to)
	}
	return 0
}

// configError prints a configuration problem as one clear message (exit 2).
func configError(stderr io.Writer, err error) int {
	var ce *config.Error
	if errors.As(err, &ce) {
		fmt.Fprintf(stderr, "mashangban: %v\n", err)
		return 2
	}
	fmt.Fprintf(stderr, "mashangban: %v\n", err)
	return 2
}
