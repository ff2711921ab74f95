package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/containerd/errdefs"
	"github.com/docker/go-connections/tlsconfig"
	"github.com/moby/moby/client"
	"github.com/moby/term"
	"github.com/spf13/cobra"
)

// DefaultHost is where the berth daemon listens unless told otherwise.
const DefaultHost = "unix:///run/berth/berth.sock"

// CLI holds what every command needs: the streams, the global options and
// a lazily made client.
type CLI struct {
	In       io.ReadCloser
	Out, Err io.Writer
	host     string
	client   *client.Client

	// Global options, as docker's.
	configDir   string
	contextName string
	debug       bool
	logLevel    string
	tls         bool
	tlsVerify   bool
	tlsCACert   string
	tlsCert     string
	tlsKey      string

	config *configFile // ~/.docker/config.json, loaded on first use
}

// Client connects to the daemon on first use. The host comes from -H, then
// BERTH_HOST, then DOCKER_HOST, then berth's default socket.
func (c *CLI) Client() (*client.Client, error) {
	if c.client != nil {
		return c.client, nil
	}
	opts := []client.Opt{}
	tlsOpt, err := c.tlsOption()
	if err != nil {
		return nil, err
	}
	if tlsOpt != nil {
		opts = append(opts, tlsOpt)
	}
	opts = append(opts, client.WithHost(c.Host()), client.WithUserAgent("berth-cli/"+Version))
	if v := os.Getenv("DOCKER_API_VERSION"); v != "" {
		opts = append(opts, client.WithAPIVersion(v))
	} else {
		opts = append(opts, client.WithAPIVersionNegotiation())
	}
	cl, err := client.New(opts...)
	if err != nil {
		return nil, err
	}
	c.client = cl
	return cl, nil
}

// Host is the daemon address the client uses.
func (c *CLI) Host() string {
	for _, h := range []string{c.host, os.Getenv("BERTH_HOST"), os.Getenv("DOCKER_HOST")} {
		if h != "" {
			return h
		}
	}
	return DefaultHost
}

// tlsOption configures TLS as docker does: --tlsverify (or DOCKER_TLS_VERIFY)
// verifies the daemon against the CA; --tls alone encrypts without
// verifying; certificates default to the files in DOCKER_CERT_PATH, else
// in the config directory.
func (c *CLI) tlsOption() (client.Opt, error) {
	verify := c.tlsVerify || os.Getenv("DOCKER_TLS_VERIFY") != ""
	if !verify && !c.tls {
		return nil, nil
	}
	certDir := os.Getenv("DOCKER_CERT_PATH")
	if certDir == "" {
		certDir = c.ConfigDir()
	}
	pick := func(flag, name string) string {
		if flag != "" {
			return flag
		}
		p := filepath.Join(certDir, name)
		if _, err := os.Stat(p); err != nil {
			return ""
		}
		return p
	}
	opts := tlsconfig.Options{
		CertFile:           pick(c.tlsCert, "cert.pem"),
		KeyFile:            pick(c.tlsKey, "key.pem"),
		InsecureSkipVerify: !verify,
		ExclusiveRootPools: true,
		MinVersion:         tls.VersionTLS12,
	}
	if verify {
		opts.CAFile = pick(c.tlsCACert, "ca.pem")
	}
	cfg, err := tlsconfig.Client(opts)
	if err != nil {
		return nil, err
	}
	return client.WithHTTPClient(&http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, CheckRedirect: client.CheckRedirect}), nil
}

// ConfigDir is the client configuration directory: --config, then
// DOCKER_CONFIG, then ~/.docker (berth reads docker's files so that
// psFormat, imagesFormat and registry credentials carry over).
func (c *CLI) ConfigDir() string {
	if c.configDir != "" {
		return c.configDir
	}
	if d := os.Getenv("DOCKER_CONFIG"); d != "" {
		return d
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".docker")
}

// OutIsTerminal reports whether standard output is a terminal (progress
// bars, save's refusal to write binary to a terminal).
func (c *CLI) OutIsTerminal() bool {
	_, ok := term.GetFdInfo(c.Out)
	return ok
}

// InIsTerminal reports whether standard input is a terminal.
func (c *CLI) InIsTerminal() bool {
	_, ok := term.GetFdInfo(c.In)
	return ok
}

// StatusError carries a process exit status out of a command, as docker's
// CLI does: 125 for daemon errors, the container's own code for run.
type StatusError struct {
	Status     string
	StatusCode int
}

func (e StatusError) Error() string { return e.Status }

// Execute runs the CLI with args (without the program name) and returns
// the exit code.
func Execute(args []string) int {
	c := &CLI{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}
	// As docker's main: SIGINT/SIGTERM cancel the command's context, so
	// streaming commands end cleanly and run --sig-proxy=false waits.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return c.execute(ctx, args)
}

func (c *CLI) execute(ctx context.Context, args []string) int {
	root := newRootCommand(c)
	root.SetArgs(args)
	root.SetIn(c.In)
	root.SetOut(c.Out)
	root.SetErr(c.Err)
	err := root.ExecuteContext(ctx)
	if c.client != nil {
		_ = c.client.Close()
	}
	return exitStatus(c.Err, c.connectErrorText(err))
}

// connectErrorText words a missing or refusing daemon socket as docker 28
// does, which scripts look for; the API client's newer wording differs.
func (c *CLI) connectErrorText(err error) error {
	if err == nil || !client.IsErrConnectionFailed(err) {
		return err
	}
	var se StatusError
	if errors.As(err, &se) {
		return err
	}
	if strings.Contains(err.Error(), "check if the path is correct") {
		return fmt.Errorf("Cannot connect to the Docker daemon at %s. Is the docker daemon running?", c.Host()) //nolint:staticcheck // docker's wording
	}
	return err
}

// exitStatus prints err as docker does (the message alone; the API
// client already prefixes daemon errors with "Error response from
// daemon: ") and returns the exit code: a StatusError's own, 0 for a
// cancelled confirmation prompt, 1 otherwise.
func exitStatus(stderr io.Writer, err error) int {
	if err == nil {
		return 0
	}
	var se StatusError
	if errors.As(err, &se) {
		if se.Status != "" {
			fmt.Fprintln(stderr, se.Status)
		}
		if se.StatusCode == 0 {
			return 1
		}
		return se.StatusCode
	}
	var pc promptCancelled
	if errors.As(err, &pc) || errdefs.IsCanceled(err) {
		return 0
	}
	if msg := err.Error(); msg != "" {
		fmt.Fprintln(stderr, msg)
	}
	return 1
}

// commandGroups lets each command file add itself both at top level
// ("berth ps") and in its group ("berth container ls").
type commandGroups struct {
	root, container, image, system *cobra.Command
}

func newRootCommand(c *CLI) *cobra.Command {
	root := &cobra.Command{
		Use:              "berth [OPTIONS] COMMAND [ARG...]",
		Short:            "A self-sufficient runtime for containers",
		SilenceUsage:     true,
		SilenceErrors:    true,
		TraverseChildren: true,
		// Unknown commands land here (Args would otherwise reject them
		// with cobra's own wording).
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				cmd.SetOut(c.Err)
				return cmd.Help()
			}
			return fmt.Errorf("%[1]s: unknown command: %[1]s %[2]s\n\nRun '%[1]s --help' for more information", cmd.Root().Name(), args[0])
		},
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return c.checkGlobalOptions()
		},
		Version:               Version + ", build " + GitCommit,
		DisableFlagsInUseLine: true,
		CompletionOptions:     cobra.CompletionOptions{DisableDefaultCmd: true},
	}
	setupHelp(root)
	root.SetVersionTemplate("berth version {{.Version}}\n")
	root.SetFlagErrorFunc(flagErrorFunc)

	// Global options are the root command's own flags, not persistent
	// ones: docker's subcommands reuse their letters (history -H, ps -l,
	// import -c), so they only parse before the subcommand name.
	f := root.Flags()
	f.StringVar(&c.configDir, "config", "", `Location of client config files (default "`+defaultConfigDirHelp()+`")`)
	f.StringVarP(&c.contextName, "context", "c", "", `Name of the context to use to connect to the daemon (overrides DOCKER_HOST env var and default context set with "docker context use")`)
	f.BoolVarP(&c.debug, "debug", "D", false, "Enable debug mode")
	f.VarP(&hostFlag{dst: &c.host}, "host", "H", "Daemon socket to connect to")
	f.StringVarP(&c.logLevel, "log-level", "l", "info", `Set the logging level ("debug", "info", "warn", "error", "fatal")`)
	f.BoolVar(&c.tls, "tls", false, "Use TLS; implied by --tlsverify")
	f.StringVar(&c.tlsCACert, "tlscacert", "", `Trust certs signed only by this CA (default "`+filepath.Join(defaultConfigDirHelp(), "ca.pem")+`")`)
	f.StringVar(&c.tlsCert, "tlscert", "", `Path to TLS certificate file (default "`+filepath.Join(defaultConfigDirHelp(), "cert.pem")+`")`)
	f.StringVar(&c.tlsKey, "tlskey", "", `Path to TLS key file (default "`+filepath.Join(defaultConfigDirHelp(), "key.pem")+`")`)
	f.BoolVar(&c.tlsVerify, "tlsverify", os.Getenv("DOCKER_TLS_VERIFY") != "", "Use TLS and verify the remote")
	f.BoolP("version", "v", false, "Print version information and quit")

	containerCmd := newGroupCommand("container", "Manage containers")
	imageCmd := newGroupCommand("image", "Manage images")
	systemCmd := newGroupCommand("system", "Manage berth")
	root.AddCommand(containerCmd, imageCmd, systemCmd)

	groups := commandGroups{root: root, container: containerCmd, image: imageCmd, system: systemCmd}
	addContainerLifecycleCommands(c, groups)
	addInspectionCommands(c, groups)
	addImageCommands(c, groups)
	addSystemCommands(c, groups)
	root.AddCommand(newRegistryCommand(c))
	root.AddCommand(newVolumeCommand(c))
	root.AddCommand(newNetworkCommand(c))

	finishCommandTree(root)
	return root
}

// newGroupCommand is a management command ("berth image"): help without
// arguments, docker's "unknown command" error with one.
func newGroupCommand(name, short string) *cobra.Command {
	return &cobra.Command{
		Use:   name,
		Short: short,
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// Help asked for implicitly goes to stderr, as docker's.
			cmd.SetOut(cmd.ErrOrStderr())
			return cmd.Help()
		},
		DisableFlagsInUseLine: true,
	}
}

// commonCommands are listed first in "berth --help", as docker lists them.
var commonCommands = []string{"run", "exec", "ps", "build", "pull", "push", "images", "login", "logout", "search", "version", "info"}

// finishCommandTree applies what every command needs, whoever wrote it:
// docker's flag-error and usage behaviour, and the "Common Commands" order.
func finishCommandTree(root *cobra.Command) {
	for i, name := range commonCommands {
		for _, sub := range root.Commands() {
			if sub.Name() == name {
				if sub.Annotations == nil {
					sub.Annotations = map[string]string{}
				}
				sub.Annotations["category-top"] = fmt.Sprintf("%02d", i+1)
			}
		}
	}
	var visit func(*cobra.Command)
	visit = func(cmd *cobra.Command) {
		cmd.DisableFlagsInUseLine = true
		cmd.SilenceErrors, cmd.SilenceUsage = true, true
		for _, sub := range cmd.Commands() {
			visit(sub)
		}
	}
	visit(root)
}

// checkGlobalOptions validates what docker validates before any command.
func (c *CLI) checkGlobalOptions() error {
	switch strings.ToLower(c.logLevel) {
	case "panic", "fatal", "error", "warn", "warning", "info", "debug", "trace":
	default:
		return fmt.Errorf("Unable to parse logging level: %s", c.logLevel) //nolint:staticcheck // docker's wording
	}
	if c.contextName != "" && c.contextName != "default" {
		return fmt.Errorf("context %q does not exist", c.contextName)
	}
	return nil
}

// flagErrorFunc is docker's: the error, the usage line, a pointer to --help,
// exit status 125.
func flagErrorFunc(cmd *cobra.Command, err error) error {
	if err == nil {
		return nil
	}
	return StatusError{
		Status:     fmt.Sprintf("%s\n\nUsage:  %s\n\nRun '%s --help' for more information", err, cmd.UseLine(), cmd.CommandPath()),
		StatusCode: 125,
	}
}

// hostFlag is -H: a "list" in docker's help, but only one host is allowed.
type hostFlag struct{ dst *string }

func (h *hostFlag) String() string { return *h.dst }
func (h *hostFlag) Set(v string) error {
	if *h.dst != "" {
		return errors.New("specify only one -H")
	}
	*h.dst = v
	return nil
}
func (*hostFlag) Type() string { return "list" }

func defaultConfigDirHelp() string {
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".docker")
}
