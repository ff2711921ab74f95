// Package container serves the container and exec endpoints of the
// Engine API: create, start, stop, restart, kill, wait, pause, unpause,
// rename, update, resize, attach, remove, list, inspect, logs, top, stats,
// prune, exec create/start/resize/inspect, and the filesystem endpoints:
// changes, export, commit and archive (docker cp). Version quirks of the wire
// format live here, not in the container service.
package container

import (
	"context"
	"io"

	containertypes "github.com/moby/moby/api/types/container"

	"github.com/berth-dev/berth/internal/container"
	"github.com/berth-dev/berth/internal/filters"
)

// stateBackend changes containers' state.
type stateBackend interface {
	Create(ctx context.Context, opts container.CreateOptions) (containertypes.CreateResponse, error)
	Start(ctx context.Context, ref string) error
	Stop(ctx context.Context, ref string, opts container.StopOptions) error
	Restart(ctx context.Context, ref string, opts container.StopOptions) error
	Kill(ctx context.Context, ref, signal string) error
	Pause(ctx context.Context, ref string) error
	Unpause(ctx context.Context, ref string) error
	Remove(ctx context.Context, ref string, opts container.RemoveOptions) error
	Rename(ctx context.Context, ref, newName string) error
	Update(ctx context.Context, ref string, upd containertypes.UpdateConfig) (containertypes.UpdateResponse, error)
	Resize(ctx context.Context, ref string, height, width uint32) error
	Wait(ctx context.Context, ref string, cond containertypes.WaitCondition) (<-chan container.WaitResult, error)
	Prune(ctx context.Context, f filters.Args) (containertypes.PruneReport, error)
}

// monitorBackend describes containers.
type monitorBackend interface {
	List(ctx context.Context, opts container.ListOptions) ([]containertypes.Summary, error)
	Inspect(ctx context.Context, ref string, size bool) (*containertypes.InspectResponse, error)
	Logs(ctx context.Context, ref string, opts container.LogsOptions) (tty bool, stream func(w io.Writer) error, err error)
	Top(ctx context.Context, ref, psArgs string) (*containertypes.TopResponse, error)
	Stats(ctx context.Context, ref string, opts container.StatsOptions, send func(*containertypes.StatsResponse) error) error
}

// attachBackend connects clients to containers' streams.
type attachBackend interface {
	Attach(ctx context.Context, ref string, opts container.AttachOptions) error
}

// Backend is what the container routes need; *container.Service is one.
type Backend interface {
	stateBackend
	monitorBackend
	attachBackend
	filesBackend
}

// ExecBackend runs processes in running containers (the /exec routes and
// POST /containers/{name}/exec); *container.Execs is one.
type ExecBackend interface {
	Create(ctx context.Context, ref string, req containertypes.ExecCreateRequest) (string, error)
	Check(id string) error
	Start(ctx context.Context, id string, opts container.ExecStartOptions) error
	Inspect(ctx context.Context, id string) (*containertypes.ExecInspectResponse, error)
	Resize(ctx context.Context, id string, height, width uint32) error
}

var (
	_ Backend     = (*container.Service)(nil)
	_ ExecBackend = (*container.Execs)(nil)
)
