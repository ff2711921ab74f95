package distribution

import (
	"context"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestDecodeAuthConfig(t *testing.T) {
	body := `{"username":"ci","password":"s3cret","serveraddress":"localhost:5001"}`
	for _, enc := range []*base64.Encoding{base64.URLEncoding, base64.RawURLEncoding, base64.StdEncoding} {
		ac, err := DecodeAuthConfig(enc.EncodeToString([]byte(body)))
		if err != nil || ac.Username != "ci" || ac.Password != "s3cret" || ac.ServerAddress != "localhost:5001" {
			t.Errorf("%v: %+v %v", enc, ac, err)
		}
	}
	if ac, err := DecodeAuthConfig(""); err != nil || ac.Username != "" {
		t.Errorf("empty header: %+v %v", ac, err)
	}
	if _, err := DecodeAuthConfig("!!!"); !errdefs.IsInvalidArgument(err) {
		t.Errorf("garbage: %v", err)
	}
	if _, err := DecodeAuthConfig(base64.URLEncoding.EncodeToString([]byte("{"))); !errdefs.IsInvalidArgument(err) {
		t.Errorf("bad JSON: %v", err)
	}
}

// TestInsecure: loopback is insecure by default, as in Docker; names and
// CIDRs from insecure-registries add to it; names resolve for the CIDR
// check.
func TestInsecure(t *testing.T) {
	s, err := New(Config{InsecureRegistries: []string{"myreg:5000", "10.1.0.0/16", "http://other.example"}})
	if err != nil {
		t.Fatal(err)
	}
	s.lookupIP = func(_ context.Context, host string) ([]net.IP, error) {
		if host == "inside.example" {
			return []net.IP{net.ParseIP("10.1.2.3")}, nil
		}
		return nil, &net.DNSError{Err: "no such host", Name: host}
	}
	for host, want := range map[string]bool{
		"localhost:5000":       true,
		"127.0.0.1:5000":       true,
		"127.9.9.9":            true,
		"[::1]:5000":           true,
		"myreg:5000":           true,
		"myreg:5001":           false,
		"other.example":        true,
		"10.1.9.9:443":         true,
		"inside.example:5000":  true,
		"10.2.0.1:5000":        false,
		"registry.example.com": false,
	} {
		if got := s.Insecure(context.Background(), host); got != want {
			t.Errorf("Insecure(%s) = %v, want %v", host, got, want)
		}
	}
	cfg := s.ServiceConfig()
	if len(cfg.InsecureRegistryCIDRs) != 3 || !cfg.IndexConfigs["docker.io"].Official || cfg.IndexConfigs["myreg:5000"] == nil || cfg.IndexConfigs["myreg:5000"].Secure {
		t.Errorf("service config %+v", cfg)
	}
}

func TestEndpointsAndMirrors(t *testing.T) {
	s, err := New(Config{Mirrors: []string{"http://127.0.0.1:5999", "https://mirror.example/"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	hub, _ := reference.ParseNormalizedNamed("busybox")
	eps := s.Endpoints(ctx, hub, false)
	if len(eps) != 3 || eps[0].Host != "127.0.0.1:5999" || eps[0].Scheme != "http" || !eps[0].Mirror ||
		eps[1].Host != "mirror.example" || eps[2].Host != "registry-1.docker.io" || eps[2].Mirror {
		t.Errorf("pull endpoints %+v", eps)
	}
	if eps := s.Endpoints(ctx, hub, true); len(eps) != 1 || eps[0].Host != "registry-1.docker.io" {
		t.Errorf("push endpoints %+v", eps)
	}
	local, _ := reference.ParseNormalizedNamed("localhost:5000/team/busybox")
	if eps := s.Endpoints(ctx, local, false); len(eps) != 1 || eps[0].Host != "localhost:5000" || !eps[0].Insecure || eps[0].Scheme != "" {
		t.Errorf("local endpoints %+v", eps)
	}
	for _, bad := range []string{"ftp://x", "https://x/path", "https://u:p@x", "://"} {
		if _, err := New(Config{Mirrors: []string{bad}}); !errdefs.IsInvalidArgument(err) {
			t.Errorf("mirror %q: %v", bad, err)
		}
	}
}

func TestManifestType(t *testing.T) {
	for _, c := range []struct {
		ct, body, want string
	}{
		{MediaTypeDockerManifest + "; charset=utf-8", `{}`, MediaTypeDockerManifest},
		{"application/json", `{"schemaVersion":2,"manifests":[]}`, ocispec.MediaTypeImageIndex},
		{"", `{"schemaVersion":2,"config":{}}`, ocispec.MediaTypeImageManifest},
		{"text/plain", `{"schemaVersion":1,"fsLayers":[]}`, MediaTypeDockerSchema1JWS},
		{"", `{"mediaType":"` + MediaTypeDockerManifestList + `"}`, MediaTypeDockerManifestList},
	} {
		if got := manifestType(c.ct, []byte(c.body)); got != c.want {
			t.Errorf("manifestType(%q, %s) = %q, want %q", c.ct, c.body, got, c.want)
		}
	}
}

func TestSplitSearchTerm(t *testing.T) {
	for term, want := range map[string][2]string{
		"busybox":                      {"index.docker.io", "busybox"},
		"library/busybox":              {"index.docker.io", "library/busybox"},
		"localhost:5000/busybox":       {"localhost:5000", "busybox"},
		"localhost/team/busybox":       {"localhost", "team/busybox"},
		"registry.example.com/a/b":     {"registry.example.com", "a/b"},
		"team/busybox-with.dots/inner": {"index.docker.io", "team/busybox-with.dots/inner"},
	} {
		if i, r := splitSearchTerm(term); i != want[0] || r != want[1] {
			t.Errorf("splitSearchTerm(%s) = %s, %s", term, i, r)
		}
	}
}

// TestTemporary: what a pull or push tries again, as Docker's
// retryOnError: broken connections and server-side failures, never
// refusals.
func TestTemporary(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"connection lost", WithClass(errdefs.ErrUnavailable, errors.New("write tcp: use of closed network connection")), true},
		{"no data", errdefs.ErrUnavailable.WithMessage("no data from the registry for 1m0s"), true},
		{"server error", &transport.Error{StatusCode: http.StatusServiceUnavailable}, true},
		{"too many requests", &transport.Error{StatusCode: http.StatusTooManyRequests}, true},
		{"unauthorized", &transport.Error{StatusCode: http.StatusUnauthorized}, false},
		{"no credentials", errdefs.ErrUnknown.WithMessage(`Post "http://r/v2/x/blobs/uploads/": no basic auth credentials`), false},
		{"corrupt", errdefs.ErrDataLoss.WithMessage("filesystem layer verification failed"), false},
		{"cancelled", context.Canceled, false},
		{"unclassified", errors.New("something"), false},
	} {
		if got := Temporary(tc.err); got != tc.want {
			t.Errorf("%s: Temporary = %v, want %v", tc.name, got, tc.want)
		}
	}
}
