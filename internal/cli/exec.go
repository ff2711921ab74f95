package cli

import (
	"context"
	"errors"

	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

type execOptions struct {
	detachKeys  string
	interactive bool
	tty         bool
	detach      bool
	user        string
	privileged  bool
	env         listOpts
	envFile     listOpts
	workdir     string
	command     []string
}

func newExecCommand(c *CLI) *cobra.Command {
	options := execOptions{env: newListOpts(validateEnv), envFile: newListOpts(nil)}
	cmd := &cobra.Command{
		Use:   "exec [OPTIONS] CONTAINER COMMAND [ARG...]",
		Short: "Execute a command in a running container",
		Args:  requiresMinArgs(2),
		RunE: checkedRunE(c, func(cmd *cobra.Command, args []string) error {
			options.command = args[1:]
			return runExec(cmd.Context(), c, args[0], &options)
		}),
		Annotations: map[string]string{
			"aliases": "berth container exec, berth exec",
		},
		DisableFlagsInUseLine: true,
	}
	flags := cmd.Flags()
	flags.SetInterspersed(false)
	flags.StringVar(&options.detachKeys, "detach-keys", "", "Override the key sequence for detaching a container")
	flags.BoolVarP(&options.interactive, "interactive", "i", false, "Keep STDIN open even if not attached")
	flags.BoolVarP(&options.tty, "tty", "t", false, "Allocate a pseudo-TTY")
	flags.BoolVarP(&options.detach, "detach", "d", false, "Detached mode: run command in the background")
	flags.StringVarP(&options.user, "user", "u", "", `Username or UID (format: "<name|uid>[:<group|gid>]")`)
	flags.BoolVar(&options.privileged, "privileged", false, "Give extended privileges to the command")
	flags.VarP(&options.env, "env", "e", "Set environment variables")
	flags.Var(&options.envFile, "env-file", "Read in a file of environment variables")
	flags.StringVarP(&options.workdir, "workdir", "w", "", "Working directory inside the container")
	setFlagVersion(flags, "env", "1.25")
	setFlagVersion(flags, "env-file", "1.25")
	setFlagVersion(flags, "workdir", "1.35")
	return cmd
}

// parseExec builds the exec create request. Without -d, stdout and
// stderr are attached, and stdin with -i.
func parseExec(opts *execOptions, configDetachKeys string) (*client.ExecCreateOptions, error) {
	execOpts := &client.ExecCreateOptions{
		User:       opts.user,
		Privileged: opts.privileged,
		TTY:        opts.tty,
		Cmd:        opts.command,
		WorkingDir: opts.workdir,
	}
	var err error
	if execOpts.Env, err = readKVEnvStrings(opts.envFile.GetSlice(), opts.env.GetSlice()); err != nil {
		return nil, err
	}
	if !opts.detach {
		execOpts.AttachStdout = true
		execOpts.AttachStderr = true
		if opts.interactive {
			execOpts.AttachStdin = true
		}
	}
	execOpts.DetachKeys = opts.detachKeys
	if execOpts.DetachKeys == "" {
		execOpts.DetachKeys = configDetachKeys
	}
	return execOpts, nil
}

func runExec(ctx context.Context, c *CLI, name string, opts *execOptions) error {
	execOpts, err := parseExec(opts, c.ConfigFile().DetachKeys)
	if err != nil {
		return err
	}
	apiClient, err := c.Client()
	if err != nil {
		return err
	}
	streams := newCLIStreams(c)

	// Check the tty before creating the exec, which would otherwise be
	// left behind on the daemon; inspect first so that "No such
	// container" wins over tty complaints.
	if _, err := apiClient.ContainerInspect(ctx, name, client.ContainerInspectOptions{}); err != nil {
		return err
	}
	if !opts.detach {
		if err := streams.in.checkTty(execOpts.AttachStdin, execOpts.TTY); err != nil {
			return err
		}
	}
	if execOpts.TTY {
		h, w := streams.out.ttySize()
		execOpts.ConsoleSize = client.ConsoleSize{Height: h, Width: w}
	}

	response, err := apiClient.ExecCreate(ctx, name, *execOpts)
	if err != nil {
		return err
	}
	execID := response.ID
	if execID == "" {
		return errors.New("exec ID empty")
	}

	if opts.detach {
		_, err := apiClient.ExecStart(ctx, execID, client.ExecStartOptions{
			Detach:      true,
			TTY:         execOpts.TTY,
			ConsoleSize: execOpts.ConsoleSize,
		})
		return err
	}
	return interactiveExec(ctx, apiClient, streams, execOpts, execID)
}

func interactiveExec(ctx context.Context, apiClient *client.Client, streams *cliStreams, execOpts *client.ExecCreateOptions, execID string) error {
	resp, err := apiClient.ExecAttach(ctx, execID, client.ExecAttachOptions{
		TTY:         execOpts.TTY,
		ConsoleSize: execOpts.ConsoleSize,
	})
	if err != nil {
		return err
	}
	defer resp.Close()

	errCh := newHijackedStreamer(streams, resp.HijackedResponse, execOpts.AttachStdin, execOpts.AttachStdout, execOpts.AttachStderr, execOpts.TTY, execOpts.DetachKeys).streamInBackground(ctx)

	if execOpts.TTY && streams.in.tty {
		monitorCtx, stop := context.WithCancel(ctx)
		defer stop()
		monitorTTYSize(monitorCtx, apiClient, streams, execID, true)
	}

	if err := <-errCh; err != nil {
		return err
	}
	return getExecExitStatus(ctx, apiClient, execID)
}

// getExecExitStatus exits with the exec's own status; -1 (255) if the
// daemon went away.
func getExecExitStatus(ctx context.Context, apiClient *client.Client, execID string) error {
	resp, err := apiClient.ExecInspect(ctx, execID, client.ExecInspectOptions{})
	if err != nil {
		if !client.IsErrConnectionFailed(err) {
			return err
		}
		return StatusError{StatusCode: -1}
	}
	if resp.ExitCode != 0 {
		return StatusError{StatusCode: resp.ExitCode}
	}
	return nil
}
