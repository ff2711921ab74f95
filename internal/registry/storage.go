package registry

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/containerd/errdefs"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/distribution/v3/registry/storage/driver/factory"
	"github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
	"golang.org/x/sys/unix"
)

type storageDriver = storagedriver.StorageDriver

// newDriver is the one way berth builds distribution's filesystem driver,
// for serving and for garbage collection alike.
func newDriver(root string) storageDriver {
	// 100 concurrent filesystem operations is distribution's default.
	return filesystem.New(filesystem.DriverParameters{RootDirectory: root, MaxThreads: 100})
}

// distribution's App looks its storage driver up by name in a global
// registry of factories and builds it from configuration parameters. berth
// registers one factory of its own, explicitly, that hands back the driver
// instance passed in the parameters: the driver is built by newDriver and
// shared with the search handler, and nothing depends on which drivers
// other packages' init functions happened to register.
const (
	driverFactoryName = "berth-filesystem"
	driverParam       = "driver"
)

var registerFactoryOnce sync.Once

func registerDriverFactory() {
	registerFactoryOnce.Do(func() { factory.Register(driverFactoryName, instanceFactory{}) })
}

type instanceFactory struct{}

func (instanceFactory) Create(_ context.Context, parameters map[string]any) (storagedriver.StorageDriver, error) {
	d, ok := parameters[driverParam].(storagedriver.StorageDriver)
	if !ok {
		return nil, errors.New("berth-filesystem: no driver instance in the storage parameters")
	}
	return d, nil
}

// rootLock keeps garbage collection away from a root that a server is
// using: distribution's collector assumes nothing writes while it runs (a
// blob uploaded between its mark and sweep phases would be deleted).
// Servers take a shared lock, the collector an exclusive one; neither
// waits. flock(2) locks belong to the open file, so this works between two
// uses in one process too.
type rootLock struct{ f *os.File }

func lockRoot(root string, exclusive bool) (*rootLock, error) {
	f, err := os.Open(root)
	if err != nil {
		return nil, err
	}
	how := unix.LOCK_SH
	if exclusive {
		how = unix.LOCK_EX
	}
	if err := unix.Flock(int(f.Fd()), how|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			if exclusive {
				return nil, fmt.Errorf("registry root %s is in use by a running registry; stop it before collecting garbage: %w", root, errdefs.ErrConflict)
			}
			return nil, fmt.Errorf("registry root %s: garbage collection in progress: %w", root, errdefs.ErrConflict)
		}
		return nil, fmt.Errorf("locking registry root %s: %w", root, err)
	}
	return &rootLock{f: f}, nil
}

func (l *rootLock) release() {
	if l != nil && l.f != nil {
		_ = l.f.Close() // closing the last descriptor drops the lock
		l.f = nil
	}
}
