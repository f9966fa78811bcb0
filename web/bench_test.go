package web

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mashangban/mashangban/dispatch"
	"github.com/mashangban/mashangban/store"
	"github.com/mashangban/mashangban/store/storetest"
)

// benchCases is how many cases the page benchmarks run on.
const benchCases = 100_000

// BenchmarkPages renders the console's busiest pages on an SQLite store of
// 100,000 cases spread evenly over ten weeks, ten departments and six
// districts, one in ten with an assisting department: 40% of the last two
// weeks' assignments and one in forty of the older ones are still active
// (about 10,000 in all), one active assignment in eight has a card.
//
//	go test -run '^$' -bench BenchmarkPages -benchtime 50x ./web/
func BenchmarkPages(b *testing.B) {
	st := storetest.OpenSQLite(b)
	now := start
	depts := []string{"cgj", "gas", "ldj", "d4", "d5", "d6", "d7", "d8", "d9", "d10"}
	auth := make([]dispatch.DepartmentAuth, 0, len(depts)+1)
	for _, d := range depts {
		auth = append(auth, dispatch.DepartmentAuth{ID: d, Name: "测试部门" + d, Token: "tok-" + d})
	}
	auth = append(auth, dispatch.DepartmentAuth{ID: "duty", Name: "市马上办", Token: "tok-duty", Supervisor: true})
	t0 := time.Now()
	seedMany(b, st, now, depts)
	b.Logf("seeded %d cases in %v", benchCases, time.Since(t0).Round(time.Millisecond))
	d := dispatch.New(st, dispatch.Options{Now: func() time.Time { return now }, Departments: auth}, nil, nil)
	h := New(Deps{Store: st, Dispatcher: d, Authenticate: d.Authenticate})
	ctx := context.Background()
	cookie := func(actor, role string) *http.Cookie {
		tok := newToken()
		if err := st.CreateWebSession(ctx, store.WebSession{IDHash: hashHex(tok), Actor: actor, Role: role, CSRF: "x", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			b.Fatal(err)
		}
		return &http.Cookie{Name: cookieName, Value: tok}
	}
	dept, office := cookie("cgj", store.RoleDepartment), cookie("duty", store.RoleOffice)
	for _, p := range []struct {
		name, path string
		c          *http.Cookie
		want       string
	}{
		{"inbox-department", "/ui/inbox", dept, "本部门待办"},
		{"inbox-office-overdue", "/ui/inbox?overdue=1", office, "已超时"},
		{"dashboard", "/ui/dashboard", office, "本周按时率"},
		{"case", "/ui/cases/MSB-B-000050", office, "办件 MSB-B-000050"},
		{"inbox-department-search", "/ui/inbox?q=" + url.QueryEscape("第1234"), dept, "含“第1234”"},
		{"inbox-office-search", "/ui/inbox?state=pending&q=" + url.QueryEscape("井盖"), office, "含“井盖”"},
		{"report", "/ui/report?week=" + now.AddDate(0, 0, -7).Format("2006-01-02"), office, "一周一专报"},
	} {
		b.Run(p.name, func(b *testing.B) {
			for b.Loop() {
				req := httptest.NewRequest(http.MethodGet, p.path, nil)
				req.AddCookie(p.c)
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), p.want) {
					b.Fatalf("%s: %d\n%s", p.path, w.Code, w.Body.String())
				}
			}
		})
	}
}

// seedMany writes the benchmark's cases with multi-row inserts of 50 cases
// a transaction (binding numbered parameters costs more than linear time in
// their number on SQLite: 50 is about ten times faster than 500).
func seedMany(b testing.TB, st *store.Store, now time.Time, depts []string) {
	ctx := context.Background()
	districts := []struct{ code, name string }{{"340503", "花山区"}, {"340504", "雨山区"}, {"340506", "博望区"}, {"340521", "当涂县"}, {"340522", "含山县"}, {"340523", "和县"}}
	states := []string{"resolved", "resolved", "resolved", "resolved", "resolved", "resolved", "pending", "claimed", "replied", "pending"}
	const batch = 50
	aid := 0
	for from := 0; from < benchCases; from += batch {
		var cases, posts, assigns, notices strings.Builder
		var cargs, pargs, aargs, nargs []any
		ph := func(args *[]any, vals ...any) string {
			s := make([]string, len(vals))
			for i, v := range vals {
				*args = append(*args, v)
				s[i] = fmt.Sprintf("$%d", len(*args))
			}
			return "(" + strings.Join(s, ", ") + ")"
		}
		sep := func(sb *strings.Builder) {
			if sb.Len() > 0 {
				sb.WriteString(", ")
			}
		}
		for i := from; i < min(from+batch, benchCases); i++ {
			created := now.Add(-time.Duration(i%(70*24)) * time.Hour) // the last ten weeks
			dist := districts[i%len(districts)]
			// Not in step with the department; of cases older than two
			// weeks, only one in forty is still open.
			state := states[(i/len(depts))%len(states)]
			if now.Sub(created) > 14*24*time.Hour && (i/len(depts))%40 != 1 {
				state = "resolved"
			}
			status := "open"
			var resolved any
			if state == "resolved" {
				status, resolved = "resolved", created.Add(48*time.Hour)
			}
			lead := depts[i%len(depts)]
			no := fmt.Sprintf("MSB-B-%06d", i)
			post := fmt.Sprintf("bench:%d", i)
			ds := fmt.Sprintf(`[{"code":%q,"name":%q}]`, dist.code, dist.name)
			sep(&cases)
			cases.WriteString(ph(&cargs, int64(i+1), no, status, dist.code, ds, "市容", "normal", lead, "雨山区湖东路第"+fmt.Sprint(i)+"号井盖丢失，晚上很危险",
				post, created, created, resolved))
			sep(&posts)
			posts.WriteString(ph(&pargs, post, int64(i+1), "origin", created))
			depsOf := []string{lead}
			if i%10 == 3 {
				depsOf = append(depsOf, depts[(i+1)%len(depts)])
			}
			for j, dep := range depsOf {
				aid++
				role := "lead"
				if j > 0 {
					role = "assist"
				}
				var claimed any
				if state != "pending" {
					claimed = created.Add(time.Hour)
				}
				sep(&assigns)
				assigns.WriteString(ph(&aargs, int64(aid), int64(i+1), dep, role, state, "seed-2026",
					created.Add(24*time.Hour), created.Add(72*time.Hour), created.Add(7*24*time.Hour), claimed, resolved, created, created))
				if state != "resolved" && (i/3)%8 == 1 {
					sep(&notices)
					notices.WriteString(ph(&nargs, int64(aid), "yellow", created.Add(24*time.Hour), dep, created.Add(25*time.Hour)))
				}
			}
		}
		err := st.DB.InTx(ctx, func(tx store.Tx) error {
			for _, q := range []struct {
				sql  string
				args []any
			}{
				{`INSERT INTO cases (id, case_no, status, district, districts, category, priority, lead, summary, first_post_id, created_at, updated_at, resolved_at) VALUES ` + cases.String(), cargs},
				{`INSERT INTO case_posts (post_id, case_id, role, merged_at) VALUES ` + posts.String(), pargs},
				{`INSERT INTO assignments (id, case_id, department, role, state, policy_version, claim_by, reply_by, close_by, claimed_at, resolved_at, created_at, updated_at) VALUES ` + assigns.String(), aargs},
				{`INSERT INTO notices (assignment_id, kind, deadline, department, issued_at) VALUES ` + notices.String(), nargs},
			} {
				if len(q.args) == 0 {
					continue
				}
				if _, err := tx.Exec(ctx, q.sql, q.args...); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}
