// Package app wires mashangban's stages into one embeddable application:
// store, logs, classifier, dispatcher, pollers, repliers and the HTTP server.
// cmd/mashangban calls Run; integration tests start it in-process.
//
// It is not for behaviour of its own: every decision is made in the packages
// it wires; app only orders their start and their shutdown.
package app

import (
	"context"
	"errors"
	"log/slog"

	"github.com/mashangban/mashangban/config"
)

// Options are what the caller of Run provides besides the configuration.
type Options struct {
	Logger *slog.Logger
	// Reload receives a value for each SIGHUP: reload the rule files.
	Reload <-chan struct{}
	// Started, if set, is called once the app serves HTTP, with its address.
	Started func(a *App)
}

// App is a running mashangban.
type App struct {
	cfg    config.Config
	logger *slog.Logger
}

// Run starts every configured stage and blocks until ctx is done, then shuts
// down in reverse order.
func Run(ctx context.Context, cfg config.Config, opts Options) error {
	return errors.New("app: not wired yet")
}

// Migrate brings the configured database's schema up to date.
func Migrate(ctx context.Context, cfg config.Config) (from, to int, err error) {
	return 0, 0, errors.New("app: not wired yet")
}
