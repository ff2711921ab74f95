package registrytest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TokenServer is a Docker-style token server (the bearer flow Docker Hub
// uses): it checks basic credentials and issues ES256 JWTs that
// docker-registry verifies through the certificate it is given
// (TokenAuth). Anonymous requests get a token that grants nothing.
type TokenServer struct {
	// Realm is the token endpoint's URL.
	Realm string
	// Service and Issuer are what the tokens say and the registry checks.
	Service, Issuer string
	// Bundle is a PEM file with the certificate the tokens are signed
	// under, for the registry's rootcertbundle.
	Bundle string

	key            *ecdsa.PrivateKey
	cert           []byte // DER
	user, password string

	mu     sync.Mutex
	scopes []string
}

// NewTokenServer serves tokens for user and password until the test ends.
func NewTokenServer(t testing.TB, user, password string) *TokenServer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "berth test token issuer"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	bundle := filepath.Join(t.TempDir(), "token.pem")
	if err := os.WriteFile(bundle, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	ts := &TokenServer{key: key, cert: der, user: user, password: password, Service: "berth-test", Issuer: "berth-test-issuer", Bundle: bundle}
	srv := httptest.NewServer(ts)
	t.Cleanup(srv.Close)
	// By name: go-containerregistry refuses token realms that are private
	// IP literals other than the registry's own host:port (an SSRF guard).
	ts.Realm = strings.Replace(srv.URL, "127.0.0.1", "localhost", 1) + "/token"
	return ts
}

// Config is the auth section of a docker-registry configuration that
// takes this server's tokens (for Config.Extra).
func (ts *TokenServer) Config() string {
	return fmt.Sprintf("auth:\n  token:\n    realm: %s\n    service: %s\n    issuer: %s\n    rootcertbundle: %s\n",
		ts.Realm, ts.Service, ts.Issuer, ts.Bundle)
}

// Scopes are the scopes asked for so far, in order.
func (ts *TokenServer) Scopes() []string {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]string(nil), ts.scopes...)
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func (ts *TokenServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	user, pass, hasAuth := r.BasicAuth()
	if hasAuth && (user != ts.user || pass != ts.password) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"errors":[{"code":"UNAUTHORIZED","message":"incorrect username or password"}]}`)
		return
	}
	type access struct {
		Type    string   `json:"type"`
		Name    string   `json:"name"`
		Actions []string `json:"actions"`
	}
	granted := []access{}
	for _, scope := range r.URL.Query()["scope"] {
		ts.mu.Lock()
		ts.scopes = append(ts.scopes, scope)
		ts.mu.Unlock()
		parts := strings.Split(scope, ":")
		if len(parts) != 3 || parts[0] != "repository" || !hasAuth {
			continue // anonymous users get nothing
		}
		granted = append(granted, access{Type: "repository", Name: parts[1], Actions: strings.Split(parts[2], ",")})
	}
	now := time.Now()
	header, _ := json.Marshal(map[string]any{"alg": "ES256", "typ": "JWT", "x5c": []string{base64.StdEncoding.EncodeToString(ts.cert)}})
	claims, _ := json.Marshal(map[string]any{
		"iss": ts.Issuer, "sub": user, "aud": ts.Service, "exp": now.Add(5 * time.Minute).Unix(),
		"nbf": now.Add(-time.Minute).Unix(), "iat": now.Unix(), "jti": fmt.Sprint(now.UnixNano()), "access": granted,
	})
	signing := b64(header) + "." + b64(claims)
	sum := sha256.Sum256([]byte(signing))
	rr, ss, err := ecdsa.Sign(rand.Reader, ts.key, sum[:])
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	sig := make([]byte, 64)
	rr.FillBytes(sig[:32])
	ss.FillBytes(sig[32:])
	token := signing + "." + b64(sig)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"token": token, "access_token": token, "expires_in": 300, "issued_at": now.Format(time.RFC3339)})
}
