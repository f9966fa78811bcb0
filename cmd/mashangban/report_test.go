package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mashangban/mashangban/dispatch"
	"github.com/mashangban/mashangban/model"
	"github.com/mashangban/mashangban/store"
)

func TestReportWeekly(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "msb.db")
	st, err := store.Open(ctx, "sqlite:"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	created := time.Date(2026, 11, 24, 2, 0, 0, 0, time.UTC) // Tuesday of the week of 2026-11-23
	d := dispatch.New(st, dispatch.Options{Now: func() time.Time { return created }}, nil, nil)
	for i, lead := range []string{"cgj", "cgj", "ldj"} {
		dec := model.Decision{Post: model.Post{ID: "replay:r" + string(rune('a'+i)), Channel: model.ChannelReplay, NativeID: "r", Text: "问题"},
			Districts: []model.District{{Code: "340503", Name: "花山区"}}, Lead: &model.Department{ID: lead},
			Category: "c" + string(rune('a'+i)), Tokens: []string{"词" + string(rune('a'+i))}}
		if err := d.Handle(ctx, dec); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()

	var out, errb bytes.Buffer
	if code := reportCmd(ctx, []string{"weekly", "--week", "2026-11-23", "--format=csv", "--db.url", "sqlite:" + path}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	recs, err := csv.NewReader(&out).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range recs[1:] {
		got[r[0]] = r[2]
	}
	if got["cgj"] != "2" || got["ldj"] != "1" || got["total"] != "3" {
		t.Errorf("received per department = %v\n%s", got, out.String())
	}

	out.Reset()
	if code := reportCmd(ctx, []string{"weekly", "--week", "2026-11-30", "--db.url", "sqlite:" + path}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "2026-11-30 至 2026-12-06") || !strings.Contains(out.String(), "| cgj | 0 | 0 | 0 | 0 | 0 | 0 | 2 |") {
		t.Errorf("markdown for a later week (nothing received, cgj still overdue on 2):\n%s", out.String())
	}

	for _, args := range [][]string{
		{"monthly"},
		{"weekly", "--week", "yesterday", "--db.url", "sqlite:" + path},
		{"weekly", "--format", "pdf", "--db.url", "sqlite:" + path},
		{"weekly", "--week"},
	} {
		errb.Reset()
		if code := reportCmd(ctx, args, &out, &errb); code != 2 || errb.Len() == 0 {
			t.Errorf("reportCmd(%q) = %d, %q; want 2 with a message", args, code, errb.String())
		}
	}
}
