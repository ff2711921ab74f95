package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/cli/formatter"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

// statsRedraw is how often the streaming table is drawn again; the
// daemon sends a sample a second.
const statsRedraw = 500 * time.Millisecond

type statsOptions struct {
	all      bool
	noStream bool
	noTrunc  bool
	format   string
}

func newStatsCommand(c *CLI) *cobra.Command {
	var opts statsOptions
	cmd := &cobra.Command{
		Use:   "stats [OPTIONS] [CONTAINER...]",
		Short: "Display a live stream of container(s) resource usage statistics",
		Args:  requiresMinArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runStats(cmd.Context(), c, &opts, args)
		},
		Annotations: map[string]string{"aliases": "berth container stats, berth stats"},
	}
	flags := cmd.Flags()
	flags.BoolVarP(&opts.all, "all", "a", false, "Show all containers (default shows just running)")
	flags.BoolVar(&opts.noStream, "no-stream", false, "Disable streaming stats and only pull the first result")
	flags.BoolVar(&opts.noTrunc, "no-trunc", false, "Do not truncate output")
	flags.StringVar(&opts.format, "format", "", formatHelp)
	return cmd
}

// runStats follows the named containers, or with no names every running
// one (every one with -a) as containers come and go, and draws their
// usage: once with --no-stream, else again every statsRedraw.
func runStats(ctx context.Context, c *CLI, opts *statsOptions, names []string) error {
	cl, err := c.Client()
	if err != nil {
		return err
	}
	list := &usageList{}
	follow := func(key string, first func()) {
		rowCtx, stop := context.WithCancel(ctx)
		if u := list.add(key, stop); u != nil {
			go u.follow(rowCtx, cl, !opts.noStream, first)
			return
		}
		stop()
		first()
	}

	followAll := len(names) == 0
	var eventErr <-chan error
	if followAll {
		// Subscribe before listing, so that a container starting in
		// between is not missed.
		eventErr = followContainerEvents(ctx, cl, opts.all, func(id string) { follow(id, func() {}) }, list.remove)
		res, err := cl.ContainerList(ctx, client.ContainerListOptions{All: opts.all})
		if err != nil {
			return err
		}
		names = make([]string, 0, len(res.Items))
		for _, ctr := range res.Items {
			names = append(names, formatter.TruncateID(ctr.ID))
		}
	}
	// Draw once every container has its first sample (or gave up).
	waitFirst := make(chan struct{}, len(names))
	for _, name := range names {
		follow(name, func() { waitFirst <- struct{}{} })
	}
	for range names {
		<-waitFirst
	}
	if !followAll {
		if err := list.errors(); err != nil {
			return err
		}
	}

	format := opts.format
	if format == "" {
		format = c.ConfigFile().StatsFormat
	}
	if format == "" {
		format = formatter.TableFormatKey
	}
	draw := func() (int, error) {
		entries := list.entries()
		var table bytes.Buffer
		ctx := formatter.Context{Output: &table, Format: formatter.NewStatsFormat(format), Trunc: !opts.noTrunc}
		if err := formatter.StatsWrite(ctx, entries); err != nil {
			return 0, err
		}
		out := table.Bytes()
		if !opts.noStream {
			out = streamFrame(out)
		}
		_, err := c.Out.Write(out)
		return len(entries), err
	}

	if opts.noStream {
		_, err := draw()
		return err
	}
	ticker := time.NewTicker(statsRedraw)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-eventErr:
			// The daemon went away (a restart): end quietly.
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil
			}
			return err
		case <-ticker.C:
		}
		n, err := draw()
		if err != nil {
			return err
		}
		if n == 0 && !followAll {
			return nil
		}
	}
}

// streamFrame redraws the screen from its top left corner. It is docker
// 28's frame byte for byte: the table, then the cursor home again and the
// table once more with each line (and one empty line) followed by an
// erase to its end, then an erase of what is below, so that shorter lines
// and vanished rows leave nothing behind.
func streamFrame(table []byte) []byte {
	var b bytes.Buffer
	b.WriteString("\033[H")
	b.Write(table)
	for _, line := range strings.Split(b.String(), "\n") {
		fmt.Fprintln(&b, line, "\033[K")
	}
	b.WriteString("\033[J")
	return b.Bytes()
}

// followContainerEvents keeps the table in step with the daemon: a
// container that starts (with -a also one that is created) is added, one
// that dies is dropped unless -a shows stopped ones too. The channel
// reports the end of the event stream.
func followContainerEvents(ctx context.Context, cl *client.Client, all bool, add, remove func(id string)) <-chan error {
	res := cl.Events(ctx, client.EventsListOptions{
		Filters: make(client.Filters).Add("type", string(events.ContainerEventType)),
	})
	errc := make(chan error, 1)
	go func() {
		for {
			select {
			case ev := <-res.Messages:
				id := formatter.TruncateID(ev.Actor.ID)
				if id == "" {
					continue
				}
				switch {
				case ev.Action == events.ActionStart, all && ev.Action == events.ActionCreate:
					add(id)
				case !all && ev.Action == events.ActionDie:
					remove(id)
				}
			case err := <-res.Err:
				errc <- err
				return
			}
		}
	}()
	return errc
}
