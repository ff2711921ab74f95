package httputils

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/containerd/errdefs"
)

// Every error class a service may return must map to a deliberate status.
func TestStatusFromErrorMapsEveryClass(t *testing.T) {
	cases := []struct {
		err  error
		want int
	}{
		{errdefs.ErrNotFound, http.StatusNotFound},
		{errdefs.ErrInvalidArgument, http.StatusBadRequest},
		{errdefs.ErrAlreadyExists, http.StatusConflict},
		{errdefs.ErrConflict, http.StatusConflict},
		{errdefs.ErrNotModified, http.StatusNotModified},
		{errdefs.ErrFailedPrecondition, http.StatusPreconditionFailed},
		{errdefs.ErrUnauthenticated, http.StatusUnauthorized},
		{errdefs.ErrPermissionDenied, http.StatusForbidden},
		{errdefs.ErrNotImplemented, http.StatusNotImplemented},
		{errdefs.ErrUnavailable, http.StatusServiceUnavailable},
		{errdefs.ErrResourceExhausted, http.StatusServiceUnavailable},
		{context.DeadlineExceeded, http.StatusGatewayTimeout},
		{context.Canceled, http.StatusBadRequest},
		{errdefs.ErrInternal, http.StatusInternalServerError},
		{errdefs.ErrUnknown, http.StatusInternalServerError},
		{errors.New("plain"), http.StatusInternalServerError},
	}
	for _, c := range cases {
		wrapped := fmt.Errorf("context: %w", c.err)
		if got := StatusFromError(wrapped); got != c.want {
			t.Errorf("StatusFromError(%v) = %d, want %d", c.err, got, c.want)
		}
	}
}

// Messages read as Docker's: the class a handler wrapped is not shown.
func TestMessageDropsTheClassName(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("client version 1.99 is too new: %w", errdefs.ErrInvalidArgument), "client version 1.99 is too new"},
		{fmt.Errorf("page not found: %w", errdefs.ErrNotFound), "page not found"},
		{errdefs.ErrNotFound.WithMessage("No such container: x"), "No such container: x"},
		// Only the class the error is: text that merely ends alike stays.
		{errors.New("lookup x: not found"), "lookup x: not found"},
		{fmt.Errorf("dial: %w", errors.New("connection refused")), "dial: connection refused"},
		{errdefs.ErrConflict, "conflict"},
	} {
		if got := Message(c.err); got != c.want {
			t.Errorf("Message(%q) = %q, want %q", c.err, got, c.want)
		}
	}
}
