package rules

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// DefaultDebounce is how long Watch waits after the last change before it
// reports: editors write a file in several steps (write temp, rename,
// chmod) and a Kubernetes ConfigMap update swaps a symlink in three.
const DefaultDebounce = 250 * time.Millisecond

// Watch calls onChange once a burst of changes in any of dirs has been
// quiet for debounce, until ctx is done. It watches the directories, not
// the files, so it survives editors that save by renaming a temporary file
// over the original and ConfigMap volumes that swap the "..data" symlink:
// both show up as events on the directory. onChange runs on Watch's
// goroutine; a slow onChange delays, never drops, the next report.
func Watch(ctx context.Context, dirs []string, debounce time.Duration, logger *slog.Logger, onChange func()) error {
	if debounce <= 0 {
		debounce = DefaultDebounce
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch rules: %w", err)
	}
	defer w.Close()
	seen := map[string]bool{}
	for _, d := range dirs {
		d = filepath.Clean(d)
		if seen[d] {
			continue
		}
		seen[d] = true
		if err := w.Add(d); err != nil {
			return fmt.Errorf("watch rules: %w", err)
		}
	}
	logger.Debug("watching rule files", "dirs", dirs)
	timer := time.NewTimer(debounce)
	if !timer.Stop() {
		<-timer.C
	}
	pending := false
	for {
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			if ev.Op == fsnotify.Chmod {
				continue
			}
			logger.Debug("rule directory changed", "file", ev.Name, "op", ev.Op.String())
			if pending && !timer.Stop() {
				<-timer.C
			}
			timer.Reset(debounce)
			pending = true
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			logger.Warn("watching rule directory", "error", err)
		case <-timer.C:
			pending = false
			onChange()
		}
	}
}
