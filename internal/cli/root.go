package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

// DefaultHost is where the berth daemon listens unless told otherwise.
const DefaultHost = "unix:///run/berth/berth.sock"

// CLI holds what every command needs: the streams and a lazily made client.
type CLI struct {
	In       io.ReadCloser
	Out, Err io.Writer
	host     string
	client   *client.Client
}

// Client connects to the daemon on first use. The host comes from -H, then
// BERTH_HOST, then DOCKER_HOST, then berth's default socket.
func (c *CLI) Client() (*client.Client, error) {
	if c.client != nil {
		return c.client, nil
	}
	host := c.host
	if host == "" {
		host = os.Getenv("BERTH_HOST")
	}
	if host == "" {
		host = os.Getenv("DOCKER_HOST")
	}
	if host == "" {
		host = DefaultHost
	}
	opts := []client.Opt{client.WithHost(host), client.WithAPIVersionNegotiation(), client.WithUserAgent("berth-cli")}
	if os.Getenv("DOCKER_TLS_VERIFY") != "" || os.Getenv("DOCKER_CERT_PATH") != "" {
		opts = append(opts, client.WithTLSClientConfigFromEnv())
	}
	cl, err := client.New(opts...)
	if err != nil {
		return nil, err
	}
	c.client = cl
	return cl, nil
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
	root := newRootCommand(c)
	root.SetArgs(args)
	root.SetOut(c.Out)
	root.SetErr(c.Err)
	err := root.ExecuteContext(context.Background())
	if err == nil {
		return 0
	}
	var se StatusError
	if errors.As(err, &se) {
		if se.Status != "" {
			fmt.Fprintln(c.Err, se.Status)
		}
		if se.StatusCode == 0 {
			return 1
		}
		return se.StatusCode
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "Error") && !strings.HasPrefix(msg, "error") {
		msg = "Error response from daemon: " + msg
	}
	fmt.Fprintln(c.Err, msg)
	return 1
}

func newRootCommand(c *CLI) *cobra.Command {
	root := &cobra.Command{
		Use:           "berth [OPTIONS] COMMAND [ARG...]",
		Short:         "A Docker-compatible container engine",
		SilenceUsage:  true,
		SilenceErrors: true,
		// Flag errors exit 125, like docker's.
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
	}
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return StatusError{Status: fmt.Sprintf("%s\nSee '%s --help'.", err, cmd.CommandPath()), StatusCode: 125}
	})
	root.PersistentFlags().StringVarP(&c.host, "host", "H", "", "Daemon socket to connect to")
	root.Flags().BoolP("version", "v", false, "Print version information and quit")

	containerCmd := &cobra.Command{Use: "container", Short: "Manage containers"}
	imageCmd := &cobra.Command{Use: "image", Short: "Manage images"}
	systemCmd := &cobra.Command{Use: "system", Short: "Manage berth"}
	root.AddCommand(containerCmd, imageCmd, systemCmd)

	groups := commandGroups{root: root, container: containerCmd, image: imageCmd, system: systemCmd}
	addContainerLifecycleCommands(c, groups)
	addInspectionCommands(c, groups)
	addImageCommands(c, groups)
	addSystemCommands(c, groups)
	return root
}

// commandGroups lets each command file add itself both at top level
// ("berth ps") and in its group ("berth container ls").
type commandGroups struct {
	root, container, image, system *cobra.Command
}
