package image

import (
	"time"

	"github.com/berth-dev/berth/internal/image/distribution"
)

// DistributorConfig configures the registry side of the image service.
type DistributorConfig struct {
	// MaxConcurrentDownloads bounds the layer downloads of all pulls
	// together (daemon.json max-concurrent-downloads); 0 means 3,
	// Docker's default.
	MaxConcurrentDownloads int
	// MaxConcurrentUploads bounds the layer uploads of all pushes
	// (max-concurrent-uploads); 0 means 5, Docker's default.
	MaxConcurrentUploads int
	// InsecureRegistries are registries ("host:port" or CIDR) reached over
	// plain HTTP or unverified HTTPS; loopback ones always are.
	InsecureRegistries []string
	// Mirrors are registry mirrors tried before Docker Hub for its images.
	Mirrors []string
	// UserAgent is sent to registries.
	UserAgent string
	// IdleTimeout ends (and resumes) a blob download that receives
	// nothing for this long; 0 means one minute.
	IdleTimeout time.Duration
	// CertsDir holds per-registry CAs and client certificates, as
	// Docker's /etc/docker/certs.d; "" reads none.
	CertsDir string
}

const (
	defaultMaxDownloads = 3
	defaultMaxUploads   = 5
)

// Distributor moves images between the image store and registries: pull
// (POST /images/create?fromImage), push, login (POST /auth), search and
// distribution inspect. The registry protocol is package distribution's;
// the Distributor streams layers into the store's layer store, records
// the images through imageStore, and remembers which registry
// repositories hold which layer blobs (layerSources) for "Layer already
// exists", cross-repository mounts and pulls of layers already unpacked.
type Distributor struct {
	registries *distribution.Service
	layers     *layerStore
	images     imageStore
	sources    layerSources

	maxDownloads int
	maxUploads   int
	// downloads and uploads hold a token per layer blob in transfer: the
	// limits are the daemon's, over all pulls and pushes, as in Docker.
	downloads, uploads chan struct{}
}

// NewDistributor connects the image store to registries.
func NewDistributor(store *Service, cfg DistributorConfig) (*Distributor, error) {
	registries, err := distribution.New(distribution.Config{
		InsecureRegistries: cfg.InsecureRegistries,
		Mirrors:            cfg.Mirrors,
		UserAgent:          cfg.UserAgent,
		IdleTimeout:        cfg.IdleTimeout,
		CertsDir:           cfg.CertsDir,
	})
	if err != nil {
		return nil, err
	}
	d := &Distributor{
		registries:   registries,
		layers:       store.layers,
		images:       store,
		sources:      layerSources{db: store.db},
		maxDownloads: cfg.MaxConcurrentDownloads,
		maxUploads:   cfg.MaxConcurrentUploads,
	}
	if d.maxDownloads <= 0 {
		d.maxDownloads = defaultMaxDownloads
	}
	if d.maxUploads <= 0 {
		d.maxUploads = defaultMaxUploads
	}
	d.downloads = make(chan struct{}, d.maxDownloads)
	d.uploads = make(chan struct{}, d.maxUploads)
	return d, nil
}
