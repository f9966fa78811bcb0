package public_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/mashangban/mashangban/model"
	"github.com/mashangban/mashangban/public"
	"github.com/mashangban/mashangban/rules"
	"github.com/mashangban/mashangban/store"
	"github.com/mashangban/mashangban/store/storetest"
)

// BenchmarkPublic measures the case page, its JSON and an Open311 page of
// 50 requests on a store of 20,000 cases, each with two assignments and a
// dozen audit events:
//
//	go test ./public -run XXX -bench Public -benchtime 200x
func BenchmarkPublic(b *testing.B) {
	const cases = 20000
	for _, s := range []struct {
		name string
		open func(testing.TB) *store.Store
	}{{"sqlite", storetest.OpenSQLite}, {"postgres", storetest.OpenPostgres}} {
		b.Run(s.name, func(b *testing.B) {
			st := s.open(b)
			ctx := context.Background()
			err := st.DB.InTx(ctx, func(tx store.Tx) error {
				for i := range cases {
					at := start.Add(time.Duration(i) * time.Minute)
					no := fmt.Sprintf("MSB-%s-%04d", at.Format("20060102"), i)
					id, err := st.InsertCase(ctx, tx, store.NewCase{Case: model.Case{No: no, Status: model.CaseOpen,
						Districts: []model.District{huashan}, Category: "stairwell", Priority: model.PriorityNormal, Lead: "cgj",
						Summary: "阳湖花园3栋楼道窗户脱落，联系电话13812345678", FirstPostID: "replay:" + no, CreatedAt: at},
						District: huashan.Code, Place: "compound:阳湖花园"})
					if err != nil {
						return err
					}
					if _, err := st.AddCasePost(ctx, tx, store.CasePost{PostID: "replay:" + no, CaseID: id, Role: store.CasePostOrigin, MergedAt: at}); err != nil {
						return err
					}
					for j, dep := range []string{"cgj", "huashan.gov"} {
						role := model.RoleLead
						if j > 0 {
							role = model.RoleAssist
						}
						aid, err := st.InsertAssignment(ctx, tx, store.Assignment{Assignment: model.Assignment{CaseID: id, Department: dep, Role: role,
							State: model.AssignmentPending, PolicyVersion: "p", ClaimBy: at, ReplyBy: at, CloseBy: at, CreatedAt: at}})
						if err != nil {
							return err
						}
						for _, kind := range []string{"assignment.created", "assignment.claimed", "reminder.reply", "assignment.replied", "card.orange", "assignment.resolved"} {
							if _, err := st.AppendEvent(ctx, tx, store.Event{At: at, Kind: kind, CaseID: &id, AssignmentID: &aid, Actor: dep,
								Detail: []byte(`{"department":"` + dep + `","role":"` + string(role) + `","text":"已处理，电话0555-87654321"}`)}); err != nil {
								return err
							}
						}
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
			// Statistics as autovacuum (PostgreSQL) or an operator (SQLite)
			// would have them: without, a freshly filled table is planned
			// as if it were empty.
			if _, err := st.DB.Exec(ctx, "ANALYZE"); err != nil {
				b.Fatal(err)
			}
			rs, err := rules.Load("../rules/default")
			if err != nil {
				b.Fatal(err)
			}
			mux := http.NewServeMux()
			end := start.Add(cases * time.Minute)
			public.New(st, public.Options{RuleSet: func() *rules.RuleSet { return rs }, Now: func() time.Time { return end }}).Register(mux)
			mid := fmt.Sprintf("MSB-%s-%04d", start.Add(cases/2*time.Minute).Format("20060102"), cases/2)
			for _, path := range []string{"/c/" + mid, "/c/" + mid + ".json", "/open311/v2/requests.json?page_size=50&service_code=stairwell"} {
				b.Run(path[:min(len(path), 24)], func(b *testing.B) {
					for b.Loop() {
						rec := httptest.NewRecorder()
						mux.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
						if rec.Code != 200 {
							b.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body)
						}
					}
				})
			}
		})
	}
}
