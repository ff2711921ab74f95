package registrytest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// SelfSigned writes a self-signed server certificate for localhost,
// 127.0.0.1 and ips, and its key, and returns their paths and a pool that
// trusts the certificate.
func SelfSigned(t testing.TB, ips ...string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	certPEM, keyPEM, cert := NewCert(t, x509.ExtKeyUsageServerAuth, ips...)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// NewCert makes a self-signed certificate, its own CA, for usage (server
// or client authentication) and for localhost, 127.0.0.1 and ips; it
// returns the certificate and its key PEM encoded, and the certificate.
func NewCert(t testing.TB, usage x509.ExtKeyUsage, ips ...string) (certPEM, keyPEM []byte, cert *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "berth test registry"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{usage},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
	}
	for _, ip := range ips {
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.ParseIP(ip))
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err = x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), cert
}

// CredentialHelper writes docker-credential-<name>, a credential helper
// (the docker-credential-helpers protocol) that keeps one entry in a
// file, into a new directory for PATH, and returns the directory and
// the file (absent until something is stored).
func CredentialHelper(t testing.TB, name string) (binDir, store string) {
	t.Helper()
	binDir, store = t.TempDir(), filepath.Join(t.TempDir(), "store.json")
	helper := `#!/bin/sh
case "$1" in
store) cat >"` + store + `" ;;
get) read server; if [ -s "` + store + `" ]; then cat "` + store + `"; else echo "credentials not found in native keychain"; exit 1; fi ;;
erase) read server; rm -f "` + store + `" ;;
list) echo '{}' ;;
esac
`
	if err := os.WriteFile(filepath.Join(binDir, "docker-credential-"+name), []byte(helper), 0o755); err != nil {
		t.Fatal(err)
	}
	return binDir, store
}
