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
// both show up as events on the directory. The parent of each directory is
// watched too, so that replacing the whole directory (a symlink to a
// release directory swapped for another, or a rename) is seen: the watch
// is then moved to what the path now names. onChange runs on Watch's
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
	watched := map[string]bool{} // the directories asked for
	parents := map[string]bool{}
	for _, d := range dirs {
		d = filepath.Clean(d)
		if watched[d] {
			continue
		}
		watched[d] = true
		if err := w.Add(d); err != nil {
			return fmt.Errorf("watch rules: %w", err)
		}
		p := filepath.Dir(d)
		if !parents[p] && p != d {
			parents[p] = true
			if err := w.Add(p); err != nil {
				// Not fatal: only whole-directory swaps go unseen.
				logger.Warn("cannot watch the rule directory's parent", "dir", p, "error", err)
			}
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
			name := filepath.Clean(ev.Name)
			if parents[filepath.Dir(name)] && !watched[name] && !watched[filepath.Dir(name)] {
				continue // a sibling of a rule directory
			}
			if watched[name] {
				// The directory itself was replaced: watch what the path
				// names now (the old watch went with the old directory).
				_ = w.Remove(name)
				if err := w.Add(name); err != nil {
					logger.Warn("rule directory gone", "dir", name, "error", err)
				}
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
