package server

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/berth-dev/berth/internal/server/httputils"
	"github.com/containerd/errdefs"
)

// route is a compiled httputils.Route.
type route struct {
	httputils.Route
	re    *regexp.Regexp
	names []string
}

var placeholder = regexp.MustCompile(`\{([a-zA-Z_]+)(:[^}]*)?\}`)

// compile turns "/images/{name:.*}/json" into an anchored regexp.
func compile(r httputils.Route) route {
	var names []string
	var b strings.Builder
	b.WriteString("^")
	last := 0
	for _, m := range placeholder.FindAllStringSubmatchIndex(r.Path, -1) {
		b.WriteString(regexp.QuoteMeta(r.Path[last:m[0]]))
		names = append(names, r.Path[m[2]:m[3]])
		if m[4] >= 0 {
			b.WriteString("(" + r.Path[m[4]+1:m[5]] + ")")
		} else {
			b.WriteString("([^/]+)")
		}
		last = m[1]
	}
	b.WriteString(regexp.QuoteMeta(r.Path[last:]))
	b.WriteString("$")
	return route{Route: r, re: regexp.MustCompile(b.String()), names: names}
}

// mux matches requests against the route table in registration order.
type mux struct {
	routes []route
}

func (m *mux) add(r httputils.Route) {
	m.routes = append(m.routes, compile(r))
}

// match finds the handler for method and path. A path that exists for
// another method gives 405 rather than 404, as gorilla/mux does in Docker.
func (m *mux) match(method, path string) (*route, map[string]string, error) {
	pathKnown := false
	for i := range m.routes {
		rt := &m.routes[i]
		sub := rt.re.FindStringSubmatch(path)
		if sub == nil {
			continue
		}
		if rt.Method != method && !(method == http.MethodHead && rt.Method == http.MethodGet) {
			pathKnown = true
			continue
		}
		vars := make(map[string]string, len(rt.names))
		for j, n := range rt.names {
			vars[n] = sub[j+1]
		}
		return rt, vars, nil
	}
	if pathKnown {
		return nil, nil, errMethodNotAllowed
	}
	return nil, nil, errdefs.ErrNotFound.WithMessage("page not found")
}

var errMethodNotAllowed = fmt.Errorf("method not allowed")
