package distribution

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/moby/moby/api/types/registry"
)

// DecodeAuthConfig reads an X-Registry-Auth header: base64url (padded or
// not; standard base64 is accepted too, as older clients send it) JSON of
// registry.AuthConfig. An empty header is anonymous access.
func DecodeAuthConfig(header string) (*registry.AuthConfig, error) {
	if header == "" {
		return &registry.AuthConfig{}, nil
	}
	var raw []byte
	var err error
	for _, enc := range []*base64.Encoding{base64.URLEncoding, base64.RawURLEncoding, base64.StdEncoding, base64.RawStdEncoding} {
		if raw, err = enc.DecodeString(header); err == nil {
			break
		}
	}
	if err != nil {
		return &registry.AuthConfig{}, fmt.Errorf("invalid X-Registry-Auth header: %s: %w", err.Error(), errdefs.ErrInvalidArgument)
	}
	return decodeAuthJSON(strings.NewReader(string(raw)), "invalid X-Registry-Auth header")
}

// DecodeAuthConfigBody reads the credentials old clients sent as the body
// of a push request.
func DecodeAuthConfigBody(r io.Reader) (*registry.AuthConfig, error) {
	return decodeAuthJSON(r, "invalid X-Registry-Auth header")
}

func decodeAuthJSON(r io.Reader, what string) (*registry.AuthConfig, error) {
	ac := &registry.AuthConfig{}
	if err := json.NewDecoder(r).Decode(ac); err != nil {
		return &registry.AuthConfig{}, fmt.Errorf("%s: %s: %w", what, err.Error(), errdefs.ErrInvalidArgument)
	}
	return ac, nil
}

// authenticator turns client credentials into what go-containerregistry's
// transports use; no credentials is anonymous access.
func authenticator(ac *registry.AuthConfig) authn.Authenticator {
	if ac == nil || (ac.Username == "" && ac.Password == "" && ac.Auth == "" && ac.IdentityToken == "" && ac.RegistryToken == "") {
		return authn.Anonymous
	}
	cfg := authn.AuthConfig{
		Username:      ac.Username,
		Password:      ac.Password,
		Auth:          ac.Auth,
		IdentityToken: ac.IdentityToken,
		RegistryToken: ac.RegistryToken,
	}
	// "auth" is base64 "user:password"; the bearer flow needs the parts.
	if cfg.Username == "" && cfg.Auth != "" {
		if b, err := base64.StdEncoding.DecodeString(cfg.Auth); err == nil {
			if u, p, ok := strings.Cut(string(b), ":"); ok {
				cfg.Username, cfg.Password = u, p
			}
		}
	}
	return authn.FromConfig(cfg)
}

func hasCredentials(ac *registry.AuthConfig) bool {
	return authenticator(ac) != authn.Anonymous
}
