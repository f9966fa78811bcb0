package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBadConfigurationFailsAtStart runs `mashangban run` with configurations
// that cannot work: each must fail before anything starts, with one clear
// message naming the setting at fault, not a stack trace.
func TestBadConfigurationFailsAtStart(t *testing.T) {
	// A port that nothing listens on: bind one, note it, close it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := ln.Addr().String()
	ln.Close()

	notADir := filepath.Join(t.TempDir(), "plain-file")
	if err := os.WriteFile(notADir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cfgUnknownKey := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(cfgUnknownKey, []byte("http:\n  listen: 127.0.0.1:0\n  lisen: typo\n"), 0o644)

	for _, tc := range []struct {
		name string
		args []string
		want []string
		code int
	}{
		{"unknown key", []string{"--config", cfgUnknownKey}, []string{"field lisen not found"}, 2},
		{"unreachable kafka", []string{"--kafka.brokers", deadAddr}, []string{"kafka.brokers:", deadAddr}, 1},
		{"unreachable database", []string{"--db.url", "postgres://postgres@" + deadAddr + "/x?sslmode=disable&connect_timeout=3"}, []string{"db.url:"}, 1},
		{"unwritable data dir", []string{"--data.dir", filepath.Join(notADir, "data")}, []string{"data_dir:", "cannot create"}, 1},
		{"http port taken", nil, []string{"http.listen:"}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"--data.dir", t.TempDir(), "--http.listen", "127.0.0.1:0"}, tc.args...)
			if tc.name == "http port taken" {
				busy, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				defer busy.Close()
				args = append(args, "--http.listen", busy.Addr().String())
			}
			var stdout, stderr bytes.Buffer
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			code := runCmd(ctx, args, &stdout, &stderr)
			if code != tc.code {
				t.Errorf("exit code %d, want %d; stderr:\n%s", code, tc.code, stderr.String())
			}
			msg := stderr.String()
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("stderr does not name %q:\n%s", w, msg)
				}
			}
			if strings.Contains(msg, "goroutine ") || strings.Contains(msg, "panic") {
				t.Errorf("stderr has a stack trace:\n%s", msg)
			}
			if ctx.Err() != nil {
				t.Errorf("did not fail at start: still running after 60s")
			}
		})
	}
}
