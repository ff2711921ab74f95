package imagerouter

import (
	"context"
	"io"

	"github.com/berth-dev/berth/internal/filters"
	"github.com/berth-dev/berth/internal/image"
	"github.com/distribution/reference"
	imagetypes "github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/registry"
)

// The routes' backends, one per capability: the image store answers
// what images there are and names and removes them (image.Service), the
// archives move images in and out as tar (image.Archiver), and the
// registries as pulls and pushes (image.Distributor).

// ImageBackend is the image store.
type ImageBackend interface {
	Lister
	Remover
	Tag(ctx context.Context, refOrID, repo, tag string) error
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

// ArchiveBackend moves images between the store and tar archives.
type ArchiveBackend interface {
	Importer
	Exporter
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

// DistributionBackend moves images between the store and registries.
type DistributionBackend interface {
	Pull(ctx context.Context, ref reference.Named, opts image.PullOptions, p image.Progress) error
	Push(ctx context.Context, ref reference.Named, opts image.PushOptions, p image.Progress) error
	Login(ctx context.Context, auth *registry.AuthConfig) (identityToken string, err error)
	Search(ctx context.Context, term string, limit int, f filters.Args, auth *registry.AuthConfig) ([]registry.SearchResult, error)
	DistributionInspect(ctx context.Context, ref reference.Named, auth *registry.AuthConfig) (*registry.DistributionInspect, error)
}

var (
	_ ImageBackend        = (*image.Service)(nil)
	_ ArchiveBackend      = (*image.Archiver)(nil)
	_ DistributionBackend = (*image.Distributor)(nil)
)
