package app_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mashangban/mashangban/app"
	"github.com/mashangban/mashangban/config"
	"github.com/mashangban/mashangban/notify/wecomfake"
	"github.com/mashangban/mashangban/rules"
	"github.com/mashangban/mashangban/store"
)

// TestNoticeOfNewAssignment runs the app with a 企业微信 group-robot webhook
// for every department of the built-in rules: a new case's departments each
// get exactly one notice, naming the department by its Chinese name (never
// its code) and giving the case number.
func TestNoticeOfNewAssignment(t *testing.T) {
	for _, s := range setups {
		t.Run(s.name, func(t *testing.T) {
			dataDir := t.TempDir()
			keys := map[string]bool{}
			for _, id := range departmentIDs {
				keys[noticeKey(id)] = true
			}
			robot := (&wecomfake.Robot{Keys: keys}).Start()
			defer robot.Close()
			file := filepath.Join(dataDir, "one.jsonl")
			post := `{"id":"n1","text":"花山区湖东路第3号楼附近路灯不亮，晚上一片漆黑，请尽快处理","created_at":"2026-11-20 08:00:00"}` + "\n"
			if err := os.WriteFile(file, []byte(post), 0o644); err != nil {
				t.Fatal(err)
			}
			cfg := s.cfg(t, dataDir)
			cfg.Examples = false
			cfg.Sources = []config.Source{{Name: "one", Type: config.SourceReplay, File: file, Interval: config.Duration(50 * time.Millisecond)}}
			for _, id := range departmentIDs {
				cfg.Dispatch.Departments = append(cfg.Dispatch.Departments, config.Department{ID: id,
					Notify: &config.Notify{URL: config.Secret(robot.URL(noticeKey(id))), Format: "wecom"}})
			}
			r := start(t, cfg, app.Options{})
			got := waitHandled(t, r, []string{"replay:n1"})
			if got["replay:n1"][0].triage {
				t.Fatalf("the post went to triage, not to a department:\n%s", r.logs)
			}
			st := r.app.Store()
			ctx := context.Background()
			as, err := st.ListAssignments(ctx, nil, store.AssignmentFilter{})
			if err != nil || len(as) == 0 {
				t.Fatalf("assignments %v, %v", as, err)
			}
			// Every notice delivered: a sent notice is never sent again.
			deadline := time.Now().Add(60 * time.Second)
			for {
				var notices, unsent int
				if err := st.DB.QueryRow(ctx, `SELECT COUNT(*), COUNT(*) FILTER (WHERE state <> 'sent') FROM outbox WHERE kind = 'notice'`).
					Scan(&notices, &unsent); err != nil {
					t.Fatal(err)
				}
				if notices >= len(as) && unsent == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%d notices, %d not sent after 60s; robot refused %v\nlogs:\n%s", notices, unsent, robot.Refused(), r.logs)
				}
				time.Sleep(50 * time.Millisecond)
			}
			rs, err := rules.Load(cfg.RulesDir())
			if err != nil {
				t.Fatal(err)
			}
			names := map[string]string{}
			for _, d := range rs.Departments {
				names[d.ID] = d.Name
			}
			msgs := robot.Accepted()
			if len(msgs) != len(as) {
				t.Errorf("robot got %d messages for %d assignments: %+v", len(msgs), len(as), msgs)
			}
			for _, a := range as {
				var mine []wecomfake.Message
				for _, m := range msgs {
					if m.Key == noticeKey(a.Department) {
						mine = append(mine, m)
					}
				}
				if len(mine) != 1 {
					t.Errorf("%s got %d notices, want 1: %+v", a.Department, len(mine), mine)
					continue
				}
				c := mine[0].Content
				if names[a.Department] == "" || !strings.Contains(c, names[a.Department]) || !strings.Contains(c, a.CaseNo) {
					t.Errorf("%s's notice does not name %q and case %s: %q", a.Department, names[a.Department], a.CaseNo, c)
				}
				if strings.Contains(c, a.Department) {
					t.Errorf("%s's notice shows the department's code: %q", a.Department, c)
				}
			}
		})
	}
}

func noticeKey(department string) string { return "key-" + strings.ReplaceAll(department, ".", "-") }
