package image

import (
	"context"
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

	"github.com/berth-dev/berth/internal/registry/registrytest"
	"github.com/containerd/errdefs"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	registrytypes "github.com/moby/moby/api/types/registry"
)

// tokenServer is a Docker-style token server (the bearer flow Docker Hub
// uses): it checks basic credentials and issues ES256 JWTs that
// docker-registry verifies through the x5c certificate it is given.
type tokenServer struct {
	key      *ecdsa.PrivateKey
	cert     []byte // DER
	user     string
	password string
	service  string
	issuer   string

	mu     sync.Mutex
	scopes []string // what was asked, for the test to check
}

func newTokenServer(t *testing.T, user, password string) (*tokenServer, string, string) {
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
	os.WriteFile(bundle, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	ts := &tokenServer{key: key, cert: der, user: user, password: password, service: "berth-test", issuer: "berth-test-issuer"}
	srv := httptest.NewServer(ts)
	t.Cleanup(srv.Close)
	// By name: go-containerregistry refuses token realms that are private
	// IP literals other than the registry's own host:port (an SSRF guard).
	return ts, strings.Replace(srv.URL, "127.0.0.1", "localhost", 1) + "/token", bundle
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func (ts *tokenServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
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
		"iss": ts.issuer, "sub": user, "aud": ts.service, "exp": now.Add(5 * time.Minute).Unix(),
		"nbf": now.Add(-time.Minute).Unix(), "iat": now.Unix(), "jti": fmt.Sprint(now.UnixNano()), "access": granted,
	})
	signing := b64(header) + "." + b64(claims)
	sum := sha256.Sum256([]byte(signing))
	rr, ss, err := ecdsa.Sign(rand.Reader, ts.key, sum[:])
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	sig := make([]byte, 64)
	rr.FillBytes(sig[:32])
	ss.FillBytes(sig[32:])
	token := signing + "." + b64(sig)
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"token": token, "access_token": token, "expires_in": 300, "issued_at": now.Format(time.RFC3339)})
}

// TestBearerTokenRegistry: docker-registry asking for bearer tokens from
// a token server, as Docker Hub does. Login, pull and push with
// credentials; wrong credentials refused in Docker's words; a push that
// mounts from another repository asks for pull on it.
func TestBearerTokenRegistry(t *testing.T) {
	s, _, _ := newService(t)
	dist := newDistributor(t, s, DistributorConfig{})
	ts, realm, bundle := newTokenServer(t, "ci", "s3cret")
	addr := registrytest.DockerRegistry(t, registrytest.Config{Extra: fmt.Sprintf("auth:\n  token:\n    realm: %s\n    service: %s\n    issuer: %s\n    rootcertbundle: %s\n",
		realm, ts.service, ts.issuer, bundle)})
	ctx := context.Background()
	creds := remote.WithAuth(&authn.Basic{Username: "ci", Password: "s3cret"})
	registrytest.Push(t, addr+"/team/token:v1", remoteImage(t, "", tarLayer(t, map[string]string{"t": "1"}, false)), creds)
	good := &registrytypes.AuthConfig{Username: "ci", Password: "s3cret", ServerAddress: addr}

	if _, err := dist.Login(ctx, good); err != nil {
		t.Errorf("login: %v", err)
	}
	_, err := dist.Login(ctx, &registrytypes.AuthConfig{Username: "ci", Password: "wrong", ServerAddress: addr})
	if want := `Get "http://` + addr + `/v2/": unauthorized: incorrect username or password`; !errdefs.IsUnauthorized(err) || err == nil || err.Error() != want {
		t.Errorf("login with a wrong password: %v\nwant %s", err, want)
	}

	ref := mustRef(t, addr+"/team/token:v1")
	if err := dist.Pull(ctx, ref, PullOptions{}, nil); err == nil || !strings.Contains(err.Error(), "unauthorized") {
		t.Errorf("anonymous pull: %v", err)
	}
	if err := dist.Pull(ctx, ref, PullOptions{Auth: good}, nil); err != nil {
		t.Fatalf("pull with a token: %v", err)
	}
	if err := s.Tag(ctx, ref.String(), addr+"/team/copy", "v1"); err != nil {
		t.Fatal(err)
	}
	var m messages
	if err := dist.Push(ctx, mustRef(t, addr+"/team/copy:v1"), PushOptions{Auth: good}, &m); err != nil {
		t.Fatalf("push with a token: %v\n%s", err, &m)
	}
	if !strings.Contains(m.String(), "Mounted from team/token") {
		t.Errorf("push:\n%s", &m)
	}
	ts.mu.Lock()
	scopes := strings.Join(ts.scopes, " ")
	ts.mu.Unlock()
	if !strings.Contains(scopes, "repository:team/copy:pull,push") || !strings.Contains(scopes, "repository:team/token:pull") {
		t.Errorf("scopes asked: %s", scopes)
	}
}
