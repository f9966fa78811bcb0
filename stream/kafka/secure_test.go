package kafka

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/mashangban/mashangban/stream"
)

// testCA is a certificate authority made up for one test, with a server
// certificate for 127.0.0.1 and a client certificate.
type testCA struct {
	pool   *x509.CertPool
	server tls.Certificate
	client tls.Certificate
}

func newTestCA(t testing.TB) *testCA {
	t.Helper()
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	caKey := key()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "mashangban test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	issue := func(serial int64, usage x509.ExtKeyUsage) tls.Certificate {
		k := key()
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: "127.0.0.1"},
			IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
			NotBefore:    time.Now().Add(-time.Hour),
			NotAfter:     time.Now().Add(time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: k}
	}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	return &testCA{pool: pool, server: issue(2, x509.ExtKeyUsageServerAuth), client: issue(3, x509.ExtKeyUsageClientAuth)}
}

// TestSecureConnections runs a Log against brokers that require TLS, SASL
// or both: publishing, consuming in a group and Ping all work with the
// right settings, and Open fails with wrong ones.
func TestSecureConnections(t *testing.T) {
	ca := newTestCA(t)
	other := newTestCA(t)
	serverTLS := &tls.Config{Certificates: []tls.Certificate{ca.server}, MinVersion: tls.VersionTLS12}
	mutualTLS := &tls.Config{Certificates: []tls.Certificate{ca.server}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: ca.pool, MinVersion: tls.VersionTLS12}
	trusting := &tls.Config{RootCAs: ca.pool}
	withClientCert := &tls.Config{RootCAs: ca.pool, Certificates: []tls.Certificate{ca.client}}
	sasl := func(mechanism, user, pass string) []kfake.Opt {
		return []kfake.Opt{kfake.EnableSASL(), kfake.Superuser(mechanism, user, pass)}
	}
	for _, tc := range []struct {
		name    string
		broker  []kfake.Opt
		tls     *tls.Config
		sasl    *SASL
		wantErr string // empty: must work
	}{
		{name: "tls", broker: []kfake.Opt{kfake.TLS(serverTLS)}, tls: trusting},
		{name: "mutual tls", broker: []kfake.Opt{kfake.TLS(mutualTLS)}, tls: withClientCert},
		{name: "sasl plain over tls", broker: append(sasl(SASLPlain, "msb", "plain-pass"), kfake.TLS(serverTLS)),
			tls: trusting, sasl: &SASL{Mechanism: SASLPlain, Username: "msb", Password: "plain-pass"}},
		{name: "sasl scram-sha-256", broker: sasl(SASLScramSHA256, "msb", "scram-256-pass"),
			sasl: &SASL{Mechanism: SASLScramSHA256, Username: "msb", Password: "scram-256-pass"}},
		{name: "sasl scram-sha-512", broker: sasl(SASLScramSHA512, "msb", "scram-512-pass"),
			sasl: &SASL{Mechanism: SASLScramSHA512, Username: "msb", Password: "scram-512-pass"}},
		{name: "sasl scram-sha-512 over mutual tls", broker: append(sasl(SASLScramSHA512, "msb", "scram-512-pass"), kfake.TLS(mutualTLS)),
			tls: withClientCert, sasl: &SASL{Mechanism: SASLScramSHA512, Username: "msb", Password: "scram-512-pass"}},

		{name: "plaintext to a tls broker", broker: []kfake.Opt{kfake.TLS(serverTLS)}, wantErr: "kafka: ping"},
		{name: "untrusted broker certificate", broker: []kfake.Opt{kfake.TLS(serverTLS)}, tls: &tls.Config{RootCAs: other.pool},
			wantErr: "certificate signed by unknown authority"},
		{name: "no client certificate", broker: []kfake.Opt{kfake.TLS(mutualTLS)}, tls: trusting, wantErr: "certificate required"},
		{name: "wrong password", broker: sasl(SASLScramSHA256, "msb", "scram-256-pass"),
			sasl: &SASL{Mechanism: SASLScramSHA256, Username: "msb", Password: "wrong"}, wantErr: "SASL Authentication Failed"},
		{name: "mechanism the broker lacks", broker: sasl(SASLScramSHA256, "msb", "scram-256-pass"),
			sasl: &SASL{Mechanism: SASLScramSHA512, Username: "msb", Password: "scram-256-pass"}, wantErr: "SASL Authentication Failed"},
		{name: "no sasl to a sasl broker", broker: sasl(SASLScramSHA256, "msb", "scram-256-pass"), wantErr: "kafka: ping"},
		{name: "unknown mechanism", broker: sasl(SASLScramSHA256, "msb", "scram-256-pass"),
			sasl: &SASL{Mechanism: "GSSAPI", Username: "msb", Password: "x"}, wantErr: `unknown SASL mechanism "GSSAPI"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, tc.broker...)...)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			opts := testOptions(c)
			opts.Partitions = 1
			opts.Timeout = 2 * time.Second
			opts.TLS, opts.SASL = tc.tls, tc.sasl
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()

			if tc.wantErr != "" {
				octx, ocancel := context.WithTimeout(ctx, 5*time.Second)
				defer ocancel()
				l, err := Open(octx, opts)
				if err == nil {
					l.Close()
					t.Fatal("Open succeeded")
				}
				if !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("Open: %v, want an error mentioning %q", err, tc.wantErr)
				} else {
					t.Logf("Open: %v", err)
				}
				if tc.sasl != nil && strings.Contains(err.Error(), tc.sasl.Password) {
					t.Errorf("Open's error prints the password: %v", err)
				}
				return
			}

			l, err := Open(ctx, opts)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer l.Close()
			if err := l.Ping(ctx); err != nil {
				t.Errorf("Ping: %v", err)
			}
			if err := l.Publish(ctx, stream.TopicPosts, stream.Message{Key: []byte("k"), Value: []byte("secure")}); err != nil {
				t.Fatalf("Publish: %v", err)
			}
			got := make(chan string, 1)
			cctx, stop := context.WithCancel(ctx)
			defer stop()
			done := make(chan error, 1)
			go func() {
				done <- l.Consume(cctx, stream.TopicPosts, "g", func(_ context.Context, m stream.Message) error {
					got <- string(m.Value)
					return nil
				})
			}()
			select {
			case v := <-got:
				if v != "secure" {
					t.Errorf("consumed %q", v)
				}
			case err := <-done:
				t.Fatalf("Consume returned %v before a message came", err)
			case <-ctx.Done():
				t.Fatal("nothing consumed")
			}
			stop()
			if err := <-done; err != nil {
				t.Errorf("Consume: %v", err)
			}
		})
	}
}
