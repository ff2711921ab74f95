package registry

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/distribution/v3/registry/auth"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/moby/moby/api/types/registry"
)

// Search limits, as Docker Hub's v1 search and the Docker daemon apply them.
const (
	DefaultSearchLimit = 25
	MaxSearchLimit     = 100
)

// searchHandler serves Docker Hub's v1 search over the registry's catalog:
//
//	GET /v1/search?q=<term>&n=<limit>
//	→ {"num_results":N,"query":"<term>","results":[{"name":"team/busybox","description":"",
//	   "star_count":0,"is_official":false,"is_automated":false}]}
//
// This is what a Docker daemon asks for `docker search --limit 5
// localhost:5000/busybox` (the CLI sends GET
// /images/search?term=localhost:5000/busybox&limit=5 to the daemon):
//
//  1. It splits the term at the first "/" when the first part has a "." or
//     ":" or is "localhost": registry "localhost:5000", q "busybox".
//  2. GET https://localhost:5000/v1/_ping, and for an insecure registry
//     (loopback ones are) after a TLS failure GET http://…/v1/_ping. Any
//     HTTP answer will do; this server's says
//     "X-Docker-Registry-Standalone: true".
//  3. GET <scheme>://localhost:5000/v1/search?q=busybox&n=5 (q
//     url.QueryEscape'd, n the limit, 25 when the client gave none, 1 to
//     100), with "X-Docker-Token: true" and, when the client sent
//     credentials in X-Registry-Auth, "Authorization: Basic …".
//  4. Anything but 200 becomes the daemon's error "Unexpected status code
//     <N>"; the daemon filters the results (is-official, stars) and answers
//     the CLI with the results array alone.
//
// A repository matches when q is a case-insensitive substring of its name;
// an empty q matches all. num_results counts every match, results holds the
// first n: exact name matches, then names whose last component equals q,
// then the others, each group in catalog (lexical) order. A limit outside
// 1..100 is a 400.
type searchHandler struct {
	catalog distribution.RepositoryEnumerator
	access  auth.AccessController // nil without auth
}

func (h *searchHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeSearchError(w, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	if h.access != nil {
		// The catalog is what search reveals, so it takes the same grant
		// as /v2/_catalog.
		_, err := h.access.Authorized(r, auth.Access{Resource: auth.Resource{Type: "registry", Name: "catalog"}, Action: "*"})
		if err != nil {
			var ch auth.Challenge
			if errors.As(err, &ch) {
				ch.SetHeaders(r, w)
				writeSearchError(w, http.StatusUnauthorized, "authentication required")
				return
			}
			writeSearchError(w, http.StatusInternalServerError, err.Error())
			return
		}
	}
	q := r.URL.Query()
	limit := DefaultSearchLimit
	if v := q.Get("n"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxSearchLimit {
			writeSearchError(w, http.StatusBadRequest, "n must be an integer between 1 and 100")
			return
		}
		limit = n
	}
	term := q.Get("q")
	matches, err := search(r.Context(), h.catalog, term)
	if err != nil {
		writeSearchError(w, http.StatusInternalServerError, err.Error())
		return
	}
	res := registry.SearchResults{Query: term, NumResults: len(matches), Results: []registry.SearchResult{}}
	for _, name := range matches[:min(limit, len(matches))] {
		res.Results = append(res.Results, registry.SearchResult{Name: name})
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(res)
}

// search returns the catalog's repositories matching term, best first.
func search(ctx context.Context, catalog distribution.RepositoryEnumerator, term string) ([]string, error) {
	needle := strings.ToLower(term)
	var exact, base, other []string
	err := catalog.Enumerate(ctx, func(name string) error {
		lower := strings.ToLower(name)
		switch {
		case !strings.Contains(lower, needle):
		case lower == needle:
			exact = append(exact, name)
		case lower[strings.LastIndexByte(lower, '/')+1:] == needle:
			base = append(base, name)
		default:
			other = append(other, name)
		}
		return nil
	})
	// An empty root has no repositories directory yet.
	if err != nil && !isPathNotFound(err) {
		return nil, err
	}
	return slices.Concat(exact, base, other), nil
}

func isPathNotFound(err error) bool {
	var nf storagedriver.PathNotFoundError
	return errors.As(err, &nf)
}

// writeSearchError answers in the JSON error shape Docker Hub used for v1
// ({"error": "..."}); the Docker daemon reports only the status code.
func writeSearchError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]string{"error": msg})
	_, _ = io.WriteString(w, string(b)+"\n")
}
