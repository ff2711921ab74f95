package cli

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/berth-dev/berth/internal/registry/registrytest"
	"github.com/moby/moby/api/types/registry"
)

// authDaemon answers what login, logout and pull ask of a daemon: /_ping,
// POST /auth (ci / s3cret is right) and POST /images/create, whose
// X-Registry-Auth header it keeps. The CLI is a pure API client; what the
// daemon does with these is tested with real registries in
// internal/image and test/.
type authDaemon struct {
	mu    sync.Mutex
	pulls []registry.AuthConfig
}

func startAuthDaemon(t *testing.T) (*authDaemon, string) {
	t.Helper()
	d := &authDaemon{}
	host := startFakeEngine(t, "1.51", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/auth"):
			var ac registry.AuthConfig
			json.NewDecoder(r.Body).Decode(&ac)
			w.Header().Set("Content-Type", "application/json")
			if ac.Username != "ci" || ac.Password != "s3cret" {
				w.WriteHeader(http.StatusUnauthorized)
				fmt.Fprintf(w, `{"message":"login attempt to http://%s/v2/ failed with status: 401 Unauthorized"}`, ac.ServerAddress)
				return
			}
			w.Write([]byte(`{"IdentityToken":"","Status":"Login Succeeded"}`))
		case strings.HasSuffix(r.URL.Path, "/images/create"):
			raw, _ := base64.URLEncoding.DecodeString(r.Header.Get("X-Registry-Auth"))
			var ac registry.AuthConfig
			json.Unmarshal(raw, &ac)
			d.mu.Lock()
			d.pulls = append(d.pulls, ac)
			d.mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"status":"Status: Image is up to date for localhost:5001/team/x:v1"}` + "\r\n"))
		default:
			http.NotFound(w, r)
		}
	}))
	return d, host
}

func (d *authDaemon) lastPull() registry.AuthConfig {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.pulls) == 0 {
		return registry.AuthConfig{}
	}
	return d.pulls[len(d.pulls)-1]
}

// TestLoginLogoutConfigFile: credentials go to config.json as docker
// writes them, are sent with pulls, and logout removes them.
func TestLoginLogoutConfigFile(t *testing.T) {
	d, host := startAuthDaemon(t)
	cfg := t.TempDir()
	t.Setenv("DOCKER_HOST", host)
	t.Setenv("DOCKER_CONFIG", cfg)

	_, stderr, code := runCLI(t, strings.NewReader("wrong\n"), "login", "localhost:5001", "-u", "ci", "--password-stdin")
	if code != 1 || stderr != "Error response from daemon: login attempt to http://localhost:5001/v2/ failed with status: 401 Unauthorized\n" {
		t.Errorf("wrong password: %d %q", code, stderr)
	}
	stdout, _, code := runCLI(t, strings.NewReader("s3cret\n"), "login", "localhost:5001", "-u", "ci", "--password-stdin")
	if code != 0 || stdout != "Login Succeeded\n" {
		t.Fatalf("login: %d %q", code, stdout)
	}
	data, _ := os.ReadFile(filepath.Join(cfg, "config.json"))
	if want := "{\n\t\"auths\": {\n\t\t\"localhost:5001\": {\n\t\t\t\"auth\": \"Y2k6czNjcmV0\"\n\t\t}\n\t}\n}"; string(data) != want {
		t.Errorf("config.json:\n%s\nwant\n%s", data, want)
	}
	if _, stderr, code := runCLI(t, nil, "pull", "localhost:5001/team/x:v1"); code != 0 {
		t.Fatalf("pull: %d %s", code, stderr)
	}
	if ac := d.lastPull(); ac.Username != "ci" || ac.Password != "s3cret" {
		t.Errorf("pull sent %+v", ac)
	}
	// Stored credentials are tried when none are given.
	stdout, stderr, code = runCLI(t, nil, "login", "localhost:5001")
	if code != 0 || stdout != "Login Succeeded\n" || !strings.Contains(stderr, "Authenticating with existing credentials... [Username: ci]") {
		t.Errorf("login with stored credentials: %d %q %q", code, stdout, stderr)
	}
	stdout, _, code = runCLI(t, nil, "logout", "http://localhost:5001/")
	if code != 0 || stdout != "Removing login credentials for localhost:5001\n" {
		t.Errorf("logout: %d %q", code, stdout)
	}
	data, _ = os.ReadFile(filepath.Join(cfg, "config.json"))
	if strings.Contains(string(data), "localhost:5001") {
		t.Errorf("config.json after logout:\n%s", data)
	}
	runCLI(t, nil, "pull", "localhost:5001/team/x:v1")
	if ac := d.lastPull(); ac.Username != "" {
		t.Errorf("pull after logout sent %+v", ac)
	}

	for _, tc := range []struct {
		args   []string
		stderr string
	}{
		{[]string{"login", "-p", "x", "--password-stdin", "-u", "ci"}, "conflicting options: cannot specify both --password and --password-stdin\n"},
		{[]string{"login", "--password-stdin"}, "the --password-stdin option requires --username to be set\n"},
		{[]string{"login", "localhost:5001"}, "error: cannot perform an interactive login from a non-TTY device\n"},
	} {
		_, stderr, code := runCLI(t, nil, tc.args...)
		if code != 1 || stderr != tc.stderr {
			t.Errorf("berth %s: %d %q, want %q", strings.Join(tc.args, " "), code, stderr, tc.stderr)
		}
	}
}

// TestLoginCredentialHelper: with "credsStore" set, login stores through
// docker-credential-<name> (found in PATH) and pulls get the credentials
// back from it; config.json holds no secret.
func TestLoginCredentialHelper(t *testing.T) {
	d, host := startAuthDaemon(t)
	cfg := t.TempDir()
	bin, store := registrytest.CredentialHelper(t, "berthtest")
	os.WriteFile(filepath.Join(cfg, "config.json"), []byte(`{"credsStore":"berthtest"}`), 0o600)
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	t.Setenv("DOCKER_HOST", host)
	t.Setenv("DOCKER_CONFIG", cfg)

	stdout, stderr, code := runCLI(t, strings.NewReader("s3cret"), "login", "localhost:5001", "-u", "ci", "--password-stdin")
	if code != 0 || stdout != "Login Succeeded\n" {
		t.Fatalf("login: %d %q %q", code, stdout, stderr)
	}
	data, _ := os.ReadFile(filepath.Join(cfg, "config.json"))
	if strings.Contains(string(data), "Y2k6czNjcmV0") || !strings.Contains(string(data), `"credsStore": "berthtest"`) {
		t.Errorf("config.json:\n%s", data)
	}
	stored, _ := os.ReadFile(store)
	if !strings.Contains(string(stored), `"Secret":"s3cret"`) {
		t.Errorf("helper got %s", stored)
	}
	if _, stderr, code := runCLI(t, nil, "pull", "localhost:5001/team/x:v1"); code != 0 {
		t.Fatalf("pull: %d %s", code, stderr)
	}
	if ac := d.lastPull(); ac.Username != "ci" || ac.Password != "s3cret" {
		t.Errorf("pull sent %+v", ac)
	}
	runCLI(t, nil, "logout", "localhost:5001")
	if _, err := os.Stat(store); !os.IsNotExist(err) {
		t.Errorf("logout left the helper's entry: %v", err)
	}
}
