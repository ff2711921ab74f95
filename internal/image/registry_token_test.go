package image

import (
	"context"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/registry/registrytest"
	"github.com/containerd/errdefs"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	registrytypes "github.com/moby/moby/api/types/registry"
)

// TestBearerTokenRegistry: docker-registry asking for bearer tokens from
// a token server, as Docker Hub does. Login, pull and push with
// credentials; wrong credentials refused in Docker's words; a push that
// mounts from another repository asks for pull on it.
func TestBearerTokenRegistry(t *testing.T) {
	s, _, _ := newService(t)
	dist := newDistributor(t, s, DistributorConfig{})
	ts := registrytest.NewTokenServer(t, "ci", "s3cret")
	addr := registrytest.DockerRegistry(t, registrytest.Config{Extra: ts.Config()})
	ctx := context.Background()
	creds := remote.WithAuth(&authn.Basic{Username: "ci", Password: "s3cret"})
	registrytest.Push(t, addr+"/team/token:v1", registrytest.Image(t, "", registrytest.Layer(t, map[string]string{"t": "1"}, false)), creds)
	good := &registrytypes.AuthConfig{Username: "ci", Password: "s3cret", ServerAddress: addr}

	if _, err := dist.Login(ctx, good); err != nil {
		t.Errorf("login: %v", err)
	}
	_, err := dist.Login(ctx, &registrytypes.AuthConfig{Username: "ci", Password: "wrong", ServerAddress: addr})
	if want := `Get "http://` + addr + `/v2/": unauthorized: incorrect username or password`; !errdefs.IsUnauthorized(err) || err == nil || err.Error() != want {
		t.Errorf("login with a wrong password: %v\nwant %s", err, want)
	}

	ref := mustRef(t, addr+"/team/token:v1")
	// Docker's words for a token that grants nothing (error="insufficient_scope").
	if err := dist.Pull(ctx, ref, PullOptions{}, nil); err == nil || !errdefs.IsNotFound(err) ||
		err.Error() != "pull access denied for "+addr+"/team/token, repository does not exist or may require 'docker login': denied: requested access to the resource is denied" {
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
	scopes := strings.Join(ts.Scopes(), " ")
	if !strings.Contains(scopes, "repository:team/copy:pull,push") || !strings.Contains(scopes, "repository:team/token:pull") {
		t.Errorf("scopes asked: %s", scopes)
	}
}
