package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestHealthcheck(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/readyz":
			w.Write([]byte(`{"db":"ok"}`))
		case "/unready":
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"db":"connection refused"}`))
		case "/slow":
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	tlsSrv := httptest.NewTLSServer(srv.Config.Handler)
	defer tlsSrv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String() + "/readyz"
	ln.Close()

	for _, tc := range []struct {
		name     string
		args     []string
		code     int
		inStderr string
	}{
		{"ready", []string{"--url", srv.URL + "/readyz"}, 0, ""},
		{"unready", []string{"--url", srv.URL + "/unready"}, 1, `503 Service Unavailable {"db":"connection refused"}`},
		{"not found", []string{"--url", srv.URL + "/nothing"}, 1, "404"},
		{"nothing listening", []string{"--url", dead}, 1, "connection refused"},
		{"too slow", []string{"--url", srv.URL + "/slow", "--timeout", "200ms"}, 1, "deadline exceeded"},
		{"https, certificate not trusted", []string{"--url", tlsSrv.URL + "/readyz"}, 1, "certificate"},
		{"https, --insecure", []string{"--url", tlsSrv.URL + "/readyz", "--insecure"}, 0, ""},
		{"bad url", []string{"--url", "::"}, 2, "missing protocol scheme"},
		{"stray argument", []string{"now"}, 2, "unexpected arguments"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := healthcheckCmd(context.Background(), tc.args, &stdout, &stderr); code != tc.code {
				t.Errorf("exit code %d, want %d; stderr: %s", code, tc.code, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.inStderr) {
				t.Errorf("stderr %q does not contain %q", stderr.String(), tc.inStderr)
			}
		})
	}
}
