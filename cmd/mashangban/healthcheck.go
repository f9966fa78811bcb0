package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// healthcheckCmd asks a running daemon's health or readiness endpoint and
// exits 0 if it answers 2xx, 1 otherwise. It is the container health check:
// the image has no curl or wget.
func healthcheckCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("mashangban healthcheck", "mashangban healthcheck [--url URL] [--timeout D] [--insecure]", stderr)
	url := fs.String("url", "http://127.0.0.1:8080/readyz", "endpoint to ask: /readyz (database, log, sources) or /healthz (process up)")
	timeout := fs.Duration("timeout", 5*time.Second, "give up after this long")
	insecure := fs.Bool("insecure", false, "with an https:// URL, do not verify the server's certificate (the daemon's own, asked on 127.0.0.1)")
	if code, done := parseFlags(fs, args, stdout); done {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "mashangban healthcheck: unexpected arguments %q\n", fs.Args())
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *url, nil)
	if err != nil {
		fmt.Fprintf(stderr, "mashangban healthcheck: %v\n", err)
		return 2
	}
	client := http.DefaultClient
	if *insecure {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // asked for, to check the local daemon
		client = &http.Client{Transport: tr}
	}
	resp, err := client.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "mashangban healthcheck: %v\n", err)
		return 1
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if resp.StatusCode/100 != 2 {
		fmt.Fprintf(stderr, "mashangban healthcheck: %s: %s %s\n", *url, resp.Status, strings.TrimSpace(string(body)))
		return 1
	}
	fmt.Fprintf(stdout, "%s: %s\n", *url, resp.Status)
	return 0
}
