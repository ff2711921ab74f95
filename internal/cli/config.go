package cli

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"

	"github.com/moby/moby/api/types/registry"
)

// configFile is the part of docker's client config.json that berth's
// commands honour.
type configFile struct {
	PsFormat     string                `json:"psFormat,omitempty"`
	ImagesFormat string                `json:"imagesFormat,omitempty"`
	PruneFilters []string              `json:"pruneFilters,omitempty"`
	AuthConfigs  map[string]authConfig `json:"auths,omitempty"`
	DetachKeys   string                `json:"detachKeys,omitempty"`
	CredsStore   string                `json:"credsStore,omitempty"`
	CredHelpers  map[string]string     `json:"credHelpers,omitempty"`
}

type authConfig struct {
	Auth          string `json:"auth,omitempty"`
	Username      string `json:"username,omitempty"`
	Password      string `json:"password,omitempty"`
	IdentityToken string `json:"identitytoken,omitempty"`
	RegistryToken string `json:"registrytoken,omitempty"`
}

// ConfigFile loads config.json from the config directory once; a missing
// or unreadable file is an empty configuration, as for docker.
func (c *CLI) ConfigFile() *configFile {
	if c.config != nil {
		return c.config
	}
	c.config = &configFile{}
	if b, err := os.ReadFile(filepath.Join(c.ConfigDir(), "config.json")); err == nil {
		_ = json.Unmarshal(b, c.config)
	}
	return c.config
}

// detachKeys is --detach-keys when given, else config.json's detachKeys.
func (c *CLI) detachKeys(flag string) string {
	if flag != "" {
		return flag
	}
	return c.ConfigFile().DetachKeys
}

// registryAuth is the X-Registry-Auth value for a registry host, from the
// "auths" section (credential helpers are not run).
func (c *CLI) registryAuth(host string) string {
	auths := c.ConfigFile().AuthConfigs
	keys := []string{host}
	if host == "docker.io" || host == "index.docker.io" || host == "registry-1.docker.io" {
		keys = append([]string{"https://index.docker.io/v1/"}, "index.docker.io", "docker.io")
	}
	for k, v := range auths {
		for _, want := range keys {
			if k != want && strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(k, "https://"), "http://"), "/") != want {
				continue
			}
			ac := registry.AuthConfig{
				Username:      v.Username,
				Password:      v.Password,
				IdentityToken: v.IdentityToken,
				RegistryToken: v.RegistryToken,
				ServerAddress: k,
			}
			if v.Auth != "" {
				if raw, err := base64.StdEncoding.DecodeString(v.Auth); err == nil {
					if u, p, ok := strings.Cut(string(raw), ":"); ok {
						ac.Username, ac.Password = u, p
					}
				}
			}
			b, err := json.Marshal(ac)
			if err != nil {
				return ""
			}
			return base64.URLEncoding.EncodeToString(b)
		}
	}
	return ""
}
