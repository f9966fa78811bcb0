package app_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mashangban/mashangban/app"
)

// selfSigned writes a self-signed certificate for 127.0.0.1 and its key.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "mashangban test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestTLS: with a certificate and key the server speaks HTTPS (and not
// plain HTTP).
func TestTLS(t *testing.T) {
	cfg := setups[0].cfg(t, t.TempDir())
	certFile, keyFile, pool := selfSigned(t, t.TempDir())
	cfg.HTTP.TLSCertFile, cfg.HTTP.TLSKeyFile = certFile, keyFile
	r := start(t, cfg, app.Options{})
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get("https://" + r.app.Addr() + "/healthz")
	if err != nil {
		t.Fatalf("HTTPS: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "ok\n" || resp.TLS == nil {
		t.Errorf("HTTPS /healthz: %d %q", resp.StatusCode, b)
	}
	if resp, err := http.Get("http://" + r.app.Addr() + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Error("plain HTTP answered 200 on the TLS port")
		}
	}
	if strings.Contains(r.logs.String(), "without TLS") {
		t.Errorf("TLS warning on a TLS server:\n%s", r.logs)
	}
}

// TestWarnWithoutTLS: one warning when listening beyond loopback without
// TLS, none on loopback or with TLS.
func TestWarnWithoutTLS(t *testing.T) {
	certFile, keyFile, _ := selfSigned(t, t.TempDir())
	for _, tc := range []struct {
		name, listen string
		tls          bool
		warnings     int
	}{
		{"all interfaces, no TLS", "0.0.0.0:0", false, 1},
		{"loopback, no TLS", "127.0.0.1:0", false, 0},
		{"all interfaces, TLS", "0.0.0.0:0", true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := setups[0].cfg(t, t.TempDir())
			cfg.Examples = false
			cfg.HTTP.Listen = tc.listen
			if tc.tls {
				cfg.HTTP.TLSCertFile, cfg.HTTP.TLSKeyFile = certFile, keyFile
			}
			r := start(t, cfg, app.Options{})
			if n := strings.Count(r.logs.String(), "without TLS"); n != tc.warnings {
				t.Errorf("%d warnings, want %d:\n%s", n, tc.warnings, r.logs)
			}
		})
	}
}
