package rules

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// startWatch runs Watch on dir and returns the channel its reports arrive
// on, once the watcher is known to be live: a sentinel file is touched
// until the first report comes (no sleeps that a slow machine could beat).
func startWatch(t *testing.T, dir string) <-chan struct{} {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	changes := make(chan struct{}, 100)
	done := make(chan error, 1)
	go func() {
		done <- Watch(ctx, []string{dir}, 20*time.Millisecond, slog.New(slog.DiscardHandler), func() { changes <- struct{}{} })
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("watch: %v", err)
		}
	})
	deadline := time.After(20 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-changes:
			// Drain reports of the sentinel still in flight.
			for {
				select {
				case <-changes:
				case <-time.After(200 * time.Millisecond):
					return changes
				}
			}
		case <-tick.C:
			os.WriteFile(filepath.Join(dir, ".sentinel"), []byte(time.Now().String()), 0o644)
		case <-deadline:
			t.Fatal("watcher never reported the sentinel")
		}
	}
}

func waitChange(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(20 * time.Second):
		t.Fatalf("no change reported after %s", what)
	}
}

func TestWatch(t *testing.T) {
	must := func(t *testing.T, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name   string
		setup  func(t *testing.T, dir string)
		change func(t *testing.T, dir string)
	}{
		{
			name: "write in place",
			setup: func(t *testing.T, dir string) {
				must(t, os.WriteFile(filepath.Join(dir, "r.yaml"), []byte("a"), 0o644))
			},
			change: func(t *testing.T, dir string) {
				must(t, os.WriteFile(filepath.Join(dir, "r.yaml"), []byte("b"), 0o644))
			},
		},
		{
			// vim, many IDEs: write a temporary file, rename it over the original.
			name: "editor renames over the file",
			setup: func(t *testing.T, dir string) {
				must(t, os.WriteFile(filepath.Join(dir, "r.yaml"), []byte("a"), 0o644))
			},
			change: func(t *testing.T, dir string) {
				tmp := filepath.Join(dir, ".r.yaml.swp")
				must(t, os.WriteFile(tmp, []byte("b"), 0o644))
				must(t, os.Rename(tmp, filepath.Join(dir, "r.yaml")))
			},
		},
		{
			// Kubernetes ConfigMap volume: r.yaml -> ..data/r.yaml, and an
			// update points ..data at a new directory by renaming a new link over it.
			name: "configmap symlink swap",
			setup: func(t *testing.T, dir string) {
				must(t, os.MkdirAll(filepath.Join(dir, "..v1"), 0o755))
				must(t, os.WriteFile(filepath.Join(dir, "..v1", "r.yaml"), []byte("a"), 0o644))
				must(t, os.Symlink("..v1", filepath.Join(dir, "..data")))
				must(t, os.Symlink("..data/r.yaml", filepath.Join(dir, "r.yaml")))
			},
			change: func(t *testing.T, dir string) {
				must(t, os.MkdirAll(filepath.Join(dir, "..v2"), 0o755))
				must(t, os.WriteFile(filepath.Join(dir, "..v2", "r.yaml"), []byte("b"), 0o644))
				must(t, os.Symlink("..v2", filepath.Join(dir, "..data_tmp")))
				must(t, os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")))
				must(t, os.RemoveAll(filepath.Join(dir, "..v1")))
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.setup(t, dir)
			ch := startWatch(t, dir)
			tc.change(t, dir)
			waitChange(t, ch, tc.name)
			b, err := os.ReadFile(filepath.Join(dir, "r.yaml"))
			if err != nil || string(b) != "b" {
				t.Errorf("after change r.yaml reads %q, %v", b, err)
			}
		})
	}
}

// TestWatchDirectorySwap: the rule directory is a symlink to a release
// directory, and a deploy points it at another one; later edits in the new
// release are seen too.
func TestWatchDirectorySwap(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"v1", "v2"} {
		if err := os.Mkdir(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, d, "r.yaml"), []byte(d), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	link := filepath.Join(root, "rules")
	if err := os.Symlink("v1", link); err != nil {
		t.Fatal(err)
	}
	ch := startWatch(t, link)
	tmp := filepath.Join(root, "rules.tmp")
	if err := os.Symlink("v2", tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, link); err != nil {
		t.Fatal(err)
	}
	waitChange(t, ch, "swapping the directory symlink")
	// Drain the burst, then edit inside the new release.
	for drained := false; !drained; {
		select {
		case <-ch:
		case <-time.After(300 * time.Millisecond):
			drained = true
		}
	}
	if err := os.WriteFile(filepath.Join(root, "v2", "r.yaml"), []byte("v2 edited"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitChange(t, ch, "an edit in the new release directory")
}
