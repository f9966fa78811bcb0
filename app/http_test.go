package app_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mashangban/mashangban/app"
)

// TestSlowClientIsCutOff checks the HTTP server's limits: a client that
// trickles its request body, or sends headers beyond the size limit, does
// not keep its connection.
func TestSlowClientIsCutOff(t *testing.T) {
	cfg := setups[0].cfg(t, t.TempDir())
	r := start(t, cfg, app.Options{HTTPLimits: app.HTTPLimits{Read: 500 * time.Millisecond, MaxHeaderBytes: 4 << 10}})
	addr := r.app.Addr()

	t.Run("slow body", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "POST /-/reload HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n")
		start := time.Now()
		// One byte every 100 ms would take 100 s; the read limit ends it.
		// Whatever the server answers first, the connection must be gone
		// well before the 1000 bytes are sent.
		closed := false
		for time.Since(start) < 5*time.Second && !closed {
			if _, err := c.Write([]byte("a")); err != nil {
				closed = true
				break
			}
			c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			buf := make([]byte, 1)
			if _, err := c.Read(buf); err != nil {
				if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
					closed = true // EOF or reset: the server let go
				}
			}
		}
		if !closed {
			t.Fatalf("connection still open after %s of a trickled body", time.Since(start).Round(time.Millisecond))
		}
	})

	t.Run("oversized headers", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\n\r\n", strings.Repeat("a", 64<<10))
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("read response: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("status %d, want 431", resp.StatusCode)
		}
	})
}
