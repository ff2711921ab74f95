package cli

import (
	"context"
	"errors"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

type attachOptions struct {
	noStdin    bool
	proxy      bool
	detachKeys string
}

func newAttachCommand(c *CLI) *cobra.Command {
	var opts attachOptions
	cmd := &cobra.Command{
		Use:   "attach [OPTIONS] CONTAINER",
		Short: "Attach local standard input, output, and error streams to a running container",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runAttach(cmd.Context(), c, args[0], &opts)
		},
		Annotations: map[string]string{
			"aliases": "berth container attach, berth attach",
		},
		DisableFlagsInUseLine: true,
	}
	flags := cmd.Flags()
	flags.BoolVar(&opts.noStdin, "no-stdin", false, "Do not attach STDIN")
	flags.BoolVar(&opts.proxy, "sig-proxy", true, "Proxy all received signals to the process")
	flags.StringVar(&opts.detachKeys, "detach-keys", "", "Override the key sequence for detaching a container")
	return cmd
}

func inspectContainerAndCheckState(ctx context.Context, apiClient *client.Client, name string) (*container.InspectResponse, error) {
	res, err := apiClient.ContainerInspect(ctx, name, client.ContainerInspectOptions{})
	if err != nil {
		return nil, err
	}
	c := res.Container
	if c.State == nil || !c.State.Running {
		return nil, errors.New("You cannot attach to a stopped container, start it first") //nolint:staticcheck // docker's text
	}
	if c.State.Paused {
		return nil, errors.New("You cannot attach to a paused container, unpause it first") //nolint:staticcheck // docker's text
	}
	if c.State.Restarting {
		return nil, errors.New("You cannot attach to a restarting container, wait until it is running") //nolint:staticcheck // docker's text
	}
	return &c, nil
}

func runAttach(ctx context.Context, c *CLI, name string, opts *attachOptions) error {
	apiClient, err := c.Client()
	if err != nil {
		return err
	}
	streams := newCLIStreams(c)

	// Registered first, so that an exit right after attaching is seen.
	waitRes := apiClient.ContainerWait(context.WithoutCancel(ctx), name, client.ContainerWaitOptions{})

	ctr, err := inspectContainerAndCheckState(ctx, apiClient, name)
	if err != nil {
		return err
	}
	if err := streams.in.checkTty(!opts.noStdin, ctr.Config.Tty); err != nil {
		return err
	}

	options := client.ContainerAttachOptions{
		Stream:     true,
		Stdin:      !opts.noStdin && ctr.Config.OpenStdin,
		Stdout:     true,
		Stderr:     true,
		DetachKeys: c.detachKeys(opts.detachKeys),
	}
	if opts.proxy && !ctr.Config.Tty {
		defer proxySignals(ctx, apiClient, name)()
	}

	res, err := apiClient.ContainerAttach(ctx, name, options)
	if err != nil {
		return err
	}
	defer res.HijackedResponse.Close()

	// The container may have stopped between the first check and the
	// attach; the stream would then never end.
	if _, err := inspectContainerAndCheckState(ctx, apiClient, name); err != nil {
		return err
	}

	if ctr.Config.Tty && streams.out.tty {
		// Resize to another size and back, so that the program redraws
		// for a second attach to an unchanged terminal.
		h, w := streams.out.ttySize()
		_ = resizeTTYTo(ctx, apiClient, name, h+1, w+1, false)
		monitorTTYSize(ctx, apiClient, streams, name, false)
	}

	streamer := newHijackedStreamer(streams, res.HijackedResponse, options.Stdin, true, true, ctr.Config.Tty, options.DetachKeys)
	if err := streamer.stream(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return getExitStatus(waitRes)
}

// getExitStatus reads the wait registered before attaching; after a
// detach the container still runs, and the wait has no result yet.
func getExitStatus(waitRes client.ContainerWaitResult) error {
	select {
	case result := <-waitRes.Result:
		if result.Error != nil {
			return errors.New(result.Error.Message)
		}
		if result.StatusCode != 0 {
			return StatusError{StatusCode: int(result.StatusCode)}
		}
	case err := <-waitRes.Error:
		return err
	}
	return nil
}
