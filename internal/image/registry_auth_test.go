package image

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/filters"
	"github.com/berth-dev/berth/internal/registry/registrytest"
	"github.com/containerd/errdefs"
	registrytypes "github.com/moby/moby/api/types/registry"
)

// TestBasicAuthRegistry: docker-registry with htpasswd. Without
// credentials and with wrong ones, pulls, pushes and logins fail with
// Docker's words; with the right ones everything works.
func TestBasicAuthRegistry(t *testing.T) {
	for _, reg := range []string{"distribution", "berth"} {
		t.Run(reg, func(t *testing.T) {
			s, _, _ := newService(t)
			dist := newDistributor(t, s, DistributorConfig{})
			htpasswd := registrytest.Htpasswd(t, "ci", "s3cret")
			var addr string
			if reg == "berth" {
				addr = startBerthRegistry(t, htpasswd)
			} else {
				addr = registrytest.DockerRegistry(t, registrytest.Config{Htpasswd: htpasswd})
			}
			ctx := context.Background()
			registrytest.Push(t, addr+"/team/private:v1", registrytest.Image(t, "", registrytest.Layer(t, map[string]string{"p": "1"}, false)), basicAuth("ci", "s3cret"))
			good := &registrytypes.AuthConfig{Username: "ci", Password: "s3cret", ServerAddress: addr}
			wrong := &registrytypes.AuthConfig{Username: "ci", Password: "nope", ServerAddress: addr}

			if _, err := dist.Login(ctx, good); err != nil {
				t.Errorf("login: %v", err)
			}
			_, err := dist.Login(ctx, wrong)
			if want := "login attempt to http://" + addr + "/v2/ failed with status: 401 Unauthorized"; !errdefs.IsUnauthorized(err) || err.Error() != want {
				t.Errorf("login with a wrong password: %v, want %q", err, want)
			}

			ref := mustRef(t, addr+"/team/private:v1")
			err = dist.Pull(ctx, ref, PullOptions{}, nil)
			if want := `Head "http://` + addr + `/v2/team/private/manifests/v1": no basic auth credentials`; err == nil || err.Error() != want {
				t.Errorf("anonymous pull: %v\nwant %s", err, want)
			}
			err = dist.Pull(ctx, ref, PullOptions{Auth: wrong}, nil)
			// Not a 401 for the API client: the docker CLI would prompt.
			if err == nil || errdefs.IsUnauthorized(err) || !strings.HasPrefix(err.Error(), "unauthorized: ") {
				t.Errorf("pull with a wrong password: %v", err)
			}
			if err := dist.Pull(ctx, ref, PullOptions{Auth: good}, nil); err != nil {
				t.Fatalf("pull with credentials: %v", err)
			}
			// The auth field alone (as config.json stores it) works too.
			auth := &registrytypes.AuthConfig{Auth: "Y2k6czNjcmV0"} // ci:s3cret
			if err := s.Tag(ctx, ref.String(), addr+"/team/copy", "v1"); err != nil {
				t.Fatal(err)
			}
			var m messages
			if err := dist.Push(ctx, mustRef(t, addr+"/team/copy:v1"), PushOptions{Auth: auth}, &m); err != nil {
				t.Fatalf("push with credentials: %v\n%s", err, &m)
			}
			err = dist.Push(ctx, mustRef(t, addr+"/team/copy:v1"), PushOptions{}, nil)
			if err == nil || errdefs.IsUnauthorized(err) || !strings.Contains(err.Error(), "no basic auth credentials") {
				t.Errorf("anonymous push: %v", err)
			}
		})
	}
}

// TestSearchBerthRegistry searches berth's registry as `docker search
// localhost:5000/busybox` does, with limits and filters.
func TestSearchBerthRegistry(t *testing.T) {
	s, _, _ := newService(t)
	dist := newDistributor(t, s, DistributorConfig{})
	addr := startBerthRegistry(t, "")
	ctx := context.Background()
	img := registrytest.Image(t, "", registrytest.Layer(t, map[string]string{"s": "1"}, false))
	for _, repo := range []string{"team/busybox", "busybox", "other/busybox-extra", "team/alpine"} {
		registrytest.Push(t, addr+"/"+repo+":v1", img)
	}
	res, err := dist.Search(ctx, addr+"/busybox", 0, filters.Args{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range res {
		names = append(names, r.Name)
	}
	if !slices.Contains(names, "team/busybox") || !slices.Contains(names, "busybox") || slices.Contains(names, "team/alpine") {
		t.Errorf("search results %v", names)
	}
	res, err = dist.Search(ctx, addr+"/busybox", 2, filters.Args{}, nil)
	if err != nil || len(res) != 2 {
		t.Errorf("limit 2: %v %v", res, err)
	}
	f := filters.Args{}
	f.Add("is-official", "true")
	if res, err := dist.Search(ctx, addr+"/busybox", 0, f, nil); err != nil || len(res) != 0 {
		t.Errorf("is-official: %v %v", res, err)
	}
	_, err = dist.Search(ctx, addr+"/busybox", 101, filters.Args{}, nil)
	if !errdefs.IsInvalidArgument(err) || err.Error() != "limit 101 is outside the range of [1, 100]" {
		t.Errorf("limit 101: %v", err)
	}
	bad := filters.Args{}
	bad.Add("stars", "many")
	if _, err := dist.Search(ctx, addr+"/busybox", 0, bad, nil); !errdefs.IsInvalidArgument(err) {
		t.Errorf("stars=many: %v", err)
	}
	// A registry that is not there.
	if _, err := dist.Search(ctx, "127.0.0.1:1/busybox", 0, filters.Args{}, nil); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("search of a closed port: %v", err)
	}
}

// TestPullThroughMirror pulls a Docker Hub name ("busybox") through a
// registry mirror, as registry-mirrors configures.
func TestPullThroughMirror(t *testing.T) {
	needRoot(t)
	mirror := registrytest.DockerRegistry(t, registrytest.Config{})
	img := registrytest.Image(t, "", registrytest.Layer(t, map[string]string{"hub": "busybox"}, false))
	dgst := registrytest.Push(t, mirror+"/library/busybox:latest", img)
	s, err := New(context.Background(), Config{Root: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	dist := newDistributor(t, s, DistributorConfig{Mirrors: []string{"http://" + mirror}})
	t.Cleanup(func() { s.Close() })
	var m messages
	if err := dist.Pull(context.Background(), mustRef(t, "busybox:latest"), PullOptions{}, &m); err != nil {
		t.Fatalf("%v\n%s", err, &m)
	}
	im, err := s.Get(context.Background(), "busybox")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(im.RepoTags, []string{"busybox:latest"}) || !slices.Equal(im.RepoDigests, []string{"busybox@" + dgst}) ||
		!m.has("latest: Pulling from library/busybox") || !m.has("Status: Downloaded newer image for busybox:latest") {
		t.Errorf("tags %v digests %v\n%s", im.RepoTags, im.RepoDigests, &m)
	}
	// Bad mirror URLs are refused as Docker refuses them.
	if _, err := NewDistributor(s, DistributorConfig{Mirrors: []string{"ftp://x"}}); !errdefs.IsInvalidArgument(err) {
		t.Errorf("ftp mirror: %v", err)
	}
}
