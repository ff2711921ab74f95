package test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/registry/registrytest"
	"github.com/berth-dev/berth/test/internal/e2e"
	"github.com/moby/moby/client"
)

// TestLoginPullPushWithAuth: registries with htpasswd auth (berth's and
// distribution 2.8); docker login with --password-stdin stores the
// credentials in config.json, pull and push use them, wrong ones get
// Docker's message, logout removes them.
func TestLoginPullPushWithAuth(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	htpasswd := registrytest.Htpasswd(t, "ci", "s3cret")
	forEachRegistry(t, htpasswd, func(t *testing.T, addr, _ string) {
		addr = strings.Replace(addr, "127.0.0.1", "localhost", 1)
		e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
			cfgDir := t.TempDir()
			c = c.WithEnv("DOCKER_CONFIG=" + cfgDir)
			ref := addr + "/team/" + repoName(t) + ":v1"
			uniqueImage(t, c, ref)
			t.Cleanup(func() { c.Run(t, "rmi", ref) })

			// Refused credentials are not tried again, as in Docker.
			if out := c.Run(t, "push", ref).Assert(t, 1, "no basic auth credentials").Stdout; strings.Contains(out, "Retrying") {
				t.Errorf("push retried a refusal:\n%s", out)
			}
			c.RunWith(t, e2e.RunOpts{Stdin: strings.NewReader("wrong\n")}, "login", addr, "-u", "ci", "--password-stdin").
				Assert(t, 1, "login attempt to http://"+addr+"/v2/ failed with status: 401 Unauthorized")
			c.RunWith(t, e2e.RunOpts{Stdin: strings.NewReader("s3cret\n")}, "login", addr, "-u", "ci", "--password-stdin").
				Assert(t, 0, "Login Succeeded")
			cfg, _ := os.ReadFile(filepath.Join(cfgDir, "config.json"))
			if !bytes.Contains(cfg, []byte(`"`+addr+`"`)) || !bytes.Contains(cfg, []byte(`"auth": "Y2k6czNjcmV0"`)) {
				t.Errorf("config.json:\n%s", cfg)
			}
			c.Run(t, "push", ref).Assert(t, 0, "v1: digest: sha256:")
			c.Run(t, "rmi", ref).OK(t)
			c.Run(t, "pull", ref).Assert(t, 0, "Status: Downloaded newer image for "+ref)
			c.Run(t, "logout", addr).Assert(t, 0, "Removing login credentials for "+addr)
			c.Run(t, "pull", ref).Assert(t, 1, "no basic auth credentials")

			// Credentials that were right once and are wrong now.
			bad := `{"auths":{"` + addr + `":{"auth":"` + base64.StdEncoding.EncodeToString([]byte("ci:stale")) + `"}}}`
			os.WriteFile(filepath.Join(cfgDir, "config.json"), []byte(bad), 0o600)
			c.Run(t, "pull", ref).Assert(t, 1, "unauthorized: ")
		})
	})
}

// TestLoginBearerToken: a registry that sends clients to a token server
// (the flow of Docker Hub): login, pull and push with a token, wrong
// credentials refused in Docker's words, and X-Registry-Auth as the Go
// SDK sends it.
func TestLoginBearerToken(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	ts := registrytest.NewTokenServer(t, "ci", "s3cret")
	addr := registrytest.DockerRegistry(t, registrytest.Config{Extra: ts.Config()})
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		c = c.WithEnv("DOCKER_CONFIG=" + t.TempDir())
		ref := addr + "/team/" + repoName(t) + ":v1"
		uniqueImage(t, c, ref)
		t.Cleanup(func() { c.Run(t, "rmi", ref) })

		c.Run(t, "push", ref).Assert(t, 1, "denied: requested access to the resource is denied")
		c.Run(t, "pull", ref).Assert(t, 1, "Error response from daemon: pull access denied for "+strings.TrimSuffix(ref, ":v1")+", repository does not exist or may require 'docker login': denied: requested access to the resource is denied")
		c.RunWith(t, e2e.RunOpts{Stdin: strings.NewReader("wrong\n")}, "login", addr, "-u", "ci", "--password-stdin").
			Assert(t, 1, "Error response from daemon: Get \"http://"+addr+"/v2/\": unauthorized: incorrect username or password")
		c.RunWith(t, e2e.RunOpts{Stdin: strings.NewReader("s3cret\n")}, "login", addr, "-u", "ci", "--password-stdin").Assert(t, 0, "Login Succeeded")
		c.Run(t, "push", ref).Assert(t, 0, "v1: digest: sha256:")
		c.Run(t, "rmi", ref).OK(t)
		c.Run(t, "pull", ref).Assert(t, 0, "Status: Downloaded newer image for "+ref)
		c.Run(t, "tag", ref, addr+"/team/"+repoName(t)+"-copy:v1").OK(t)
		t.Cleanup(func() { c.Run(t, "rmi", addr+"/team/"+repoName(t)+"-copy:v1") })
		c.Run(t, "push", addr+"/team/"+repoName(t)+"-copy:v1").Assert(t, 0, "Mounted from team/"+repoName(t))
	})

	// The SDK's X-Registry-Auth: base64url JSON of the credentials.
	sdk := e.Client(t)
	ref := addr + "/team/" + repoName(t) + "-docker:v1"
	encode := func(user, pass string) string {
		b, _ := json.Marshal(map[string]string{"username": user, "password": pass, "serveraddress": addr})
		return base64.URLEncoding.EncodeToString(b)
	}
	pull := func(auth string) error {
		rc, err := sdk.ImagePull(context.Background(), ref, client.ImagePullOptions{RegistryAuth: auth})
		if err != nil {
			return err
		}
		defer rc.Close()
		for m, err := range rc.JSONMessages(context.Background()) {
			if err != nil {
				return err
			}
			if m.Error != nil {
				return m.Error
			}
		}
		return nil
	}
	if err := pull(encode("ci", "wrong")); err == nil || !strings.Contains(err.Error(), "incorrect username or password") {
		t.Errorf("pull with a wrong password in X-Registry-Auth: %v", err)
	}
	if err := pull(encode("ci", "s3cret")); err != nil {
		t.Errorf("pull with X-Registry-Auth: %v", err)
	}
}

// TestCredentialHelper: with credHelpers (or credsStore) in config.json
// the CLIs store and find credentials through docker-credential-<name>
// in PATH; config.json holds no secret.
func TestCredentialHelper(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	addr, _ := registryServe(t, "--htpasswd", registrytest.Htpasswd(t, "ci", "s3cret"))
	addr = strings.Replace(addr, "127.0.0.1", "localhost", 1)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		bin, store := registrytest.CredentialHelper(t, "berthtest")
		cfgDir := t.TempDir()
		os.WriteFile(filepath.Join(cfgDir, "config.json"), []byte(`{"credHelpers":{"`+addr+`":"berthtest"}}`), 0o600)
		c = c.WithEnv("DOCKER_CONFIG="+cfgDir, "PATH="+bin+":"+os.Getenv("PATH"))
		ref := addr + "/team/" + repoName(t) + ":v1"
		uniqueImage(t, c, ref)
		t.Cleanup(func() { c.Run(t, "rmi", ref) })

		// Credentials the helper already has.
		os.WriteFile(store, []byte(`{"ServerURL":"`+addr+`","Username":"ci","Secret":"s3cret"}`), 0o600)
		c.Run(t, "push", ref).Assert(t, 0, "v1: digest: sha256:")
		c.Run(t, "logout", addr).Assert(t, 0, "Removing login credentials for "+addr)
		if _, err := os.Stat(store); !os.IsNotExist(err) {
			t.Errorf("logout left the helper's entry: %v", err)
		}
		c.Run(t, "rmi", ref).OK(t)
		c.Run(t, "pull", ref).Assert(t, 1, "no basic auth credentials")

		c.RunWith(t, e2e.RunOpts{Stdin: strings.NewReader("s3cret\n")}, "login", addr, "-u", "ci", "--password-stdin").Assert(t, 0, "Login Succeeded")
		if stored, _ := os.ReadFile(store); !bytes.Contains(stored, []byte(`"Secret":"s3cret"`)) {
			t.Errorf("the helper got %s", stored)
		}
		if cfg, _ := os.ReadFile(filepath.Join(cfgDir, "config.json")); bytes.Contains(cfg, []byte("czNjcmV0")) {
			t.Errorf("config.json holds the secret:\n%s", cfg)
		}
		c.Run(t, "pull", ref).Assert(t, 0, "Status: Downloaded newer image for "+ref)
	})
}
