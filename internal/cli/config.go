package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
)

// configFile is the part of docker's client config.json that berth's
// commands honour.
type configFile struct {
	PsFormat      string                `json:"psFormat,omitempty"`
	ImagesFormat  string                `json:"imagesFormat,omitempty"`
	VolumesFormat string                `json:"volumesFormat,omitempty"`
	StatsFormat   string                `json:"statsFormat,omitempty"`
	PruneFilters  []string              `json:"pruneFilters,omitempty"`
	AuthConfigs   map[string]authConfig `json:"auths,omitempty"`
	DetachKeys    string                `json:"detachKeys,omitempty"`
	CredsStore    string                `json:"credsStore,omitempty"`
	CredHelpers   map[string]string     `json:"credHelpers,omitempty"`
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
