package app_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mashangban/mashangban/app"
	"github.com/mashangban/mashangban/store"
)

// TestRepliesFromConfiguredTemplates runs the app on the example posts with
// an acknowledgement template from replies.templates_dir and a public base
// URL: every case's acknowledgement is the override's text, names the lead
// department by its rule-set name (the configuration names none) and links
// the case's public page.
func TestRepliesFromConfiguredTemplates(t *testing.T) {
	dir := t.TempDir()
	ack := "【马上办】{{.Lead}}已受理，办件编号{{.CaseNo}}，{{.Claim}}内签收。{{if .Link}}进度：{{.Link}}{{end}}\n{{- define \"status\"}}已受理{{end}}\n"
	if err := os.WriteFile(filepath.Join(dir, "ack.tmpl"), []byte(ack), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := setups[0].cfg(t, t.TempDir())
	cfg.Replies.TemplatesDir = dir
	cfg.Public.BaseURL = "https://12345.example.gov.cn"
	r := start(t, cfg, app.Options{})
	got := waitHandled(t, r, examplePostIDs(t))
	acks := 0
	for id := range got {
		items, err := r.app.Store().RepliesOf(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range items {
			if it.Kind != store.ReplyAck || strings.HasPrefix(it.CaseNo, "T-") || !strings.HasPrefix(it.Text, "【马上办】") {
				continue
			}
			acks++
			lead, _, ok := strings.Cut(strings.TrimPrefix(it.Text, "【马上办】"), "已受理")
			if !ok || !strings.HasSuffix(it.Text, "进度：https://12345.example.gov.cn/c/"+it.CaseNo) {
				t.Errorf("ack of %s: %q", id, it.Text)
			}
			if lead == "" || strings.ContainsFunc(lead, func(r rune) bool { return r < 0x80 }) {
				t.Errorf("ack of %s names the department %q, not by its name: %q", id, lead, it.Text)
			}
		}
	}
	if acks == 0 {
		t.Fatalf("no acknowledgement from the configured template\nlogs:\n%s", r.logs)
	}
}

// TestBadReplyTemplatesStopTheStart: a template that does not parse is a
// start error naming the setting, the file and the line.
func TestBadReplyTemplatesStopTheStart(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "resolve.tmpl"), []byte("办结\n{{.CaseNo}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := setups[0].cfg(t, t.TempDir())
	cfg.Replies.TemplatesDir = dir
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err := app.Run(ctx, cfg, app.Options{})
	if err == nil || !strings.Contains(err.Error(), "replies.templates_dir") || !strings.Contains(err.Error(), filepath.Join(dir, "resolve.tmpl")+":2") {
		t.Fatalf("start with a broken template: %v", err)
	}
}
