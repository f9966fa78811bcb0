package dispatch

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mashangban/mashangban/model"
	"github.com/mashangban/mashangban/store"
	"github.com/mashangban/mashangban/store/storetest"
	"github.com/mashangban/mashangban/stream"
	"github.com/mashangban/mashangban/stream/memlog"
)

// pgProxy forwards TCP connections to PostgreSQL until it is cut: then it
// closes every open connection and refuses new ones, as a database that
// went away would.
type pgProxy struct {
	ln     net.Listener
	target string
	down   atomic.Bool
	mu     sync.Mutex
	conns  []net.Conn
}

func newPGProxy(t *testing.T, target string) *pgProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &pgProxy{ln: ln, target: target}
	t.Cleanup(func() { ln.Close(); p.cut() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if p.down.Load() {
				c.Close()
				continue
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, s)
			p.mu.Unlock()
			go func() { io.Copy(s, c); s.Close() }()
			go func() { io.Copy(c, s); c.Close() }()
		}
	}()
	return p
}

func (p *pgProxy) cut() {
	p.down.Store(true)
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
	p.mu.Unlock()
}

// TestDatabaseOutageRetriedNotSetAside cuts PostgreSQL away under the
// dispatch stage: the decision is delivered again and again while the
// database is gone, never dead-lettered, the log says once that the outage
// started and once that it ended, and the decision is a case afterwards.
func TestDatabaseOutageRetriedNotSetAside(t *testing.T) {
	base, err := url.Parse(storetest.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	b := make([]byte, 6)
	rand.Read(b)
	schema := "msb_outage_" + hex.EncodeToString(b)
	conn, err := pgx.Connect(ctx, base.String())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		conn.Close(context.Background())
	})
	proxy := newPGProxy(t, base.Host)
	u := *base
	u.Host = proxy.ln.Addr().String()
	q := u.Query()
	q.Set("search_path", schema)
	q.Set("connect_timeout", "2")
	u.RawQuery = q.Encode()
	st, err := store.Open(ctx, u.String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}

	var logs syncBuf
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	log, err := memlog.Open("", memlog.Options{MinBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	d := newTestDispatcher(t, st, newFakeClock(start))
	s := d.NewStage(prometheus.NewRegistry(), nil)
	var failures atomic.Int32
	handled := make(chan struct{}, 1)
	h := func(ctx context.Context, m stream.Message) error {
		err := s.Handle(ctx, m)
		if err != nil {
			if failures.Add(1) == 5 {
				proxy.down.Store(false) // the database is back
			}
			return err
		}
		handled <- struct{}{}
		return nil
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go log.Consume(cctx, stream.TopicDecisions, "dispatch", h)

	proxy.cut()
	dec := decision(model.ChannelWeibo, "outage", "翠湖小区门口路灯坏了", lightA, lightPlace, huashan, ldj)
	if err := log.Publish(ctx, stream.TopicDecisions, message(t, dec)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-handled:
	case <-time.After(60 * time.Second):
		t.Fatalf("decision not handled after the outage; %d failures\n%s", failures.Load(), logs.String())
	}
	if n := failures.Load(); n < 5 {
		t.Errorf("%d failed deliveries, want at least 5", n)
	}
	if _, err := st.GetCasePost(ctx, nil, dec.Post.ID); err != nil {
		t.Errorf("no case after the outage: %v", err)
	}
	if n, err := st.CountDeadLetters(ctx); err != nil || n != 0 {
		t.Errorf("dead letters after an outage: %d, %v; want 0", n, err)
	}
	out := logs.String()
	if n := strings.Count(out, "level=WARN"); n != 1 {
		t.Errorf("%d warnings for one outage, want 1:\n%s", n, out)
	}
	if n := strings.Count(out, "succeeded after failures"); n != 1 {
		t.Errorf("%d lines for the end of the outage, want 1:\n%s", n, out)
	}
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
