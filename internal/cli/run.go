package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/client"
	"github.com/moby/moby/client/pkg/versions"
	"github.com/moby/term"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

type runOptions struct {
	createOptions
	detach     bool
	sigProxy   bool
	detachKeys string
}

func newRunCommand(c *CLI) *cobra.Command {
	var options runOptions
	var copts *containerOptions

	cmd := &cobra.Command{
		Use:   "run [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Create and run a new container from an image",
		Args:  requiresMinArgs(1),
		RunE: checkedRunE(c, func(cmd *cobra.Command, args []string) error {
			copts.setImageAndArgs(args)
			return runRun(cmd.Context(), c, cmd.Flags(), &options, copts)
		}),
		Annotations: map[string]string{
			"aliases": "berth container run, berth run",
		},
		DisableFlagsInUseLine: true,
	}

	flags := cmd.Flags()
	// Flags after the image belong to the container's command.
	flags.SetInterspersed(false)

	flags.BoolVarP(&options.detach, "detach", "d", false, "Run container in background and print container ID")
	flags.BoolVar(&options.sigProxy, "sig-proxy", true, "Proxy received signals to the process")
	flags.StringVar(&options.detachKeys, "detach-keys", "", "Override the key sequence for detaching a container")
	addCreateOnlyFlags(flags, &options.createOptions, "running")
	copts = addContainerFlags(flags)
	annotateContainerFlags(flags)
	return cmd
}

// addCreateOnlyFlags adds what run and create share beyond the container
// options: --name, --pull (before "running" or "creating"), -q,
// --use-api-socket, --help without -h (which is --hostname), --platform,
// and the content-trust flag that docker keeps and berth ignores.
func addCreateOnlyFlags(flags *pflag.FlagSet, options *createOptions, pullBefore string) {
	flags.StringVar(&options.name, "name", "", "Assign a name to the container")
	flags.StringVar(&options.pull, "pull", pullImageMissing, `Pull image before `+pullBefore+` ("`+pullImageAlways+`", "`+pullImageMissing+`", "`+pullImageNever+`")`)
	flags.BoolVarP(&options.quiet, "quiet", "q", false, "Suppress the pull output")
	flags.BoolVar(&options.useAPISocket, "use-api-socket", false, "Bind mount Docker API socket and required auth")
	flags.Bool("help", false, "Print usage")
	flags.StringVar(&options.platform, "platform", os.Getenv("DOCKER_DEFAULT_PLATFORM"), "Set platform if server is multi-platform capable")
	flags.Bool("disable-content-trust", true, "Skip image verification")
}

func runRun(ctx context.Context, c *CLI, flags *pflag.FlagSet, ropts *runOptions, copts *containerOptions) error {
	apiClient, containerCfg, err := parseCreateCommandLine(ctx, c, flags, ropts.pull, copts, "run")
	if err != nil {
		return err
	}
	return runContainer(ctx, c, apiClient, ropts, copts, containerCfg)
}

// parseCreateCommandLine is what run and create do before creating:
// check --pull, add config.json's proxies to -e, and read the container
// flags for the daemon's OS. Bad values are docker's "berth: ...\n\nRun
// 'berth <command> --help'" errors with status 125.
func parseCreateCommandLine(ctx context.Context, c *CLI, flags *pflag.FlagSet, pull string, copts *containerOptions, command string) (*client.Client, *containerConfig, error) {
	if err := validatePullOpt(pull); err != nil {
		return nil, nil, StatusError{Status: withHelp(err, command).Error(), StatusCode: 125}
	}
	// checkedRunE made the client already.
	apiClient, err := c.Client()
	if err != nil {
		return nil, nil, err
	}
	copts.env = proxyEnv(c, apiClient.DaemonHost(), copts.env)
	containerCfg, err := parseContainerOptions(flags, copts, serverOSType(ctx, apiClient))
	if err != nil {
		return nil, nil, StatusError{Status: withHelp(err, command).Error(), StatusCode: 125}
	}
	return apiClient, containerCfg, nil
}

// serverOSType is the daemon's OS from _ping. Like docker, a failed ping
// is not an error here: the create that follows reports it.
func serverOSType(ctx context.Context, apiClient *client.Client) string {
	p, err := apiClient.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true})
	if err != nil {
		return ""
	}
	return p.OSType
}

// runContainer is docker's run sequence: create (pulling if needed),
// attach before start so no output is lost, register the wait before
// start so a fast exit is not missed, start, stream, and exit with the
// container's status.
//
//nolint:gocyclo
func runContainer(ctx context.Context, c *CLI, apiClient *client.Client, runOpts *runOptions, copts *containerOptions, containerCfg *containerConfig) error {
	config := containerCfg.Config
	streams := newCLIStreams(c)

	if !runOpts.detach {
		if err := streams.in.checkTty(config.AttachStdin, config.Tty); err != nil {
			return err
		}
	} else {
		if copts.attach.Len() != 0 {
			return errors.New("conflicting options: cannot specify both --attach and --detach")
		}
		config.AttachStdin = false
		config.AttachStdout = false
		config.AttachStderr = false
		config.StdinOnce = false
	}

	containerID, err := createContainer(ctx, c, apiClient, streams, containerCfg, &runOpts.createOptions)
	if err != nil {
		return toStatusError(err)
	}
	if runOpts.sigProxy {
		defer proxySignals(ctx, apiClient, containerID)()
	}

	ctx, cancelFun := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelFun()

	var (
		waitDisplayID chan struct{}
		errCh         <-chan error
	)
	attach := config.AttachStdin || config.AttachStdout || config.AttachStderr
	if !attach {
		// Printed asynchronously so a client can write to stdin before
		// reading the ID.
		waitDisplayID = make(chan struct{})
		go func() {
			defer close(waitDisplayID)
			fmt.Fprintln(streams.out, containerID)
		}()
	} else {
		// Not cancellable by the caller: the stream lives until the
		// container's process exits or the user detaches.
		closeFn, streamDone, err := attachContainer(ctx, apiClient, streams, containerID, config, client.ContainerAttachOptions{
			Stream:     true,
			Stdin:      config.AttachStdin,
			Stdout:     config.AttachStdout,
			Stderr:     config.AttachStderr,
			DetachKeys: c.detachKeys(runOpts.detachKeys),
		})
		if err != nil {
			return err
		}
		errCh = streamDone
		defer closeFn()
	}

	statusCtx, cancelStatusCtx := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelStatusCtx()
	statusChan := waitExitOrRemoved(statusCtx, apiClient, streams, containerID, copts.autoRemove)

	if _, err := apiClient.ContainerStart(ctx, containerID, client.ContainerStartOptions{}); err != nil {
		// Stop the streamer and wait for it, so the terminal is restored.
		if attach {
			cancelFun()
			<-errCh
		}
		switch {
		case copts.autoRemove && versions.LessThan(apiClient.ClientVersion(), "1.25"):
			// No server-side --rm before 1.25, and no die event for a
			// container that never ran: remove it here, without waiting
			// (docker's CLI waits forever).
			cancelStatusCtx()
			_, _ = apiClient.ContainerRemove(context.WithoutCancel(ctx), containerID, client.ContainerRemoveOptions{RemoveVolumes: true, Force: true})
		case copts.autoRemove:
			<-statusChan
		}
		return toStatusError(err)
	}

	if !attach {
		<-waitDisplayID
		return nil
	}

	if config.Tty && streams.out.tty {
		monitorTTYSize(ctx, apiClient, streams, containerID, false)
	}

	select {
	case err := <-errCh:
		if err != nil {
			var escErr term.EscapeError
			if errors.As(err, &escErr) {
				// The user typed the detach keys: the container runs on.
				return nil
			}
			return err
		}
		if status := <-statusChan; status != 0 {
			return StatusError{StatusCode: status}
		}
	case status := <-statusChan:
		// The container exited; its output may still be draining. With
		// no stdout or stderr attached there is nothing to wait for.
		if !config.AttachStdout && !config.AttachStderr {
			cancelFun()
		}
		<-errCh
		if status != 0 {
			return StatusError{StatusCode: status}
		}
	}
	return nil
}

// attachContainer attaches and streams in the background; streamDone
// delivers the end of the stream, closeConn drops the connection.
func attachContainer(ctx context.Context, apiClient *client.Client, streams *cliStreams, containerID string, config *container.Config, options client.ContainerAttachOptions) (closeConn func(), streamDone <-chan error, _ error) {
	resp, err := apiClient.ContainerAttach(ctx, containerID, options)
	if err != nil {
		return nil, nil, err
	}
	streamer := newHijackedStreamer(streams, resp.HijackedResponse, options.Stdin, options.Stdout, options.Stderr, config.Tty, options.DetachKeys)
	return resp.HijackedResponse.Close, streamer.streamInBackground(ctx), nil
}

// waitExitOrRemoved waits for the next exit (or, with --rm, the removal)
// and delivers the exit status; 125 if waiting failed.
func waitExitOrRemoved(ctx context.Context, apiClient *client.Client, streams *cliStreams, containerID string, waitRemove bool) <-chan int {
	if versions.LessThan(apiClient.ClientVersion(), "1.30") {
		return legacyWaitExitOrRemoved(ctx, apiClient, streams, containerID, waitRemove)
	}
	condition := container.WaitConditionNextExit
	if waitRemove {
		condition = container.WaitConditionRemoved
	}
	waitRes := apiClient.ContainerWait(ctx, containerID, client.ContainerWaitOptions{Condition: condition})

	statusC := make(chan int, 1)
	go func() {
		defer close(statusC)
		select {
		case <-ctx.Done():
		case result := <-waitRes.Result:
			if result.Error != nil {
				logError(streams.err, "Error waiting for container: "+result.Error.Message)
				statusC <- 125
			} else {
				statusC <- int(result.StatusCode)
			}
		case err := <-waitRes.Error:
			if errors.Is(err, context.Canceled) {
				return
			}
			logError(streams.err, "error waiting for container: "+err.Error())
			statusC <- 125
		}
	}()
	return statusC
}

// legacyWaitExitOrRemoved is waitExitOrRemoved for API versions before
// 1.30, whose wait has no conditions (it returns at once for a container
// not started yet): it follows the container's events instead, as docker's
// CLI does, and before 1.25, which has no server-side --rm, removes the
// container itself once it died.
func legacyWaitExitOrRemoved(ctx context.Context, apiClient *client.Client, streams *cliStreams, containerID string, waitRemove bool) <-chan int {
	eventCtx, cancel := context.WithCancel(ctx)
	res := apiClient.Events(eventCtx, client.EventsListOptions{
		Filters: client.Filters{}.Add("type", "container").Add("container", containerID),
	})
	clientRemoves := waitRemove && versions.LessThan(apiClient.ClientVersion(), "1.25")
	statusC := make(chan int, 1)
	go func() {
		defer close(statusC)
		defer cancel()
		status := 125
		for {
			select {
			case <-ctx.Done():
				return
			case err := <-res.Err:
				if err != nil && !errors.Is(err, context.Canceled) {
					logError(streams.err, "error getting events from daemon: "+err.Error())
				}
				statusC <- status
				return
			case m := <-res.Messages:
				switch m.Action {
				case events.ActionDie:
					if code, err := strconv.Atoi(m.Actor.Attributes["exitCode"]); err == nil {
						status = code
					}
					if !waitRemove {
						statusC <- status
						return
					}
					if clientRemoves {
						if _, err := apiClient.ContainerRemove(ctx, containerID, client.ContainerRemoveOptions{RemoveVolumes: true}); err != nil {
							logError(streams.err, "error removing container: "+err.Error())
							statusC <- status
							return
						}
					}
				case events.ActionDetach:
					statusC <- 0
					return
				case events.ActionDestroy:
					statusC <- status
					return
				}
			}
		}
	}()
	return statusC
}

// logError prints msg as docker's CLI logs errors (logrus's text format
// on a non-terminal, its short form on a terminal).
func logError(w *outStream, msg string) {
	if w.tty {
		fmt.Fprintf(w, "ERRO[%04d] %s\n", int(time.Since(processStart).Seconds()), msg)
		return
	}
	fmt.Fprintf(w, "time=%q level=error msg=%q\n", time.Now().UTC().Format(time.RFC3339), msg)
}

var processStart = time.Now()

// withHelp is docker's decoration of run and create errors.
func withHelp(err error, commandName string) error {
	return fmt.Errorf("berth: %w\n\nRun 'berth %s --help' for more information", err, commandName)
}

// toStatusError gives run's exit status for an error from create or
// start: 127 when the command was not found, 126 when it could not be
// executed, 125 for any other failure, as docker's CLI decides from the
// daemon's message.
func toStatusError(err error) error {
	var se StatusError
	if errors.As(err, &se) {
		return se
	}
	msg := err.Error()
	status := 125
	switch {
	case strings.Contains(msg, "executable file not found") || strings.Contains(msg, "no such file or directory") || strings.Contains(msg, "system cannot find the file specified"):
		status = 127
	case strings.Contains(msg, syscall.EACCES.Error()) || strings.Contains(msg, syscall.EISDIR.Error()):
		status = 126
	}
	return StatusError{Status: withHelp(err, "run").Error(), StatusCode: status}
}
