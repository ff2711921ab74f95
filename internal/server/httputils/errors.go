package httputils

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/containerd/errdefs"
)

// StatusFromError is the single place where error classes become HTTP
// status codes. Handlers wrap their errors with an errdefs class
// (fmt.Errorf("...: %w", errdefs.ErrNotFound)) and never pick a status.
func StatusFromError(err error) int {
	switch {
	case err == nil:
		return http.StatusOK
	case errdefs.IsNotFound(err):
		return http.StatusNotFound
	case errdefs.IsInvalidArgument(err):
		return http.StatusBadRequest
	case errdefs.IsAlreadyExists(err), errdefs.IsConflict(err):
		return http.StatusConflict
	case errdefs.IsNotModified(err):
		return http.StatusNotModified
	case errdefs.IsFailedPrecondition(err):
		return http.StatusPreconditionFailed
	case errdefs.IsUnauthorized(err):
		return http.StatusUnauthorized
	case errdefs.IsPermissionDenied(err):
		return http.StatusForbidden
	case errdefs.IsNotImplemented(err):
		return http.StatusNotImplemented
	case errdefs.IsUnavailable(err), errdefs.IsResourceExhausted(err):
		return http.StatusServiceUnavailable
	case errdefs.IsCanceled(err), errors.Is(err, context.Canceled):
		// The client went away; the status is never read, but 499-style
		// logging should not call it a server error.
		return http.StatusBadRequest
	case errdefs.IsDeadlineExceeded(err), errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout
	default:
		return http.StatusInternalServerError
	}
}

// errorBody is the Engine API error shape (swagger ErrorResponse).
type errorBody struct {
	Message string `json:"message"`
}

// WriteError writes err as the Engine API error response.
func WriteError(w http.ResponseWriter, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(StatusFromError(err))
	_ = json.NewEncoder(w).Encode(errorBody{Message: Message(err)})
}

// classes are the error classes whose names wrapping appends to a message
// ("...: not found"); the class is for the status, not for the user.
var classes = []error{
	errdefs.ErrNotFound, errdefs.ErrInvalidArgument, errdefs.ErrAlreadyExists,
	errdefs.ErrConflict, errdefs.ErrNotModified, errdefs.ErrFailedPrecondition,
	errdefs.ErrUnauthenticated, errdefs.ErrPermissionDenied, errdefs.ErrNotImplemented,
	errdefs.ErrUnavailable, errdefs.ErrResourceExhausted, errdefs.ErrInternal,
	errdefs.ErrDataLoss, errdefs.ErrUnknown,
}

// Message is the text a client sees for err: its message without the
// trailing class name that fmt.Errorf("...: %w", errdefs.ErrX) leaves, so
// that messages read as Docker's ("No such container: x", not "...: not
// found").
func Message(err error) string {
	msg := err.Error()
	for _, c := range classes {
		if suffix := ": " + c.Error(); strings.HasSuffix(msg, suffix) && errors.Is(err, c) {
			return strings.TrimSuffix(msg, suffix)
		}
	}
	return msg
}
