package cli

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/moby/term"
	"github.com/spf13/cobra"
)

// addContainerLifecycleCommands adds run, create, start, attach, exec,
// wait, stop, restart, kill, rm, pause, unpause, update, rename, each at
// top level and under "berth container". Every constructor is called
// twice: a cobra command has one parent.
func addContainerLifecycleCommands(c *CLI, g commandGroups) {
	for _, parent := range []*cobra.Command{g.root, g.container} {
		parent.AddCommand(
			newRunCommand(c),
			newCreateCommand(c),
			newStartCommand(c),
			newAttachCommand(c),
			newExecCommand(c),
			newWaitCommand(c),
			newStopCommand(c),
			newRestartCommand(c),
			newKillCommand(c),
			newPauseCommand(c),
			newUnpauseCommand(c),
			newUpdateCommand(c),
			newRenameCommand(c),
		)
	}
	g.root.AddCommand(newRmCommand(c))
	// "berth container remove" is docker's longer spelling of rm.
	rm := newRmCommand(c)
	rm.Aliases = []string{"remove"}
	g.container.AddCommand(rm)
}

type startOptions struct {
	attach        bool
	openStdin     bool
	detachKeys    string
	checkpoint    string
	checkpointDir string
	containers    []string
}

func newStartCommand(c *CLI) *cobra.Command {
	var opts startOptions
	cmd := &cobra.Command{
		Use:   "start [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Start one or more stopped containers",
		Args:  requiresMinArgs(1),
		RunE: checkedRunE(c, func(cmd *cobra.Command, args []string) error {
			opts.containers = args
			return runStart(cmd.Context(), c, &opts)
		}),
		Annotations: map[string]string{
			"aliases": "berth container start, berth start",
		},
		DisableFlagsInUseLine: true,
	}
	flags := cmd.Flags()
	flags.BoolVarP(&opts.attach, "attach", "a", false, "Attach STDOUT/STDERR and forward signals")
	flags.BoolVarP(&opts.openStdin, "interactive", "i", false, "Attach container's STDIN")
	flags.StringVar(&opts.detachKeys, "detach-keys", "", "Override the key sequence for detaching a container")
	flags.StringVar(&opts.checkpoint, "checkpoint", "", "Restore from this checkpoint")
	flags.StringVar(&opts.checkpointDir, "checkpoint-dir", "", "Use a custom checkpoint storage directory")
	for _, name := range []string{"checkpoint", "checkpoint-dir"} {
		setFlagExperimental(flags, name)
		setFlagOSType(flags, name, "linux")
	}
	return cmd
}

//nolint:gocyclo // docker's start: attach, checkpoint or plain
func runStart(ctx context.Context, c *CLI, opts *startOptions) error {
	apiClient, err := c.Client()
	if err != nil {
		return err
	}
	ctx, cancelFun := context.WithCancel(ctx)
	defer cancelFun()

	switch {
	case opts.attach || opts.openStdin:
		if len(opts.containers) > 1 {
			return errors.New("you cannot start and attach multiple containers at once")
		}
		streams := newCLIStreams(c)
		res, err := apiClient.ContainerInspect(ctx, opts.containers[0], client.ContainerInspectOptions{})
		if err != nil {
			return err
		}
		ctr := res.Container
		// The ID from here on: the name could be reused meanwhile.
		if !ctr.Config.Tty {
			defer proxySignals(ctx, apiClient, ctr.ID)()
		}

		options := client.ContainerAttachOptions{
			Stream:     true,
			Stdin:      opts.openStdin && ctr.Config.OpenStdin,
			Stdout:     true,
			Stderr:     true,
			DetachKeys: c.detachKeys(opts.detachKeys),
		}
		resp, err := apiClient.ContainerAttach(ctx, ctr.ID, options)
		if err != nil {
			return err
		}
		defer resp.HijackedResponse.Close()

		cErr := newHijackedStreamer(streams, resp.HijackedResponse, options.Stdin, true, true, ctr.Config.Tty, options.DetachKeys).streamInBackground(ctx)

		autoRemove := ctr.HostConfig != nil && ctr.HostConfig.AutoRemove
		statusChan := waitExitOrRemoved(ctx, apiClient, streams, ctr.ID, autoRemove)

		if _, err := apiClient.ContainerStart(ctx, ctr.ID, client.ContainerStartOptions{
			CheckpointID:  opts.checkpoint,
			CheckpointDir: opts.checkpointDir,
		}); err != nil {
			cancelFun()
			<-cErr
			if autoRemove {
				<-statusChan
			}
			return err
		}

		if ctr.Config.Tty && streams.out.tty {
			monitorTTYSize(ctx, apiClient, streams, ctr.ID, false)
		}
		if attachErr := <-cErr; attachErr != nil {
			var escErr term.EscapeError
			if errors.As(attachErr, &escErr) {
				return nil
			}
			return attachErr
		}
		if status := <-statusChan; status != 0 {
			return StatusError{StatusCode: status}
		}
		return nil

	case opts.checkpoint != "":
		if len(opts.containers) > 1 {
			return errors.New("you cannot restore multiple containers at once")
		}
		_, err := apiClient.ContainerStart(ctx, opts.containers[0], client.ContainerStartOptions{
			CheckpointID:  opts.checkpoint,
			CheckpointDir: opts.checkpointDir,
		})
		return err

	default:
		// Each failure is reported as it happens; a summary ends the run.
		var failed []string
		for _, ctr := range opts.containers {
			if _, err := apiClient.ContainerStart(ctx, ctr, client.ContainerStartOptions{}); err != nil {
				fmt.Fprintln(c.Err, err)
				failed = append(failed, ctr)
				continue
			}
			fmt.Fprintln(c.Out, ctr)
		}
		if len(failed) > 0 {
			return errors.New("Error: failed to start containers: " + strings.Join(failed, ", ")) //nolint:staticcheck // docker's text
		}
		return nil
	}
}

func newWaitCommand(c *CLI) *cobra.Command {
	return &cobra.Command{
		Use:   "wait CONTAINER [CONTAINER...]",
		Short: "Block until one or more containers stop, then print their exit codes",
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			apiClient, err := c.Client()
			if err != nil {
				return err
			}
			var errs []string
			for _, ctr := range args {
				res := apiClient.ContainerWait(cmd.Context(), ctr, client.ContainerWaitOptions{})
				select {
				case result := <-res.Result:
					fmt.Fprintln(c.Out, strconv.FormatInt(result.StatusCode, 10))
				case err := <-res.Error:
					errs = append(errs, err.Error())
				}
			}
			return joinedErrors(errs)
		},
		Annotations: map[string]string{
			"aliases": "berth container wait, berth wait",
		},
		DisableFlagsInUseLine: true,
	}
}

// joinedErrors is how docker reports per-container failures: one line
// each, after the successes were printed, exit status 1.
func joinedErrors(errs []string) error {
	if len(errs) == 0 {
		return nil
	}
	return errors.New(strings.Join(errs, "\n"))
}

// parallelOperation runs op on every container, at most 50 at a time,
// and returns the results in argument order.
func parallelOperation(ctx context.Context, containers []string, op func(ctx context.Context, id string) error) []error {
	const maxParallel = 50
	sem := make(chan struct{}, maxParallel)
	results := make([]chan error, len(containers))
	for i := range containers {
		results[i] = make(chan error, 1)
	}
	go func() {
		for i, ctr := range containers {
			sem <- struct{}{}
			go func() {
				results[i] <- op(ctx, ctr)
				<-sem
			}()
		}
	}()
	errs := make([]error, len(containers))
	for i := range containers {
		errs[i] = <-results[i]
	}
	return errs
}

// perContainer runs op on each name in parallel, prints each name that
// succeeded, and reports the failures together.
func perContainer(ctx context.Context, c *CLI, names []string, op func(ctx context.Context, apiClient *client.Client, name string) error) error {
	apiClient, err := c.Client()
	if err != nil {
		return err
	}
	results := parallelOperation(ctx, names, func(ctx context.Context, name string) error {
		return op(ctx, apiClient, name)
	})
	var errs []string
	for i, name := range names {
		if results[i] != nil {
			errs = append(errs, results[i].Error())
			continue
		}
		fmt.Fprintln(c.Out, name)
	}
	return joinedErrors(errs)
}

type stopOptions struct {
	signal  string
	timeout int
}

func newStopCommand(c *CLI) *cobra.Command {
	var opts stopOptions
	cmd := &cobra.Command{
		Use:   "stop [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Stop one or more running containers",
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			timeout, err := stopTimeout(cmd, opts.timeout)
			if err != nil {
				return err
			}
			return perContainer(cmd.Context(), c, args, func(ctx context.Context, apiClient *client.Client, name string) error {
				_, err := apiClient.ContainerStop(ctx, name, client.ContainerStopOptions{Signal: opts.signal, Timeout: timeout})
				return err
			})
		},
		Annotations: map[string]string{
			"aliases": "berth container stop, berth stop",
		},
		DisableFlagsInUseLine: true,
	}
	addStopFlags(cmd, &opts)
	return cmd
}

func addStopFlags(cmd *cobra.Command, opts *stopOptions) {
	flags := cmd.Flags()
	flags.StringVarP(&opts.signal, "signal", "s", "", "Signal to send to the container")
	flags.IntVarP(&opts.timeout, "timeout", "t", 0, "Seconds to wait before killing the container")
	// --time is the old, hidden spelling of --timeout.
	flags.IntVar(&opts.timeout, "time", 0, "Seconds to wait before killing the container (deprecated: use --timeout)")
	_ = flags.MarkDeprecated("time", "use --timeout instead")
}

// stopTimeout is nil unless -t was given: the daemon then applies the
// container's own StopTimeout.
func stopTimeout(cmd *cobra.Command, timeout int) (*int, error) {
	flags := cmd.Flags()
	if flags.Changed("time") && flags.Changed("timeout") {
		return nil, errors.New("conflicting options: cannot specify both --timeout and --time")
	}
	if flags.Changed("timeout") || flags.Changed("time") {
		return &timeout, nil
	}
	return nil, nil
}

func newRestartCommand(c *CLI) *cobra.Command {
	var opts stopOptions
	cmd := &cobra.Command{
		Use:   "restart [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Restart one or more containers",
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			timeout, err := stopTimeout(cmd, opts.timeout)
			if err != nil {
				return err
			}
			apiClient, err := c.Client()
			if err != nil {
				return err
			}
			// One at a time, as docker restarts them.
			var errs []string
			for _, name := range args {
				if _, err := apiClient.ContainerRestart(cmd.Context(), name, client.ContainerRestartOptions{Signal: opts.signal, Timeout: timeout}); err != nil {
					errs = append(errs, err.Error())
					continue
				}
				fmt.Fprintln(c.Out, name)
			}
			return joinedErrors(errs)
		},
		Annotations: map[string]string{
			"aliases": "berth container restart, berth restart",
		},
		DisableFlagsInUseLine: true,
	}
	addStopFlags(cmd, &opts)
	return cmd
}

func newKillCommand(c *CLI) *cobra.Command {
	var signal string
	cmd := &cobra.Command{
		Use:   "kill [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Kill one or more running containers",
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return perContainer(cmd.Context(), c, args, func(ctx context.Context, apiClient *client.Client, name string) error {
				_, err := apiClient.ContainerKill(ctx, name, client.ContainerKillOptions{Signal: signal})
				return err
			})
		},
		Annotations: map[string]string{
			"aliases": "berth container kill, berth kill",
		},
		DisableFlagsInUseLine: true,
	}
	cmd.Flags().StringVarP(&signal, "signal", "s", "", "Signal to send to the container")
	return cmd
}

func newPauseCommand(c *CLI) *cobra.Command {
	return &cobra.Command{
		Use:   "pause CONTAINER [CONTAINER...]",
		Short: "Pause all processes within one or more containers",
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return perContainer(cmd.Context(), c, args, func(ctx context.Context, apiClient *client.Client, name string) error {
				_, err := apiClient.ContainerPause(ctx, name, client.ContainerPauseOptions{})
				return err
			})
		},
		Annotations: map[string]string{
			"aliases": "berth container pause, berth pause",
		},
		DisableFlagsInUseLine: true,
	}
}

func newUnpauseCommand(c *CLI) *cobra.Command {
	return &cobra.Command{
		Use:   "unpause CONTAINER [CONTAINER...]",
		Short: "Unpause all processes within one or more containers",
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return perContainer(cmd.Context(), c, args, func(ctx context.Context, apiClient *client.Client, name string) error {
				_, err := apiClient.ContainerUnpause(ctx, name, client.ContainerUnpauseOptions{})
				return err
			})
		},
		Annotations: map[string]string{
			"aliases": "berth container unpause, berth unpause",
		},
		DisableFlagsInUseLine: true,
	}
}

type rmOptions struct {
	rmVolumes bool
	rmLink    bool
	force     bool
}

func newRmCommand(c *CLI) *cobra.Command {
	var opts rmOptions
	cmd := &cobra.Command{
		Use:   "rm [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Remove one or more containers",
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRm(cmd.Context(), c, args, &opts)
		},
		Annotations: map[string]string{
			"aliases": "berth container rm, berth container remove, berth rm",
		},
		DisableFlagsInUseLine: true,
	}
	flags := cmd.Flags()
	flags.BoolVarP(&opts.rmVolumes, "volumes", "v", false, "Remove anonymous volumes associated with the container")
	flags.BoolVarP(&opts.rmLink, "link", "l", false, "Remove the specified link")
	flags.BoolVarP(&opts.force, "force", "f", false, "Force the removal of a running container (uses SIGKILL)")
	return cmd
}

func runRm(ctx context.Context, c *CLI, names []string, opts *rmOptions) error {
	apiClient, err := c.Client()
	if err != nil {
		return err
	}
	results := parallelOperation(ctx, names, func(ctx context.Context, name string) error {
		name = strings.Trim(name, "/")
		if name == "" {
			return errors.New("container name cannot be empty")
		}
		_, err := apiClient.ContainerRemove(ctx, name, client.ContainerRemoveOptions{
			RemoveVolumes: opts.rmVolumes,
			RemoveLinks:   opts.rmLink,
			Force:         opts.force,
		})
		return err
	})
	var errs []string
	for i, name := range names {
		if err := results[i]; err != nil {
			// With -f a missing container is not a failure, but is said.
			if opts.force && errdefs.IsNotFound(err) {
				fmt.Fprintln(c.Err, err)
				continue
			}
			errs = append(errs, err.Error())
			continue
		}
		fmt.Fprintln(c.Out, name)
	}
	return joinedErrors(errs)
}

type updateOptions struct {
	blkioWeight        uint16
	cpuPeriod          int64
	cpuQuota           int64
	cpuRealtimePeriod  int64
	cpuRealtimeRuntime int64
	cpusetCpus         string
	cpusetMems         string
	cpuShares          int64
	memory             memBytes
	memoryReservation  memBytes
	memorySwap         memSwapBytes
	kernelMemory       memBytes
	restartPolicy      string
	pidsLimit          int64
	cpus               nanoCPUs
}

func newUpdateCommand(c *CLI) *cobra.Command {
	var options updateOptions
	cmd := &cobra.Command{
		Use:   "update [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Update configuration of one or more containers",
		Args:  requiresMinArgs(1),
		RunE: checkedRunE(c, func(cmd *cobra.Command, args []string) error {
			return runUpdate(cmd.Context(), c, cmd.Flags().NFlag(), args, &options)
		}),
		Annotations: map[string]string{
			"aliases": "berth container update, berth update",
		},
		DisableFlagsInUseLine: true,
	}
	flags := cmd.Flags()
	flags.Uint16Var(&options.blkioWeight, "blkio-weight", 0, `Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)`)
	flags.Int64Var(&options.cpuPeriod, "cpu-period", 0, "Limit CPU CFS (Completely Fair Scheduler) period")
	flags.Int64Var(&options.cpuQuota, "cpu-quota", 0, "Limit CPU CFS (Completely Fair Scheduler) quota")
	flags.Int64Var(&options.cpuRealtimePeriod, "cpu-rt-period", 0, "Limit the CPU real-time period in microseconds")
	flags.Int64Var(&options.cpuRealtimeRuntime, "cpu-rt-runtime", 0, "Limit the CPU real-time runtime in microseconds")
	flags.StringVar(&options.cpusetCpus, "cpuset-cpus", "", "CPUs in which to allow execution (0-3, 0,1)")
	flags.StringVar(&options.cpusetMems, "cpuset-mems", "", "MEMs in which to allow execution (0-3, 0,1)")
	flags.Int64VarP(&options.cpuShares, "cpu-shares", "c", 0, "CPU shares (relative weight)")
	flags.VarP(&options.memory, "memory", "m", "Memory limit")
	flags.Var(&options.memoryReservation, "memory-reservation", "Memory soft limit")
	flags.Var(&options.memorySwap, "memory-swap", "Swap limit equal to memory plus swap: -1 to enable unlimited swap")
	// docker 28 still accepts --kernel-memory, hidden; kernels ignore it.
	flags.Var(&options.kernelMemory, "kernel-memory", "Kernel memory limit (deprecated)")
	_ = flags.MarkHidden("kernel-memory")
	flags.StringVar(&options.restartPolicy, "restart", "", "Restart policy to apply when a container exits")
	flags.Int64Var(&options.pidsLimit, "pids-limit", 0, "Tune container pids limit (set -1 for unlimited)")
	flags.Var(&options.cpus, "cpus", "Number of CPUs")
	setFlagVersion(flags, "cpu-rt-period", "1.25")
	setFlagVersion(flags, "cpu-rt-runtime", "1.25")
	setFlagVersion(flags, "pids-limit", "1.40")
	setFlagVersion(flags, "cpus", "1.29")
	return cmd
}

func runUpdate(ctx context.Context, c *CLI, nFlag int, names []string, options *updateOptions) error {
	if nFlag == 0 {
		return errors.New("you must provide one or more flags when using this command")
	}
	var restartPolicy container.RestartPolicy
	if options.restartPolicy != "" {
		var err error
		if restartPolicy, err = parseRestartPolicy(options.restartPolicy); err != nil {
			return err
		}
	}
	// Zero means "leave as is", so only a given limit is sent.
	var pidsLimit *int64
	if options.pidsLimit != 0 {
		pidsLimit = &options.pidsLimit
	}
	updateConfig := client.ContainerUpdateOptions{
		Resources: &container.Resources{
			BlkioWeight:        options.blkioWeight,
			CpusetCpus:         options.cpusetCpus,
			CpusetMems:         options.cpusetMems,
			CPUShares:          options.cpuShares,
			Memory:             options.memory.Value(),
			MemoryReservation:  options.memoryReservation.Value(),
			MemorySwap:         options.memorySwap.Value(),
			CPUPeriod:          options.cpuPeriod,
			CPUQuota:           options.cpuQuota,
			CPURealtimePeriod:  options.cpuRealtimePeriod,
			CPURealtimeRuntime: options.cpuRealtimeRuntime,
			NanoCPUs:           options.cpus.Value(),
			PidsLimit:          pidsLimit,
		},
		RestartPolicy: &restartPolicy,
	}

	apiClient, err := c.Client()
	if err != nil {
		return err
	}
	var warns, errs []string
	for _, name := range names {
		r, err := apiClient.ContainerUpdate(ctx, name, updateConfig)
		if err != nil {
			errs = append(errs, err.Error())
		} else {
			fmt.Fprintln(c.Out, name)
		}
		warns = append(warns, r.Warnings...)
	}
	if len(warns) > 0 {
		fmt.Fprintln(c.Out, strings.Join(warns, "\n"))
	}
	return joinedErrors(errs)
}

func newRenameCommand(c *CLI) *cobra.Command {
	return &cobra.Command{
		Use:   "rename CONTAINER NEW_NAME",
		Short: "Rename a container",
		Args:  exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			oldName := strings.TrimSpace(args[0])
			newName := strings.TrimSpace(args[1])
			if oldName == "" || newName == "" {
				return errors.New("Error: Neither old nor new names may be empty") //nolint:staticcheck // docker's text
			}
			apiClient, err := c.Client()
			if err != nil {
				return err
			}
			if _, err := apiClient.ContainerRename(cmd.Context(), oldName, client.ContainerRenameOptions{NewName: newName}); err != nil {
				fmt.Fprintln(c.Err, err)
				return fmt.Errorf("Error: failed to rename container named %s", oldName) //nolint:staticcheck // docker's text
			}
			return nil
		},
		Annotations: map[string]string{
			"aliases": "berth container rename, berth rename",
		},
		DisableFlagsInUseLine: true,
	}
}
