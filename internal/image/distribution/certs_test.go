package distribution

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/registry/registrytest"
)

// TestCertsDir: a registry whose certificate no system CA signed, and
// that asks for a client certificate, is reached once its certs.d
// directory holds its CA (ca.crt) and a client pair (client.cert,
// client.key), without a restart; a half pair is refused with Docker's
// message.
func TestCertsDir(t *testing.T) {
	clientPEM, clientKeyPEM, clientCert := registrytest.NewCert(t, x509.ExtKeyUsageClientAuth)
	clients := x509.NewCertPool()
	clients.AddCert(clientCert)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("WWW-Authenticate", "Basic realm=test")
		w.WriteHeader(http.StatusUnauthorized)
	}))
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: clients}
	srv.StartTLS()
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "https://")
	serverPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})

	certs := t.TempDir()
	s, err := New(Config{CertsDir: certs})
	if err != nil {
		t.Fatal(err)
	}
	ping := func() error {
		_, err := s.ping(context.Background(), Endpoint{Host: host}, "https")
		return err
	}
	if err := ping(); err == nil || !strings.Contains(err.Error(), "certificate signed by unknown authority") {
		t.Fatalf("no certs.d: %v", err)
	}
	dir := filepath.Join(certs, host)
	write := func(name string, data []byte) {
		t.Helper()
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("ca.crt", serverPEM)
	if err := ping(); err == nil || strings.Contains(err.Error(), "unknown authority") {
		t.Fatalf("CA only, the server wants a client certificate: %v", err)
	}
	write("client.key", clientKeyPEM)
	if err := ping(); err == nil || !strings.Contains(err.Error(), "missing client certificate client.cert for key client.key") {
		t.Fatalf("key without certificate: %v", err)
	}
	write("client.cert", clientPEM)
	if err := ping(); err != nil {
		t.Fatalf("CA and client pair: %v", err)
	}
}
