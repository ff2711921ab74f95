package cli

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/moby/moby/client"
	"golang.org/x/sys/unix"
)

// resizeTTYTo sets the container's (or exec's) tty size.
func resizeTTYTo(ctx context.Context, apiClient *client.Client, id string, height, width uint, isExec bool) error {
	if height == 0 && width == 0 {
		return nil
	}
	var err error
	if isExec {
		_, err = apiClient.ExecResize(ctx, id, client.ExecResizeOptions{Height: height, Width: width})
	} else {
		_, err = apiClient.ContainerResize(ctx, id, client.ContainerResizeOptions{Height: height, Width: width})
	}
	return err
}

func resizeTTY(ctx context.Context, apiClient *client.Client, s *cliStreams, id string, isExec bool) error {
	h, w := s.out.ttySize()
	return resizeTTYTo(ctx, apiClient, id, h, w, isExec)
}

// initTTYSize sends the first size. A process that has just started may
// not have its tty yet, so failures are retried a few times, as docker does,
// before giving up with docker's message.
func initTTYSize(ctx context.Context, apiClient *client.Client, s *cliStreams, id string, isExec bool) {
	if err := resizeTTY(ctx, apiClient, s, id, isExec); err == nil {
		return
	}
	go func() {
		var err error
		for retry := range 10 {
			select {
			case <-time.After(time.Duration(retry+1) * 10 * time.Millisecond):
			case <-ctx.Done():
				return
			}
			if err = resizeTTY(ctx, apiClient, s, id, isExec); err == nil {
				return
			}
		}
		fmt.Fprintln(s.err, "failed to resize tty, using default size")
	}()
}

// monitorTTYSize sets the initial size and forwards SIGWINCH as resizes
// until ctx ends.
func monitorTTYSize(ctx context.Context, apiClient *client.Client, s *cliStreams, id string, isExec bool) {
	initTTYSize(ctx, apiClient, s, id, isExec)
	sigchan := make(chan os.Signal, 1)
	signal.Notify(sigchan, unix.SIGWINCH)
	go func() {
		defer signal.Stop(sigchan)
		for {
			select {
			case <-sigchan:
				_ = resizeTTY(ctx, apiClient, s, id, isExec)
			case <-ctx.Done():
				return
			}
		}
	}()
}
