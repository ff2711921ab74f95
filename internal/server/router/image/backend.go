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

// Backend is what the image routes need from the image service.
type Backend interface {
	Importer
	Exporter
	Lister
	Remover
	Distributor
	Tag(ctx context.Context, refOrID, repo, tag string) error
}

// Distributor moves images between the store and registries.
type Distributor interface {
	Pull(ctx context.Context, ref reference.Named, opts image.PullOptions, p image.Progress) error
	Push(ctx context.Context, ref reference.Named, opts image.PushOptions, p image.Progress) error
	Login(ctx context.Context, auth *registry.AuthConfig) (identityToken string, err error)
	Search(ctx context.Context, term string, limit int, f filters.Args, auth *registry.AuthConfig) ([]registry.SearchResult, error)
	DistributionInspect(ctx context.Context, ref reference.Named, auth *registry.AuthConfig) (*registry.DistributionInspect, error)
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
