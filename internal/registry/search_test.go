package registry

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func pushSmall(t *testing.T, srv *Server, repos []string, opts ...remote.Option) {
	t.Helper()
	img := randomImage(t, 64, 1)
	for _, r := range repos {
		if err := remote.Write(ref(t, srv, r+":latest"), img, opts...); err != nil {
			t.Fatalf("push %s: %v", r, err)
		}
	}
}

type searchResponse struct {
	NumResults int    `json:"num_results"`
	Query      string `json:"query"`
	Results    []struct {
		Name        string `json:"name"`
		Description string `json:"description"`
		StarCount   int    `json:"star_count"`
		IsOfficial  bool   `json:"is_official"`
		IsAutomated bool   `json:"is_automated"`
	} `json:"results"`
}

// daemonSearch makes the requests the Docker daemon makes for
// `docker search --limit <n> <registry>/<q>`: a v1 ping, then the search
// with X-Docker-Token set (and basic auth when the user is logged in).
func daemonSearch(t *testing.T, srv *Server, q, n, user, password string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(srv.URL() + "/v1/_ping")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Docker-Registry-Standalone") != "true" {
		t.Fatalf("ping: %d, standalone %q", resp.StatusCode, resp.Header.Get("X-Docker-Registry-Standalone"))
	}
	u := srv.URL() + "/v1/search?q=" + url.QueryEscape(q)
	if n != "" {
		u += "&n=" + n
	}
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Docker-Token", "true")
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

func decodeSearch(t *testing.T, body []byte) (searchResponse, []string) {
	t.Helper()
	var res searchResponse
	if err := json.Unmarshal(body, &res); err != nil {
		t.Fatalf("search response %s: %v", body, err)
	}
	names := []string{}
	for _, r := range res.Results {
		names = append(names, r.Name)
	}
	return res, names
}

func TestSearch(t *testing.T) {
	srv := startRegistry(t, Config{})

	// Before anything is pushed the root has no repositories directory.
	status, body := daemonSearch(t, srv, "busybox", "", "", "")
	if status != http.StatusOK {
		t.Fatalf("search of an empty registry: %d %s", status, body)
	}
	if res, names := decodeSearch(t, body); res.NumResults != 0 || len(names) != 0 {
		t.Fatalf("empty registry: %s", body)
	}

	pushSmall(t, srv, []string{"alpine", "team/busybox", "busybox", "tools/busybox-extra", "a/busybox", "zz/mybusybox"})

	for _, tc := range []struct {
		q, n  string
		total int
		want  []string
	}{
		// Exact name first, then a matching last component, then
		// substring matches, each in catalog order.
		{"busybox", "", 5, []string{"busybox", "a/busybox", "team/busybox", "tools/busybox-extra", "zz/mybusybox"}},
		{"busybox", "2", 5, []string{"busybox", "a/busybox"}},
		{"BusyBox", "100", 5, []string{"busybox", "a/busybox", "team/busybox", "tools/busybox-extra", "zz/mybusybox"}},
		{"team/busybox", "5", 1, []string{"team/busybox"}},
		{"extra", "", 1, []string{"tools/busybox-extra"}},
		{"", "3", 6, []string{"a/busybox", "alpine", "busybox"}},
		{"nosuchthing", "", 0, []string{}},
	} {
		status, body := daemonSearch(t, srv, tc.q, tc.n, "", "")
		if status != http.StatusOK {
			t.Fatalf("q=%q n=%s: %d %s", tc.q, tc.n, status, body)
		}
		res, names := decodeSearch(t, body)
		if res.Query != tc.q || res.NumResults != tc.total || !slices.Equal(names, tc.want) {
			t.Errorf("q=%q n=%s: query %q, num_results %d, names %q; want %d, %q", tc.q, tc.n, res.Query, res.NumResults, names, tc.total, tc.want)
		}
	}

	// The exact wire shape of Docker Hub's v1 search.
	_, body = daemonSearch(t, srv, "team/busybox", "", "", "")
	var raw map[string]any
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"num_results": 1.0,
		"query":       "team/busybox",
		"results": []any{map[string]any{
			"name": "team/busybox", "description": "", "star_count": 0.0, "is_official": false, "is_automated": false,
		}},
	}
	if !reflect.DeepEqual(raw, want) {
		t.Fatalf("search body %s", body)
	}

	// Limits outside Docker's [1, 100] are refused.
	for _, n := range []string{"0", "101", "-1", "x"} {
		if status, body := daemonSearch(t, srv, "busybox", n, "", ""); status != http.StatusBadRequest {
			t.Errorf("n=%s: %d %s", n, status, body)
		}
	}
	wantStatus(t, http.MethodPost, srv.URL()+"/v1/search?q=a", http.StatusMethodNotAllowed)
}

func TestSearchWithAuth(t *testing.T) {
	srv := startRegistry(t, Config{Htpasswd: writeHtpasswd(t, "ci", "pw")})
	pushSmall(t, srv, []string{"team/busybox"}, remote.WithAuth(&authn.Basic{Username: "ci", Password: "pw"}))

	// The ping stays open (the daemon pings before it sends credentials);
	// the search needs them, as the catalog does.
	status, body := daemonSearch(t, srv, "busybox", "5", "", "")
	if status != http.StatusUnauthorized {
		t.Fatalf("search without credentials: %d %s", status, body)
	}
	if status, _ := daemonSearch(t, srv, "busybox", "5", "ci", "bad"); status != http.StatusUnauthorized {
		t.Fatalf("search with a wrong password: %d", status)
	}
	status, body = daemonSearch(t, srv, "busybox", "5", "ci", "pw")
	if status != http.StatusOK {
		t.Fatalf("search with credentials: %d %s", status, body)
	}
	if _, names := decodeSearch(t, body); !slices.Equal(names, []string{"team/busybox"}) {
		t.Fatalf("names = %q", names)
	}
}
