package httputils

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/berth-dev/berth/internal/filters"
)

func TestWriteFiltered(t *testing.T) {
	query := func(_ context.Context, f filters.Args) ([]string, error) { return f.Get("name"), nil }

	req := httptest.NewRequest(http.MethodGet, `/networks?filters={"name":{"web":true}}`, nil)
	w := httptest.NewRecorder()
	if err := WriteFiltered(context.Background(), w, req, query); err != nil {
		t.Fatal(err)
	}
	if w.Code != http.StatusOK || w.Body.String() != "[\"web\"]\n" || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("got %d %q %q", w.Code, w.Body.String(), w.Header().Get("Content-Type"))
	}

	// Malformed filters are the client's fault, and nothing is written.
	req = httptest.NewRequest(http.MethodGet, `/networks?filters={"name":`, nil)
	w = httptest.NewRecorder()
	if err := WriteFiltered(context.Background(), w, req, query); StatusFromError(err) != http.StatusBadRequest || w.Body.Len() != 0 {
		t.Fatalf("got %v, body %q", err, w.Body.String())
	}
}
