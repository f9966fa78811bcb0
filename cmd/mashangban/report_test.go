package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
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
	for i, lead := range []string{"cgj", "cgj", "huashan.cgj"} {
		dec := model.Decision{Post: model.Post{ID: "replay:r" + string(rune('a'+i)), Channel: model.ChannelReplay, NativeID: "r", Text: "问题，电话13812345678"},
			Districts: []model.District{{Code: "340503", Name: "花山区"}}, Lead: &model.Department{ID: lead},
			Category: []string{"billboard", "streetlight", "noise"}[i], Tokens: []string{"词" + string(rune('a'+i))}}
		if err := d.Handle(ctx, dec); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	db := "sqlite:" + path

	run := func(t *testing.T, args ...string) (string, string) {
		t.Helper()
		var out, errb bytes.Buffer
		if code := reportCmd(ctx, args, &out, &errb); code != 0 {
			t.Fatalf("reportCmd(%q) = %d: %s", args, code, errb.String())
		}
		return out.String(), errb.String()
	}

	t.Run("csv", func(t *testing.T) {
		out, _ := run(t, "weekly", "--week", "2026-11-23", "--format=csv", "--db.url", db)
		if !strings.HasPrefix(out, "\uFEFF") {
			t.Fatalf("csv without byte-order mark: %.40q", out)
		}
		rd := csv.NewReader(strings.NewReader(strings.TrimPrefix(out, "\uFEFF")))
		rd.FieldsPerRecord = -1
		recs, err := rd.ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) < 2 || recs[1][0] != "部门" || recs[1][1] != "收到" {
			t.Fatalf("csv header = %q", recs[:min(2, len(recs))])
		}
		got := map[string]string{}
		for _, r := range recs[2:] {
			if len(r) < 2 {
				break // the end of the feedback table
			}
			got[r[0]] = r[1]
		}
		// The names come from the rule set (here the built-in one: the data
		// directory has none), never the codes.
		if got["市城市管理局"] != "2" || got["花山区城市管理局"] != "1" || got["合计"] != "3" || strings.Contains(out, "cgj") {
			t.Errorf("received per department = %v\n%s", got, out)
		}
		if strings.Contains(out, "13812345678") {
			t.Error("the csv carries a citizen's phone number")
		}
	})

	// --week takes any date, or a date and time, and reports the
	// Monday-to-Sunday week containing it (Asia/Shanghai), saying which.
	for _, tt := range []struct{ week, monday, sunday string }{
		{"2026-11-23", "2026-11-23", "2026-11-29"},
		{"2026-11-26", "2026-11-23", "2026-11-29"},
		{"2026-11-29", "2026-11-23", "2026-11-29"},
		{"2026-11-29 23:30", "2026-11-23", "2026-11-29"},
		{"2026-11-29T16:30:00Z", "2026-11-30", "2026-12-06"}, // Monday 00:30 in Shanghai
		{"2026-12-03", "2026-11-30", "2026-12-06"},
	} {
		t.Run("week "+tt.week, func(t *testing.T) {
			out, errText := run(t, "weekly", "--week="+tt.week, "--format", "json", "--db.url", db)
			var rep dispatch.Report
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatal(err)
			}
			if got := rep.WeekStart.In(model.Shanghai); got.Format("2006-01-02") != tt.monday || got.Hour() != 0 {
				t.Errorf("week start = %s, want %s 00:00", got, tt.monday)
			}
			if want := "week " + tt.monday + " (Monday) to " + tt.sunday + " (Sunday)"; !strings.Contains(errText, want) {
				t.Errorf("stderr = %q, want it to say %q", errText, want)
			}
		})
	}

	t.Run("markdown of a later week", func(t *testing.T) {
		out, _ := run(t, "weekly", "--week", "2026-11-23", "--db.url", db)
		// Subjects by the rule set's category names, not their IDs.
		for _, want := range []string{"广告牌与光污染", "路灯照明", "噪声扰民"} {
			if !strings.Contains(out, want) {
				t.Errorf("markdown lacks the subject %q:\n%s", want, out)
			}
		}
		if strings.Contains(out, "billboard") || strings.Contains(out, "streetlight") {
			t.Errorf("markdown shows category IDs:\n%s", out)
		}
		out, _ = run(t, "weekly", "--week", "2026-12-02", "--db.url", db)
		for _, want := range []string{"2026-11-30（周一）至 2026-12-06（周日）", "| 市城市管理局 | 0 | 0 | 0 | 0 | 0 | 0 | 2 |",
			"## 二、一周一曝光", "## 三、一周一专报"} {
			if !strings.Contains(out, want) {
				t.Errorf("markdown lacks %q (nothing received, cgj still overdue on 2):\n%s", want, out)
			}
		}
	})

	t.Run("html", func(t *testing.T) {
		out, _ := run(t, "weekly", "--week", "2026-11-24", "--format", "html", "--db.url", db)
		if !strings.HasPrefix(out, "<!DOCTYPE html>") || !strings.Contains(out, "<svg") || strings.Contains(out, "<script") {
			t.Errorf("html page:\n%.400s", out)
		}
	})

	for _, args := range [][]string{{"--help"}, {"-h"}, {"weekly", "--help"}, {"help"}} {
		t.Run("help "+strings.Join(args, " "), func(t *testing.T) {
			out, _ := run(t, args...)
			for _, flag := range []string{"-week", "-format", "-db.url", "-config", "-data.dir", "Monday"} {
				if !strings.Contains(out, flag) {
					t.Errorf("help lacks %s:\n%s", flag, out)
				}
			}
		})
	}

	for _, args := range [][]string{
		{},
		{"monthly"},
		{"weekly", "--week", "yesterday", "--db.url", db},
		{"weekly", "--week", "2026-02-30", "--db.url", db},
		{"weekly", "--format", "pdf", "--db.url", db},
		{"weekly", "--week"},
		{"weekly", "--db.url", db, "extra"},
	} {
		var out, errb bytes.Buffer
		if code := reportCmd(ctx, args, &out, &errb); code != 2 || errb.Len() == 0 || out.Len() != 0 {
			t.Errorf("reportCmd(%q) = %d, %q; want 2 with a message and nothing on stdout", args, code, errb.String())
		}
	}
}
