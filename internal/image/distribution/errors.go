package distribution

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// registryError is the first error code of a registry's error response,
// as the registry API defines them ("MANIFEST_UNKNOWN").
func registryError(err error) (code, text string, status int, ok bool) {
	var terr *transport.Error
	if !errors.As(err, &terr) {
		return "", "", 0, false
	}
	if len(terr.Errors) == 0 {
		return "", fmt.Sprintf("unexpected status code %d %s", terr.StatusCode, http.StatusText(terr.StatusCode)), terr.StatusCode, true
	}
	d := terr.Errors[0]
	code = string(d.Code)
	// Docker's errcode package words a code as its lower-case name with
	// spaces, then the registry's message: "manifest unknown: manifest
	// unknown".
	text = strings.ToLower(strings.ReplaceAll(code, "_", " "))
	if d.Message != "" {
		text += ": " + d.Message
	}
	return code, text, terr.StatusCode, true
}

// PullError words a failure to fetch ref's manifest as Docker does, with
// Docker's error class.
func PullError(err error, ref reference.Named) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	code, text, status, ok := registryError(err)
	if !ok {
		return err
	}
	switch code {
	case "DENIED":
		return errdefs.ErrNotFound.WithMessage(fmt.Sprintf("pull access denied for %s, repository does not exist or may require 'docker login': %s", reference.FamiliarName(ref), text))
	case "MANIFEST_UNKNOWN":
		return errdefs.ErrNotFound.WithMessage(fmt.Sprintf("manifest for %s not found: %s", reference.FamiliarString(ref), text))
	case "NAME_UNKNOWN":
		return errdefs.ErrNotFound.WithMessage(fmt.Sprintf("repository %s not found: %s", reference.FamiliarName(ref), text))
	}
	if status == http.StatusNotFound {
		return errdefs.ErrNotFound.WithMessage(fmt.Sprintf("manifest for %s not found: %s", reference.FamiliarString(ref), text))
	}
	return errdefs.ErrUnknown.WithMessage(text)
}

// Describe words any registry error as Docker's distribution client does
// (error code and message); other errors keep their text. A registry
// refusing credentials is not a 401 of the Engine API, as in Docker: the
// docker CLI answers those by prompting for a login.
func Describe(err error) error {
	if err == nil {
		return nil
	}
	code, text, status, ok := registryError(err)
	if !ok {
		return err
	}
	switch {
	case code == "DENIED" || status == http.StatusForbidden:
		return errdefs.ErrPermissionDenied.WithMessage(text)
	case status == http.StatusNotFound:
		return errdefs.ErrNotFound.WithMessage(text)
	case status == http.StatusTooManyRequests:
		return errdefs.ErrResourceExhausted.WithMessage(text)
	}
	return errdefs.ErrUnknown.WithMessage(text)
}

// authError words a failed authentication handshake (the token server
// refusing the credentials) as Docker does. Login makes the refusals 401s.
func authError(err error, scheme, host string) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	_, text, status, ok := registryError(err)
	if !ok {
		return WithClass(errdefs.ErrUnavailable, err)
	}
	return &refusedError{status: status, msg: fmt.Sprintf("Get %q: %s", scheme+"://"+host+"/v2/", text)}
}

// refusedError is a token server's answer to a handshake.
type refusedError struct {
	status int
	msg    string
}

func (e *refusedError) Error() string { return e.msg }
func (e *refusedError) Unknown()      {}

// refused reports whether err is a token server refusing credentials.
func refused(err error) bool {
	var r *refusedError
	return errors.As(err, &r) && (r.status == http.StatusUnauthorized || r.status == http.StatusForbidden)
}

// Temporary reports whether a failed request is worth retrying, as
// Docker's retryOnError decides: a connection that failed or broke
// (ErrUnavailable) or a registry's server-side failure; never an answer
// such as "unknown", "denied" or missing credentials.
func Temporary(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var terr *transport.Error
	if errors.As(err, &terr) {
		return terr.StatusCode >= 500 || terr.StatusCode == http.StatusTooManyRequests || terr.StatusCode == http.StatusRequestTimeout
	}
	return errdefs.IsUnavailable(err)
}

// WithClass gives err an errdefs class (errdefs.ErrUnavailable) without
// changing its text, which is often Docker's exact wording.
func WithClass(class, err error) error {
	if err == nil {
		return nil
	}
	return &classedError{err: err, class: class}
}

type classedError struct {
	err, class error
}

func (e *classedError) Error() string   { return e.err.Error() }
func (e *classedError) Unwrap() []error { return []error{e.err, e.class} }
