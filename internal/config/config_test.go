package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadMergesDaemonJSON(t *testing.T) {
	path := filepath.Join(t.TempDir(), "daemon.json")
	os.WriteFile(path, []byte(`{"data-root":"/srv/berth","log-driver":"local","log-opts":{"max-size":"1m"},"runtimes":{"kata":{"path":"/usr/bin/kata"}},"insecure-registries":["reg:5000"]}`), 0o644)
	cfg := Defaults()
	if err := Load(&cfg, path, true); err != nil {
		t.Fatal(err)
	}
	if cfg.DataRoot != "/srv/berth" || cfg.LogConfig.Type != "local" || cfg.LogConfig.Config["max-size"] != "1m" {
		t.Fatalf("not merged: %+v", cfg)
	}
	if cfg.Runtimes["kata"].Path != "/usr/bin/kata" || cfg.Runtimes["runc"].Path != "runc" {
		t.Fatalf("runtimes: %+v", cfg.Runtimes)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestLoadRejectsUnknownKeysAndMissingRequired(t *testing.T) {
	path := filepath.Join(t.TempDir(), "daemon.json")
	os.WriteFile(path, []byte(`{"data-rot":"/x"}`), 0o644)
	cfg := Defaults()
	if err := Load(&cfg, path, true); err == nil || !strings.Contains(err.Error(), "data-rot") {
		t.Fatalf("want unknown key error, got %v", err)
	}
	if err := Load(&cfg, path+".missing", false); err != nil {
		t.Fatalf("optional missing file: %v", err)
	}
	if err := Load(&cfg, path+".missing", true); err == nil {
		t.Fatal("required missing file accepted")
	}
}

func TestValidate(t *testing.T) {
	cfg := Defaults()
	cfg.DefaultRuntime = "nope"
	if cfg.Validate() == nil {
		t.Fatal("unknown default runtime accepted")
	}
	cfg = Defaults()
	if err := cfg.AddRuntime("bad"); err == nil {
		t.Fatal("bad --add-runtime accepted")
	}
}

// The defaults: the data and exec roots, and the socket on the
// exec root (/run/berth/berth.sock, where the berth CLI looks).
func TestDefaults(t *testing.T) {
	cfg := Defaults()
	if cfg.DataRoot != "/var/lib/berth" || cfg.ExecRoot != "/run/berth" || cfg.DefaultRuntime != "runc" ||
		cfg.LogConfig.Type != "json-file" || cfg.ConfigFile != "/etc/berth/daemon.json" {
		t.Errorf("defaults: %+v", cfg)
	}
	if got := cfg.DefaultSocket(); got != "unix:///run/berth/berth.sock" {
		t.Errorf("default socket %s", got)
	}
}

// bridge "none" turns the default bridge off: an address for it is a
// contradiction, refused as dockerd refuses -b with --bip.
func TestValidateNoBridgeWithBIP(t *testing.T) {
	cfg := Defaults()
	cfg.BridgeName = "none"
	if err := cfg.Validate(); err != nil {
		t.Fatalf("bridge none: %v", err)
	}
	cfg.BridgeIP = "10.9.8.1/24"
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "mutually exclusive") {
		t.Fatalf("bridge none with bip: %v", err)
	}
}
