package app_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/mashangban/mashangban/app"
	"github.com/mashangban/mashangban/config"
	"github.com/mashangban/mashangban/examples"
	"github.com/mashangban/mashangban/model"
	"github.com/mashangban/mashangban/rules"
	"github.com/mashangban/mashangban/store"
	"github.com/mashangban/mashangban/store/storetest"
)

// setup is one way of running mashangban: the embedded default, or Kafka
// (an in-process kfake broker) with PostgreSQL (TEST_DATABASE_URL).
type setup struct {
	name string
	cfg  func(t *testing.T, dataDir string) config.Config
}

// adminToken is the administrator's token of every test setup.
const adminToken = "admin-token-0123456789abcdef"

var setups = []setup{
	{"embedded", func(t *testing.T, dataDir string) config.Config {
		c := config.Default()
		c.DataDir = dataDir
		c.HTTP.Listen = "127.0.0.1:0"
		c.Access.Admin = []config.Credential{{Name: "ops", Token: adminToken}}
		return c
	}},
	{"kafka+postgres", func(t *testing.T, dataDir string) config.Config {
		c := config.Default()
		c.DataDir = dataDir
		c.HTTP.Listen = "127.0.0.1:0"
		c.Access.Admin = []config.Credential{{Name: "ops", Token: adminToken}}
		c.Kafka.Brokers = kafkaCluster(t)
		c.Kafka.Partitions = 3
		c.DB.URL = config.Secret(postgresSchema(t))
		c.DB.Migrate = true
		return c
	}},
}

// clusters are shared per test: one broker for both runs of a restart test.
var clusterMu sync.Mutex
var clusters = map[string][]string{}

func kafkaCluster(t *testing.T) []string {
	t.Helper()
	clusterMu.Lock()
	defer clusterMu.Unlock()
	root := strings.SplitN(t.Name(), "/", 2)[0] + "/" + strings.SplitN(t.Name()+"/", "/", 3)[1]
	if addrs, ok := clusters[root]; ok {
		return addrs
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatalf("start kfake: %v", err)
	}
	t.Cleanup(func() {
		c.Close()
		clusterMu.Lock()
		delete(clusters, root)
		clusterMu.Unlock()
	})
	clusters[root] = c.ListenAddrs()
	return c.ListenAddrs()
}

// postgresSchema returns TEST_DATABASE_URL pointed at a fresh schema (one per
// top-level subtest, so a restart test's second run sees the first's data).
var schemaMu sync.Mutex
var schemas = map[string]string{}

func postgresSchema(t *testing.T) string {
	t.Helper()
	base := storetest.PostgresURL(t)
	schemaMu.Lock()
	defer schemaMu.Unlock()
	root := strings.SplitN(t.Name(), "/", 2)[0] + "/" + strings.SplitN(t.Name()+"/", "/", 3)[1]
	if u, ok := schemas[root]; ok {
		return u
	}
	b := make([]byte, 6)
	rand.Read(b)
	schema := "msb_e2e_" + hex.EncodeToString(b)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		schemaMu.Lock()
		delete(schemas, root)
		schemaMu.Unlock()
		conn, err := pgx.Connect(ctx, base)
		if err == nil {
			conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
			conn.Close(ctx)
		}
	})
	pu, _ := url.Parse(base)
	q := pu.Query()
	q.Set("search_path", schema)
	pu.RawQuery = q.Encode()
	schemas[root] = pu.String()
	return pu.String()
}

// running is an app started in-process.
type running struct {
	app    *app.App
	cancel context.CancelFunc
	done   chan error
	logs   *syncBuffer
}

func start(t *testing.T, cfg config.Config, opts app.Options) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, done: make(chan error, 1), logs: &syncBuffer{}}
	opts.Logger = slog.New(slog.NewTextHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	started := make(chan *app.App, 1)
	opts.Started = func(a *app.App) { started <- a }
	go func() { r.done <- app.Run(ctx, cfg, opts) }()
	select {
	case r.app = <-started:
	case err := <-r.done:
		t.Fatalf("app did not start: %v\nlogs:\n%s", err, r.logs)
	case <-time.After(60 * time.Second):
		t.Fatalf("app did not start in 60s\nlogs:\n%s", r.logs)
	}
	t.Cleanup(func() { r.stop(t) })
	return r
}

func (r *running) stop(t *testing.T) {
	r.cancel()
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("app.Run: %v", err)
		}
		r.done <- nil // a second stop returns at once
	case <-time.After(30 * time.Second):
		t.Errorf("app did not stop in 30s\nlogs:\n%s", r.logs)
	}
}

// outcome is where one post ended up.
type outcome struct {
	caseKey string // the case's first post ID ("" for triage)
	lead    string
	triage  bool
}

// outcomes reads, for every handled post, its case (or triage) from the store.
func outcomes(t *testing.T, st *store.Store) map[string][]outcome {
	t.Helper()
	ctx := context.Background()
	out := map[string][]outcome{}
	rows, err := st.DB.Query(ctx, `
		SELECT cp.post_id, c.first_post_id, c.lead
		FROM case_posts cp JOIN cases c ON c.id = cp.case_id
		WHERE cp.unmerged_at IS NULL`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var post, first, lead string
		if err := rows.Scan(&post, &first, &lead); err != nil {
			t.Fatal(err)
		}
		out[post] = append(out[post], outcome{caseKey: first, lead: lead})
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	rows, err = st.DB.Query(ctx, `SELECT post_id FROM triage WHERE state = 'waiting'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var post string
		if err := rows.Scan(&post); err != nil {
			t.Fatal(err)
		}
		out[post] = append(out[post], outcome{triage: true})
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	return out
}

// examplePostIDs are the global IDs of the shipped example posts.
func examplePostIDs(t *testing.T) []string {
	t.Helper()
	var ids []string
	sc := bufio.NewScanner(bytes.NewReader(examples.Posts))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var p struct {
			ID      string `json:"id"`
			Channel string `json:"channel"`
		}
		if err := json.Unmarshal([]byte(line), &p); err != nil {
			t.Fatalf("example post: %v", err)
		}
		ch := p.Channel
		if ch == "" {
			ch = string(model.ChannelReplay)
		}
		if strings.Contains(p.ID, ":") {
			ids = append(ids, p.ID)
		} else {
			ids = append(ids, ch+":"+p.ID)
		}
	}
	return ids
}

// waitHandled waits until every post is handled (a case or triage).
func waitHandled(t *testing.T, r *running, ids []string) map[string][]outcome {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		got := outcomes(t, r.app.Store())
		missing := 0
		for _, id := range ids {
			if len(got[id]) == 0 {
				missing++
			}
		}
		if missing == 0 {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d posts not handled after 90s\nlogs:\n%s", missing, len(ids), r.logs)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestEndToEndSameCasesBothSetups runs the whole app on the shipped example
// posts, embedded and on Kafka + PostgreSQL, and checks the same cases come
// out: the same posts grouped into the same cases with the same leads.
func TestEndToEndSameCasesBothSetups(t *testing.T) {
	ids := examplePostIDs(t)
	results := map[string]map[string][]outcome{}
	for _, s := range setups {
		t.Run(s.name, func(t *testing.T) {
			cfg := s.cfg(t, t.TempDir())
			cfg.Dispatch.Departments = []config.Department{{ID: "duty-office", Token: "supervisor-token-0123456789", Supervisor: true}}
			r := start(t, cfg, app.Options{})
			got := waitHandled(t, r, ids)
			for _, id := range ids {
				if n := len(got[id]); n != 1 {
					t.Errorf("post %s is in %d cases or triage items, want 1", id, n)
				}
			}
			// The three reports of the same fallen windows at 阳湖花园 are one case.
			if a, b, c := got["replay:20261120-001"], got["replay:20261120-002"], got["replay:20261124-003"]; len(a) != 1 || len(b) != 1 || len(c) != 1 ||
				a[0].caseKey != b[0].caseKey || a[0].caseKey != c[0].caseKey {
				t.Errorf("repeated reports not merged: %v %v %v", a, b, c)
			}
			// The local case list serves the same cases as JSON.
			var page struct {
				Cases []model.Case
				Next  string
			}
			if err := json.Unmarshal([]byte(httpDo(t, "GET", "http://"+r.app.Addr()+"/cases?limit=1000", "supervisor-token-0123456789", 200)), &page); err != nil {
				t.Fatalf("GET /cases: %v", err)
			}
			cases := page.Cases
			if page.Next != "" {
				t.Errorf("GET /cases?limit=1000: next = %q, want none for %d cases", page.Next, len(cases))
			}
			for i := 1; i < len(cases); i++ {
				if cases[i].ID >= cases[i-1].ID {
					t.Errorf("GET /cases: case %d listed after case %d, want newest first", cases[i].ID, cases[i-1].ID)
				}
			}
			firsts := map[string]bool{}
			for _, o := range got {
				if !o[0].triage {
					firsts[o[0].caseKey] = true
				}
			}
			if len(cases) != len(firsts) {
				t.Errorf("GET /cases listed %d cases, the store has %d", len(cases), len(firsts))
			}
			for _, c := range cases {
				if !strings.HasPrefix(c.No, "MSB-") || !firsts[c.FirstPostID] {
					t.Errorf("case %+v is not one of the store's", c)
				}
			}
			// The department API serves the same cases to a supervisor, and
			// nothing without a token.
			apiCases := httpDo(t, "GET", "http://"+r.app.Addr()+"/api/cases?limit=200", "supervisor-token-0123456789", 200)
			for _, c := range cases {
				if !strings.Contains(apiCases, c.No) {
					t.Errorf("/api/cases lacks %s", c.No)
				}
			}
			httpDo(t, "GET", "http://"+r.app.Addr()+"/api/cases", "", 401)
			// Every case has a public page, without a token, that names its
			// lead department by the rule set's name, never by its code.
			rs, err := rules.Load("../rules/default")
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range cases {
				dep, ok := rs.Department(c.Lead)
				if !ok {
					t.Fatalf("case %s: lead %q is not in the rule set", c.No, c.Lead)
				}
				page := httpGet(t, "http://"+r.app.Addr()+"/c/"+c.No, 200)
				if !strings.Contains(page, "<dd>"+dep.Name+"</dd>") || strings.Contains(page, ">"+c.Lead+"<") {
					t.Errorf("/c/%s does not name its lead %s as %s", c.No, c.Lead, dep.Name)
				}
			}
			if o311 := httpGet(t, "http://"+r.app.Addr()+"/open311/v2/requests.json?start_date=2000-01-01T00:00:00Z", 200); !strings.Contains(o311, `"service_request_id"`) {
				t.Errorf("open311 requests: %s", o311)
			}
			metrics := httpDo(t, "GET", "http://"+r.app.Addr()+"/metrics", adminToken, 200)
			if want := fmt.Sprintf("mashangban_posts_in_total %d\n", len(ids)); !strings.Contains(metrics, want) {
				t.Errorf("/metrics lacks %q", want)
			}
			for _, name := range []string{"mashangban_decisions_total{outcome=", "mashangban_stage_duration_seconds_bucket{stage=\"classify\"", "mashangban_dispatched_total"} {
				if !strings.Contains(metrics, name) {
					t.Errorf("/metrics lacks %s", name)
				}
			}
			if ready := httpDo(t, "GET", "http://"+r.app.Addr()+"/readyz", adminToken, 200); !strings.Contains(ready, `"store": "ok"`) || !strings.Contains(ready, `"log": "ok"`) {
				t.Errorf("/readyz for an administrator = %s", ready)
			}
			if ready := httpGet(t, "http://"+r.app.Addr()+"/readyz", 200); ready != "ready\n" {
				t.Errorf("public /readyz = %q, want only \"ready\"", ready)
			}
			// The acknowledgements are sent after the cases commit.
			for deadline := time.Now().Add(30 * time.Second); !strings.Contains(r.logs.String(), "reply sent"); {
				if time.Now().After(deadline) {
					t.Fatalf("no acknowledgement in the log:\n%s", r.logs)
				}
				time.Sleep(20 * time.Millisecond)
			}
			results[s.name] = got
		})
	}
	if len(results) == len(setups) {
		a, b := summary(results[setups[0].name]), summary(results[setups[1].name])
		if a != b {
			t.Errorf("different cases:\n%s:\n%s\n%s:\n%s", setups[0].name, a, setups[1].name, b)
		}
	}
}

func httpGet(t *testing.T, u string, wantCode int) string {
	t.Helper()
	return httpDo(t, "GET", u, "", wantCode)
}

func httpDo(t *testing.T, method, u, token string, wantCode int) string {
	t.Helper()
	code, body := call(t, method, u, token, "")
	if code != wantCode {
		t.Errorf("%s %s: %d, want %d: %s", method, u, code, wantCode, body)
	}
	return body
}

// summary renders how posts were grouped into cases, independent of which
// post of a case arrived first (with several partitions that order is not
// fixed): each case as its sorted posts and lead, each triage item alone.
func summary(o map[string][]outcome) string {
	members := map[string][]string{}
	leads := map[string]string{}
	var lines []string
	for post, os := range o {
		for _, x := range os {
			if x.triage {
				lines = append(lines, "triage: "+post)
				continue
			}
			members[x.caseKey] = append(members[x.caseKey], post)
			leads[x.caseKey] = x.lead
		}
	}
	for k, m := range members {
		sort.Strings(m)
		lines = append(lines, fmt.Sprintf("case lead=%s posts=%s", leads[k], strings.Join(m, ",")))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// TestKillAndRestart stops the app abruptly in the middle of a replay
// (cancelled with no drain), starts a new app on the same store and log, and
// checks that every post ends up in exactly one case or triage item.
func TestKillAndRestart(t *testing.T) {
	for _, s := range setups {
		t.Run(s.name, func(t *testing.T) {
			dataDir := t.TempDir()
			file, ids := bigReplay(t, dataDir, 300)
			cfg := s.cfg(t, dataDir)
			cfg.Sources = []config.Source{{Name: "backfill", Type: config.SourceReplay, File: file, Interval: config.Duration(50 * time.Millisecond)}}

			first := start(t, cfg, app.Options{DrainTimeout: -1})
			// Wait until some, but not all, posts are handled, then cut.
			deadline := time.Now().Add(60 * time.Second)
			for {
				n := len(outcomes(t, first.app.Store()))
				if n >= 20 {
					if n == len(ids) {
						t.Logf("all %d posts were handled before the cut; the restart still must not double anything", n)
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("no progress in 60s\nlogs:\n%s", first.logs)
				}
				time.Sleep(5 * time.Millisecond)
			}
			first.stop(t)
			cut := len(outcomes(t, openStore(t, cfg)))
			t.Logf("cut after %d of %d posts", cut, len(ids))

			second := start(t, cfg, app.Options{})
			got := waitHandled(t, second, ids)
			for _, id := range ids {
				if n := len(got[id]); n != 1 {
					t.Errorf("post %s is in %d cases or triage items, want exactly 1", id, n)
				}
			}
			if len(got) != len(ids) {
				t.Errorf("%d posts handled, want %d", len(got), len(ids))
			}
			// One acknowledgement per post, never two.
			var dup int
			if err := second.app.Store().DB.QueryRow(context.Background(),
				`SELECT COUNT(*) FROM (SELECT post_id FROM outbox WHERE kind = 'ack' GROUP BY post_id HAVING COUNT(*) > 1) d`).Scan(&dup); err != nil {
				t.Fatal(err)
			}
			if dup != 0 {
				t.Errorf("%d posts have more than one acknowledgement", dup)
			}
		})
	}
}

func openStore(t *testing.T, cfg config.Config) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), cfg.DBURL(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// bigReplay writes n distinct posts (varied subjects and places, so that
// they make many cases) to a replay file.
func bigReplay(t *testing.T, dir string, n int) (string, []string) {
	t.Helper()
	subjects := []string{"路灯不亮", "楼道窗户脱落", "广告牌强光扰民", "路面坑洼积水", "垃圾堆放无人清理", "夜间施工噪音扰民", "小区停车位被占", "流浪狗伤人"}
	places := []string{"花山区湖东路", "雨山区阳湖社区", "博望区博望镇", "当涂县姑孰镇", "和县历阳镇", "含山县环峰镇"}
	var buf bytes.Buffer
	var ids []string
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("kr-%04d", i)
		ids = append(ids, "replay:"+id)
		fmt.Fprintf(&buf, `{"id":%q,"text":"%s第%d号楼附近%s，编号%d，请尽快处理","created_at":"2026-11-20 08:00:00"}`+"\n",
			id, places[i%len(places)], i, subjects[(i/len(places))%len(subjects)], i*7919)
	}
	p := filepath.Join(dir, "backfill.jsonl")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p, ids
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var _ io.Writer = (*syncBuffer)(nil)

// TestRolesInSeparateProcesses runs ingest, classify and dispatch as three
// apps on one Kafka cluster and one PostgreSQL database, as a deployment
// that outgrew one machine would, and checks every example post is handled.
func TestRolesInSeparateProcesses(t *testing.T) {
	brokers := kafkaCluster(t)
	dbURL := postgresSchema(t)
	ids := examplePostIDs(t)
	var stages []*running
	for _, role := range []string{config.RoleDispatch, config.RoleClassify, config.RoleIngest} {
		c := config.Default()
		c.DataDir = t.TempDir()
		c.HTTP.Listen = "127.0.0.1:0"
		c.Roles = []string{role}
		c.Kafka.Brokers = brokers
		c.Kafka.Partitions = 2
		c.DB.URL = config.Secret(dbURL)
		c.DB.Migrate = true
		c.Access.Admin = []config.Credential{{Name: "ops", Token: adminToken}}
		c.HTTP.EnableLifecycle = true
		stages = append(stages, start(t, c, app.Options{}))
	}
	got := waitHandled(t, stages[0], ids)
	for _, id := range ids {
		if n := len(got[id]); n != 1 {
			t.Errorf("post %s is in %d cases or triage items, want 1", id, n)
		}
	}
	// Only the classify process serves rule reloads.
	httpDo(t, "POST", "http://"+stages[0].app.Addr()+"/-/reload", adminToken, 404)
	httpDo(t, "POST", "http://"+stages[1].app.Addr()+"/-/reload", adminToken, 200)
}

// TestRunRefusesOldSchema: run does not start on a database whose schema is
// behind unless told to migrate; migrate brings it up to date.
func TestRunRefusesOldSchema(t *testing.T) {
	for _, s := range setups {
		t.Run(s.name, func(t *testing.T) {
			cfg := s.cfg(t, t.TempDir())
			cfg.DB.Migrate = false
			if s.name == "embedded" {
				// The embedded default creates a brand-new file's schema by
				// itself; an explicitly configured file is the user's to migrate.
				cfg.DB.URL = config.Secret("sqlite:" + filepath.Join(cfg.DataDir, "explicit.db"))
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			err := app.Run(ctx, cfg, app.Options{})
			if err == nil || !strings.Contains(err.Error(), "mashangban migrate") {
				t.Fatalf("run on an unmigrated database: %v", err)
			}
			from, to, err := app.Migrate(ctx, cfg)
			if err != nil || from != 0 || to < 2 {
				t.Fatalf("migrate: %d -> %d, %v", from, to, err)
			}
			r := start(t, cfg, app.Options{})
			waitHandled(t, r, examplePostIDs(t))
		})
	}
}

// TestBadInputNeverStopsTheDaemon feeds a replay file with lines that are
// not posts, invalid UTF-8, an empty post, a huge post, HTML and emoji: every
// line ends up as a case, a triage item or a dead letter with its reason,
// and the daemon keeps serving.
func TestBadInputNeverStopsTheDaemon(t *testing.T) {
	dataDir := t.TempDir()
	lines := []string{
		`{"id":"ok-1","text":"花山区湖东路路灯不亮好几天了"}`,
		`this is not json`,
		`{"id":"bad-utf8","text":"` + "\xff\xfe" + `路灯坏了"}`,
		`{"id":"empty","text":""}`,
		`{"id":"huge","text":"` + strings.Repeat("雨山区阳湖社区楼道窗户脱落", 20000) + `"}`,
		`{"id":"html","text":"<p>东方城小区门口<b>没有路灯</b></p><script>alert(1)</script>😡😡"}`,
		`{"id":"emoji","text":"😡😡😡👍"}`,
		`{"id": 12, "text": ["wrong", "types"]}`,
		`{"id":"ok-2","text":"当涂县姑孰镇护城河边有人往河里倒生活垃圾"}`,
	}
	file := filepath.Join(dataDir, "bad.jsonl")
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := setups[0].cfg(t, dataDir)
	cfg.Sources = []config.Source{{Name: "bad", Type: config.SourceReplay, File: file, Interval: config.Duration(50 * time.Millisecond)}}
	r := start(t, cfg, app.Options{})
	got := waitHandled(t, r, []string{"replay:ok-1", "replay:ok-2", "replay:bad-utf8", "replay:huge", "replay:html", "replay:emoji"})
	for id, o := range got {
		if len(o) != 1 {
			t.Errorf("%s handled %d times", id, len(o))
		}
	}
	if o := got["replay:ok-1"]; len(o) != 1 || o[0].triage {
		t.Errorf("a good post was not routed: %+v", o)
	}
	// The lines that are not posts are dead letters, each with its reason.
	var deadDeadline = time.Now().Add(30 * time.Second)
	for {
		dl, err := r.app.Store().ListDeadLetters(context.Background(), 100)
		if err != nil {
			t.Fatal(err)
		}
		keys := map[string]string{}
		for _, d := range dl {
			keys[d.Key] = d.Reason
			if d.Reason == "" || len(d.Raw) == 0 {
				t.Errorf("dead letter without reason or body: %+v", d)
			}
		}
		want := []string{"line:2", "line:4", "line:8", "replay:huge"}
		all := true
		for _, k := range want {
			if _, ok := keys[k]; !ok {
				all = false
			}
		}
		if all {
			if len(keys) != len(want) {
				t.Errorf("dead letters %v, want exactly %v", keys, want)
			}
			break
		}
		if time.Now().After(deadDeadline) {
			t.Fatalf("dead letters %v, want %v\n%s", keys, want, r.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	httpGet(t, "http://"+r.app.Addr()+"/healthz", 200)
	if dl := httpDo(t, "GET", "http://"+r.app.Addr()+"/deadletters", adminToken, 200); !strings.Contains(dl, "empty text") || !strings.Contains(dl, "this is not json") {
		t.Errorf("/deadletters does not show the reasons and raw lines: %s", dl)
	}
	if m := httpDo(t, "GET", "http://"+r.app.Addr()+"/metrics", adminToken, 200); !strings.Contains(m, `mashangban_ingest_dead_letters_total{source="bad"}`) {
		t.Errorf("dead letters not counted in /metrics")
	}
}
