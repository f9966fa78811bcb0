package app_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/mashangban/mashangban/config"
	"github.com/mashangban/mashangban/store"
)

// TestSIGKILLAndRestartEmbedded kills a real mashangban process with SIGKILL
// in the middle of a replay on the embedded default (SQLite file and the
// in-process log, both on disk), starts a new process on the same data
// directory, and checks that every post ends up in exactly one case or
// triage item with one acknowledgement: nothing lost, nothing twice, with
// no chance for the first process to clean up.
func TestSIGKILLAndRestartEmbedded(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := filepath.Join(t.TempDir(), "mashangban")
	build := exec.Command("go", "build", "-o", bin, "../cmd/mashangban")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	dataDir := t.TempDir()
	file, ids := bigReplay(t, dataDir, 400)
	cfgFile := filepath.Join(dataDir, "mashangban.yaml")
	os.WriteFile(cfgFile, []byte(fmt.Sprintf("sources:\n  - {name: backfill, type: replay, file: %q, interval: 50ms}\n", file)), 0o644)
	cfg := config.Default()
	cfg.DataDir = dataDir

	run := func() (*exec.Cmd, *syncBuffer) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		logs := &syncBuffer{}
		cmd := exec.Command(bin, "run", "--config", cfgFile, "--data.dir", dataDir, "--http.listen", addr)
		cmd.Stdout, cmd.Stderr = logs, logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		return cmd, logs
	}
	handled := func() map[string][]outcome {
		st, err := store.Open(context.Background(), cfg.DBURL(), nil)
		if err != nil {
			return nil // not created yet
		}
		defer st.Close()
		if err := st.CheckSchema(context.Background()); err != nil {
			return nil
		}
		return outcomes(t, st)
	}

	first, logs := run()
	deadline := time.Now().Add(90 * time.Second)
	for len(handled()) < 30 {
		if time.Now().After(deadline) {
			t.Fatalf("no progress in 90s\n%s", logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	first.Wait()
	t.Logf("killed after %d of %d posts", len(handled()), len(ids))

	_, logs = run()
	deadline = time.Now().Add(120 * time.Second)
	for {
		got := handled()
		missing := 0
		for _, id := range ids {
			if len(got[id]) == 0 {
				missing++
			}
		}
		if missing == 0 {
			for _, id := range ids {
				if n := len(got[id]); n != 1 {
					t.Errorf("post %s is in %d cases or triage items, want exactly 1", id, n)
				}
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d posts still not handled after the restart\n%s", missing, logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	st, err := store.Open(context.Background(), cfg.DBURL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var posts, acks, dupAcks int
	ctx := context.Background()
	if err := st.DB.QueryRow(ctx, `SELECT COUNT(*) FROM posts`).Scan(&posts); err != nil {
		t.Fatal(err)
	}
	if err := st.DB.QueryRow(ctx, `SELECT COUNT(DISTINCT post_id) FROM outbox WHERE kind = 'ack'`).Scan(&acks); err != nil {
		t.Fatal(err)
	}
	if err := st.DB.QueryRow(ctx, `SELECT COUNT(*) FROM (SELECT post_id FROM outbox WHERE kind = 'ack' GROUP BY post_id HAVING COUNT(*) > 1) d`).Scan(&dupAcks); err != nil {
		t.Fatal(err)
	}
	if posts != len(ids) || acks != len(ids) || dupAcks != 0 {
		t.Errorf("posts %d, posts acknowledged %d, posts with two acks %d; want %d, %d, 0", posts, acks, dupAcks, len(ids), len(ids))
	}
}
