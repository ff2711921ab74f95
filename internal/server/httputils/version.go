package httputils

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"
)

const (
	// APIVersion is the newest Engine API version berth speaks.
	APIVersion = "1.51"
	// MinAPIVersion is the oldest version still accepted on a versioned path.
	MinAPIVersion = "1.24"
)

type versionKey struct{}

// WithVersion records the API version of the request in ctx.
func WithVersion(ctx context.Context, v string) context.Context {
	return context.WithValue(ctx, versionKey{}, v)
}

// VersionFromContext is the API version the client asked for, or the
// current one for unversioned paths.
func VersionFromContext(ctx context.Context) string {
	if v, ok := ctx.Value(versionKey{}).(string); ok && v != "" {
		return v
	}
	return APIVersion
}

// VersionLessThan reports whether the request's API version is older than v.
// Version quirks belong in routers; they use this to decide.
func VersionLessThan(ctx context.Context, v string) bool {
	return CompareVersions(VersionFromContext(ctx), v) < 0
}

// CompareVersions compares dotted API versions numerically.
func CompareVersions(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) || i < len(bs); i++ {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

// SplitVersion takes "/v1.45/containers/json" apart into "1.45" and
// "/containers/json". Unversioned paths return an empty version.
func SplitVersion(path string) (version, rest string, err error) {
	if !strings.HasPrefix(path, "/v") {
		return "", path, nil
	}
	end := strings.IndexByte(path[1:], '/')
	if end < 0 {
		end = len(path) - 1
	}
	candidate := path[2 : end+1]
	if candidate == "" || strings.Trim(candidate, "0123456789.") != "" {
		return "", path, nil // e.g. "/volumes": not a version prefix
	}
	rest = path[end+1:]
	if rest == "" {
		rest = "/"
	}
	if CompareVersions(candidate, APIVersion) > 0 {
		return "", "", errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("client version %s is too new. Maximum supported API version is %s", candidate, APIVersion))
	}
	if CompareVersions(candidate, MinAPIVersion) < 0 {
		return "", "", errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("client version %s is too old. Minimum supported API version is %s, please upgrade your client to a newer version", candidate, MinAPIVersion))
	}
	return candidate, rest, nil
}
