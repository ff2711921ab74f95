package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"syscall"
	"time"

	"github.com/berth-dev/berth/internal/config"
	"github.com/spf13/pflag"
)

// Main runs "berth daemon" with the given arguments and returns the exit
// code.
func Main(args []string) int {
	cfg, err := parseFlags(args)
	if errors.Is(err, pflag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "berth daemon:", err)
		return 125
	}
	setupLogging(cfg.LogLevel)
	// A soft memory limit keeps the daemon's heap from growing after a
	// burst (rm -f of 50 containers): the GC works harder near it instead.
	// GOMEMLIMIT in the environment still wins.
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(daemonMemoryLimit)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg); err != nil {
		slog.Error("daemon exited", "err", err)
		return 1
	}
	return 0
}

func parseFlags(args []string) (config.Config, error) {
	cfg := config.Defaults()
	fs := pflag.NewFlagSet("daemon", pflag.ContinueOnError)
	dataRoot := fs.String("data-root", "", "Root directory of persistent state (default /var/lib/berth)")
	execRoot := fs.String("exec-root", "", "Root directory for execution state files (default /run/berth)")
	hosts := fs.StringArrayP("host", "H", nil, "Daemon socket(s) to listen on (unix://, tcp://, fd://)")
	configFile := fs.String("config-file", cfg.ConfigFile, "Daemon configuration file")
	runtime := fs.String("default-runtime", "", "Default OCI runtime for containers")
	fs.StringVar(runtime, "runtime", "", "Alias of --default-runtime")
	addRuntimes := fs.StringArray("add-runtime", nil, "Register an additional OCI runtime (name=path)")
	logLevel := fs.StringP("log-level", "l", "", "Logging level (debug, info, warn, error, fatal)")
	pidfile := fs.StringP("pidfile", "p", "", "Path to use for daemon PID file")
	bridge := fs.StringP("bridge", "b", "", "Name of the default bridge, or none for no default bridge (default berth0)")
	bip := fs.String("bip", "", "IPv4 address and prefix of the default bridge")
	fixedCIDR := fs.String("fixed-cidr", "", "IPv4 subnet of the default bridge's subnet to hand out container addresses from")
	pools := fs.StringArray("default-address-pool", nil, "Default address pool for new networks (base=10.10.0.0/16,size=24)")
	netBools := map[string]**bool{"icc": &cfg.ICC, "iptables": &cfg.IPTables, "ip-forward": &cfg.IPForward, "ip-masq": &cfg.IPMasq}
	fs.Bool("icc", true, "Enable inter-container communication on the default bridge")
	fs.Bool("iptables", true, "Program nftables rules (NAT for published ports, masquerade, isolation)")
	fs.Bool("ip-forward", true, "Enable IPv4 forwarding")
	fs.Bool("ip-masq", true, "Masquerade the default bridge's outbound traffic")
	logDriver := fs.String("log-driver", "", "Default driver for container logs")
	insecure := fs.StringArray("insecure-registry", nil, "Enable insecure registry communication")
	initAll := fs.Bool("init", false, "Run an init in the containers to forward signals and reap processes")
	initPath := fs.String("init-path", "", "Path to the docker-init binary")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if err := config.Load(&cfg, *configFile, fs.Changed("config-file")); err != nil {
		return cfg, err
	}
	// Flags win over daemon.json.
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&cfg.DataRoot, *dataRoot)
	set(&cfg.ExecRoot, *execRoot)
	set(&cfg.DefaultRuntime, *runtime)
	set(&cfg.LogLevel, *logLevel)
	set(&cfg.Pidfile, *pidfile)
	set(&cfg.BridgeName, *bridge)
	set(&cfg.BridgeIP, *bip)
	set(&cfg.FixedCIDR, *fixedCIDR)
	for name, dst := range netBools {
		if fs.Changed(name) {
			v, _ := fs.GetBool(name)
			*dst = &v
		}
	}
	if len(*pools) > 0 {
		cfg.DefaultAddressPools = nil
		for _, v := range *pools {
			p, err := config.ParseAddressPool(v)
			if err != nil {
				return cfg, err
			}
			cfg.DefaultAddressPools = append(cfg.DefaultAddressPools, p)
		}
	}
	set(&cfg.LogConfig.Type, *logDriver)
	set(&cfg.InitPath, *initPath)
	if fs.Changed("init") {
		cfg.Init = *initAll
	}
	cfg.InsecureRegistries = append(cfg.InsecureRegistries, *insecure...)
	if len(*hosts) > 0 {
		cfg.Hosts = *hosts
	}
	for _, r := range *addRuntimes {
		if err := cfg.AddRuntime(r); err != nil {
			return cfg, err
		}
	}
	if len(cfg.Hosts) == 0 {
		cfg.Hosts = []string{cfg.DefaultSocket()}
	}
	if cfg.Pidfile == "" {
		cfg.Pidfile = filepath.Join(cfg.ExecRoot, "berth.pid")
	}
	cfg.ConfigFile = *configFile
	return cfg, cfg.Validate()
}

func setupLogging(level string) {
	var l slog.Level
	switch level {
	case "debug":
		l = slog.LevelDebug
	case "warn":
		l = slog.LevelWarn
	case "error", "fatal":
		l = slog.LevelError
	default:
		l = slog.LevelInfo
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l})))
}

// lockDataRoot takes an exclusive lock on the data root for the life of
// the process, so two daemons never share one store.
func lockDataRoot(dataRoot string) (*os.File, error) {
	if err := os.MkdirAll(dataRoot, 0o711); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dataRoot, "berth.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("data root %s is in use by another daemon: %w", dataRoot, err)
	}
	return f, nil
}

func writePidfile(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644)
}

// daemonMemoryLimit is the daemon's soft heap target.
const daemonMemoryLimit = 24 << 20

// shutdownGrace bounds how long in-flight requests may take at exit.
const shutdownGrace = 5 * time.Second
