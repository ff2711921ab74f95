// Package config holds the daemon's configuration: defaults, daemon.json
// (with Docker's keys where they apply), command-line flags, validation.
package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/berth-dev/berth/internal/logs"
)

// Runtime is an OCI runtime the daemon can use ("runtimes" in daemon.json).
type Runtime struct {
	Path string   `json:"path"`
	Args []string `json:"runtimeArgs,omitempty"`
}

// AddressPool is one of default-address-pools: subnets of Size bits
// carved out of Base.
type AddressPool struct {
	Base string `json:"base"`
	Size int    `json:"size"`
}

// ParseAddressPool reads a --default-address-pool value,
// "base=10.10.0.0/16,size=24".
func ParseAddressPool(v string) (AddressPool, error) {
	var p AddressPool
	for _, kv := range strings.Split(v, ",") {
		k, val, _ := strings.Cut(strings.TrimSpace(kv), "=")
		switch strings.ToLower(k) {
		case "base":
			p.Base = val
		case "size":
			n, err := strconv.Atoi(val)
			if err != nil {
				return p, fmt.Errorf("invalid default address pool %q: size %q is not a number", v, val)
			}
			p.Size = n
		default:
			return p, fmt.Errorf("invalid default address pool %q: unexpected field %q", v, k)
		}
	}
	return p, p.validate()
}

func (p AddressPool) validate() error {
	base, err := netip.ParsePrefix(p.Base)
	if err != nil || !base.Addr().Is4() {
		return fmt.Errorf("invalid default address pool: base %q is not an IPv4 subnet", p.Base)
	}
	if p.Size < base.Bits() || p.Size > 30 {
		return fmt.Errorf("invalid default address pool: size %d must be between the base's prefix length (%d) and 30", p.Size, base.Bits())
	}
	return nil
}

// LogConfig is the default log driver for new containers.
type LogConfig struct {
	Type   string            `json:"log-driver,omitempty"`
	Config map[string]string `json:"log-opts,omitempty"`
}

// Config is the daemon's configuration. JSON tags are daemon.json keys.
type Config struct {
	DataRoot       string             `json:"data-root,omitempty"`
	ExecRoot       string             `json:"exec-root,omitempty"`
	Hosts          []string           `json:"hosts,omitempty"`
	Pidfile        string             `json:"pidfile,omitempty"`
	LogLevel       string             `json:"log-level,omitempty"`
	DefaultRuntime string             `json:"default-runtime,omitempty"`
	Runtimes       map[string]Runtime `json:"runtimes,omitempty"`
	LogConfig
	// Bridge networking. BridgeName "none" means no default bridge, as
	// dockerd's --bridge none.
	BridgeName string `json:"bridge,omitempty"`
	BridgeIP   string `json:"bip,omitempty"`
	FixedCIDR  string `json:"fixed-cidr,omitempty"`
	IPForward  *bool  `json:"ip-forward,omitempty"`
	ICC        *bool  `json:"icc,omitempty"`
	IPTables   *bool  `json:"iptables,omitempty"`
	IPMasq     *bool  `json:"ip-masq,omitempty"`
	// DefaultAddressPools are where networks created without a subnet
	// get theirs.
	DefaultAddressPools []AddressPool `json:"default-address-pools,omitempty"`
	DNS                 []string      `json:"dns,omitempty"`
	DNSSearch           []string      `json:"dns-search,omitempty"`
	DNSOptions          []string      `json:"dns-opts,omitempty"`
	// Images and registries.
	MaxConcurrentDownloads int      `json:"max-concurrent-downloads,omitempty"`
	MaxConcurrentUploads   int      `json:"max-concurrent-uploads,omitempty"`
	InsecureRegistries     []string `json:"insecure-registries,omitempty"`
	Mirrors                []string `json:"registry-mirrors,omitempty"`
	// LiveRestore is always on in berth (shims outlive the daemon); the key
	// is accepted so daemon.json files written for Docker load unchanged.
	// Init runs every container with an init as pid 1 unless it says
	// otherwise; InitPath is that init ("" = docker-init from PATH).
	Init        bool   `json:"init,omitempty"`
	InitPath    string `json:"init-path,omitempty"`
	LiveRestore bool   `json:"live-restore,omitempty"`
	ConfigFile  string `json:"-"`
}

// Defaults are used for anything neither daemon.json nor a flag sets.
func Defaults() Config {
	return Config{
		DataRoot:               "/var/lib/berth",
		ExecRoot:               "/run/berth",
		LogLevel:               "info",
		DefaultRuntime:         "runc",
		Runtimes:               map[string]Runtime{"runc": {Path: "runc"}, "crun": {Path: "crun"}},
		LogConfig:              LogConfig{Type: "json-file"},
		BridgeName:             "berth0",
		MaxConcurrentDownloads: 3,
		MaxConcurrentUploads:   5,
		ConfigFile:             "/etc/berth/daemon.json",
	}
}

// DefaultSocket is the unix socket for a given exec root.
func (c *Config) DefaultSocket() string {
	return "unix://" + filepath.Join(c.ExecRoot, "berth.sock")
}

// Load reads daemon.json over cfg. A missing file is fine unless required;
// unknown keys are an error, as in Docker, so typos do not pass silently.
func Load(cfg *Config, path string, required bool) error {
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) && !required {
		return nil
	}
	if err != nil {
		return fmt.Errorf("unable to configure the daemon: %w", err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	var file Config
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&file); err != nil {
		return fmt.Errorf("unable to configure the daemon with file %s: %w", path, err)
	}
	merge(cfg, &file)
	return nil
}

// merge copies the fields set in file over cfg.
func merge(cfg, file *Config) {
	setString := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	setString(&cfg.DataRoot, file.DataRoot)
	setString(&cfg.ExecRoot, file.ExecRoot)
	setString(&cfg.Pidfile, file.Pidfile)
	setString(&cfg.LogLevel, file.LogLevel)
	setString(&cfg.DefaultRuntime, file.DefaultRuntime)
	setString(&cfg.LogConfig.Type, file.LogConfig.Type)
	setString(&cfg.BridgeName, file.BridgeName)
	setString(&cfg.BridgeIP, file.BridgeIP)
	setString(&cfg.FixedCIDR, file.FixedCIDR)
	for _, b := range []struct {
		dst **bool
		v   *bool
	}{
		{&cfg.ICC, file.ICC}, {&cfg.IPTables, file.IPTables}, {&cfg.IPMasq, file.IPMasq},
	} {
		if b.v != nil {
			*b.dst = b.v
		}
	}
	if file.DefaultAddressPools != nil {
		cfg.DefaultAddressPools = file.DefaultAddressPools
	}
	if len(file.Hosts) > 0 {
		cfg.Hosts = file.Hosts
	}
	for name, rt := range file.Runtimes {
		cfg.Runtimes[name] = rt
	}
	if file.LogConfig.Config != nil {
		cfg.LogConfig.Config = file.LogConfig.Config
	}
	if file.IPForward != nil {
		cfg.IPForward = file.IPForward
	}
	if file.DNS != nil {
		cfg.DNS = file.DNS
	}
	if file.DNSSearch != nil {
		cfg.DNSSearch = file.DNSSearch
	}
	if file.DNSOptions != nil {
		cfg.DNSOptions = file.DNSOptions
	}
	if file.MaxConcurrentDownloads > 0 {
		cfg.MaxConcurrentDownloads = file.MaxConcurrentDownloads
	}
	if file.MaxConcurrentUploads > 0 {
		cfg.MaxConcurrentUploads = file.MaxConcurrentUploads
	}
	cfg.InsecureRegistries = append(cfg.InsecureRegistries, file.InsecureRegistries...)
	cfg.Mirrors = append(cfg.Mirrors, file.Mirrors...)
	cfg.LiveRestore = cfg.LiveRestore || file.LiveRestore
}

// AddRuntime parses a --add-runtime value, "name=path".
func (c *Config) AddRuntime(spec string) error {
	name, path, ok := strings.Cut(spec, "=")
	if !ok || name == "" || path == "" {
		return fmt.Errorf("invalid runtime %q: expected name=path", spec)
	}
	c.Runtimes[name] = Runtime{Path: path}
	return nil
}

// Validate checks the final configuration.
func (c *Config) Validate() error {
	if !filepath.IsAbs(c.DataRoot) {
		return fmt.Errorf("data-root must be an absolute path: %q", c.DataRoot)
	}
	if !filepath.IsAbs(c.ExecRoot) {
		return fmt.Errorf("exec-root must be an absolute path: %q", c.ExecRoot)
	}
	if _, ok := c.Runtimes[c.DefaultRuntime]; !ok {
		return fmt.Errorf("default runtime %q is not configured", c.DefaultRuntime)
	}
	if !slices.Contains(logs.Drivers(), c.LogConfig.Type) {
		return fmt.Errorf("log driver %q is not supported (%s)", c.LogConfig.Type, strings.Join(logs.Drivers(), ", "))
	}
	for _, p := range c.DefaultAddressPools {
		if err := p.validate(); err != nil {
			return err
		}
	}
	if c.BridgeName == "none" && c.BridgeIP != "" {
		return fmt.Errorf(`bridge "none" (no default bridge) and bip %q are mutually exclusive: specify only one`, c.BridgeIP)
	}
	if c.FixedCIDR != "" {
		if p, err := netip.ParsePrefix(c.FixedCIDR); err != nil || !p.Addr().Is4() {
			return fmt.Errorf("invalid fixed-cidr %q: want an IPv4 subnet such as 172.17.1.0/24", c.FixedCIDR)
		}
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error", "fatal":
	default:
		return fmt.Errorf("invalid log level %q", c.LogLevel)
	}
	return nil
}
