package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/server/httputils"
	"github.com/containerd/errdefs"
)

type fakeRouter []httputils.Route

func (f fakeRouter) Routes() []httputils.Route { return f }

func TestRoutingAndVersions(t *testing.T) {
	var got map[string]string
	h := func(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
		got = vars
		got["version"] = httputils.VersionFromContext(ctx)
		return nil
	}
	fail := func(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
		return errdefs.ErrNotFound.WithMessage("No such container: x")
	}
	s := New("28.2.2", fakeRouter{
		{Method: "GET", Path: "/images/{name:.*}/json", Handler: h},
		{Method: "POST", Path: "/containers/{name}/start", Handler: h},
		{Method: "GET", Path: "/containers/{name}/json", Handler: fail},
	})
	cases := []struct {
		method, path string
		status       int
		vars         map[string]string
	}{
		{"GET", "/v1.45/images/localhost:5000/team/busybox:v1/json", 200, map[string]string{"name": "localhost:5000/team/busybox:v1", "version": "1.45"}},
		{"POST", "/containers/abc/start", 200, map[string]string{"name": "abc", "version": httputils.APIVersion}},
		{"GET", "/containers/abc/start", 405, nil},
		{"GET", "/containers/x/json", 404, nil},
		{"GET", "/nope", 404, nil},
		{"GET", "/v1.2/containers/x/json", 400, nil},
	}
	for _, c := range cases {
		got = nil
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest(c.method, c.path, strings.NewReader("")))
		if rec.Code != c.status {
			t.Errorf("%s %s: status %d, want %d (%s)", c.method, c.path, rec.Code, c.status, rec.Body)
		}
		for k, v := range c.vars {
			if got[k] != v {
				t.Errorf("%s %s: var %s = %q, want %q", c.method, c.path, k, got[k], v)
			}
		}
		if rec.Header().Get("Api-Version") == "" {
			t.Errorf("%s: no Api-Version header", c.path)
		}
	}
}
