package imagerouter

import (
	"context"
	"io"

	"github.com/berth-dev/berth/internal/filters"
	"github.com/berth-dev/berth/internal/image"
	imagetypes "github.com/moby/moby/api/types/image"
)

// Backend is what the image routes need from the image service.
type Backend interface {
	Importer
	Exporter
	Lister
	Remover
	Tag(ctx context.Context, refOrID, repo, tag string) error
}

// Importer creates images from archives.
type Importer interface {
	Import(ctx context.Context, src io.Reader, opts image.ImportOptions) (string, error)
	Load(ctx context.Context, r io.Reader, quiet bool, p image.Progress) error
}

// Exporter writes images out.
type Exporter interface {
	Save(ctx context.Context, names []string, w io.Writer) error
}

// Lister answers the read-only endpoints.
type Lister interface {
	List(ctx context.Context, opts image.ListOptions) ([]imagetypes.Summary, error)
	Inspect(ctx context.Context, refOrID string) (*image.InspectResult, error)
	History(ctx context.Context, refOrID string) ([]imagetypes.HistoryResponseItem, error)
}

// Remover deletes images.
type Remover interface {
	Remove(ctx context.Context, refOrID string, force, prune bool) ([]imagetypes.DeleteResponse, error)
	Prune(ctx context.Context, f filters.Args) (*imagetypes.PruneReport, error)
}
