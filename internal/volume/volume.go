package volume

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/volume"

	"github.com/berth-dev/berth/internal/atomicfile"
	"github.com/berth-dev/berth/internal/filters"
)

// AnonymousLabel marks volumes created for a container without a name
// (-v /path, --mount without source, the image's VOLUME); prune removes
// only these unless asked for all, and `rm -v` / `--rm` remove them.
const AnonymousLabel = "com.docker.volume.anonymous"

// Driver stores volumes. Lifecycle: ValidateOpts then Create when a
// volume is created; Mount before a container uses it (idempotent per
// volume: the service calls it once until Unmount); Unmount when the
// last container using it is gone or the daemon stops; Remove deletes
// the data. Path is where containers see the data once mounted.
type Driver interface {
	Name() string
	ValidateOpts(opts map[string]string) error
	Create(name string, opts map[string]string) error
	Path(name string) string
	Mount(name string, opts map[string]string) error
	Unmount(name string, opts map[string]string) error
	Remove(name string, opts map[string]string) error
}

// EventPublisher is the daemon's event bus.
type EventPublisher interface {
	Publish(typ events.Type, action events.Action, id string, attrs map[string]string)
}

// Config configures the service.
type Config struct {
	// Root holds one directory per volume with its metadata,
	// <root>/<name>/volume.json; drivers may keep their data beside it
	// (the local driver's <root>/<name>/_data).
	Root    string
	Drivers []Driver // the first one is the default
	Events  EventPublisher
}

// meta is a volume's persisted metadata.
type meta struct {
	Name      string
	Driver    string
	Labels    map[string]string `json:",omitempty"`
	Options   map[string]string `json:",omitempty"`
	CreatedAt time.Time
}

type vol struct {
	meta
	users   map[string]bool // IDs of the containers that reference it
	active  map[string]bool // IDs of the running containers that mount it
	mounted bool            // the driver mounted it (options with a filesystem)

	populating sync.Mutex // serialises Populate
}

func newVol(m meta) *vol {
	return &vol{meta: m, users: map[string]bool{}, active: map[string]bool{}}
}

// Service is the volume store: create, get, list, remove, prune, and
// the containers' references and mounts.
type Service struct {
	root    string
	drivers map[string]Driver
	def     string
	events  EventPublisher

	mu   sync.Mutex
	vols map[string]*vol
}

const metaFile = "volume.json"

// New loads the volumes under cfg.Root.
func New(cfg Config) (*Service, error) {
	if cfg.Root == "" || len(cfg.Drivers) == 0 || cfg.Events == nil {
		return nil, errors.New("volume service: Root, Drivers and Events are required")
	}
	s := &Service{root: cfg.Root, drivers: map[string]Driver{}, def: cfg.Drivers[0].Name(), events: cfg.Events, vols: map[string]*vol{}}
	for _, d := range cfg.Drivers {
		s.drivers[d.Name()] = d
	}
	if err := os.MkdirAll(cfg.Root, 0o701); err != nil {
		return nil, fmt.Errorf("volume service: %w", err)
	}
	entries, err := os.ReadDir(cfg.Root)
	if err != nil {
		return nil, fmt.Errorf("volume service: %w", err)
	}
	for _, e := range entries {
		if !e.IsDir() || !validName.MatchString(e.Name()) {
			continue
		}
		dir := filepath.Join(cfg.Root, e.Name())
		var m meta
		data, err := os.ReadFile(filepath.Join(dir, metaFile))
		switch {
		case err == nil:
			if err := json.Unmarshal(data, &m); err != nil || m.Name != e.Name() {
				slog.Warn("skipping volume with unreadable metadata", "dir", dir, "err", err)
				continue
			}
		case errors.Is(err, os.ErrNotExist):
			// A local volume whose metadata was never written (a crash
			// during create) or a directory laid out by Docker: its data
			// is kept and adopted.
			st, err := os.Stat(filepath.Join(dir, "_data"))
			if err != nil || !st.IsDir() {
				continue
			}
			m = meta{Name: e.Name(), Driver: s.def, CreatedAt: st.ModTime()}
		default:
			slog.Warn("skipping volume", "dir", dir, "err", err)
			continue
		}
		if _, ok := s.drivers[m.Driver]; !ok {
			slog.Warn("volume of an unknown driver", "volume", m.Name, "driver", m.Driver)
		}
		s.vols[m.Name] = newVol(m)
	}
	return s, nil
}

// validName is Docker's rule for local volume names.
var validName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]+$`)

func validateName(name string) error {
	if len(name) == 1 {
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("create %s: volume name is too short, names should be at least two alphanumeric characters", name))
	}
	if !validName.MatchString(name) {
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf(`create %s: %q includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`, name, name))
	}
	return nil
}

// Create creates a volume (POST /volumes/create). An existing volume of
// the same name is returned as it is, as Docker does. An empty name makes
// an anonymous volume.
func (s *Service) Create(ctx context.Context, req volume.CreateRequest) (volume.Volume, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, err := s.create(req)
	if err != nil {
		return volume.Volume{}, err
	}
	return s.apiVolume(v), nil
}

// create must be called with mu held.
func (s *Service) create(req volume.CreateRequest) (*vol, error) {
	name := req.Name
	labels := req.Labels
	if name == "" {
		name = newName()
		labels = map[string]string{}
		for k, v := range req.Labels {
			labels[k] = v
		}
		labels[AnonymousLabel] = ""
	} else if err := validateName(name); err != nil {
		return nil, err
	}
	driverName := req.Driver
	if driverName == "" {
		driverName = s.def
	}
	if v, ok := s.vols[name]; ok {
		if req.Driver != "" && req.Driver != v.Driver {
			return nil, errdefs.ErrConflict.WithMessage(fmt.Sprintf("create %s: a volume with the name %s already exists with driver %q", name, name, v.Driver))
		}
		return v, nil
	}
	d, ok := s.drivers[driverName]
	if !ok {
		return nil, errdefs.ErrNotFound.WithMessage(fmt.Sprintf("create %s: error looking up volume plugin %s: plugin %q not found", name, driverName, driverName))
	}
	if err := d.ValidateOpts(req.DriverOpts); err != nil {
		return nil, wrapClass(err, "create "+name)
	}
	m := meta{Name: name, Driver: driverName, Labels: labels, Options: req.DriverOpts, CreatedAt: time.Now().UTC().Truncate(time.Second)}
	if len(m.Labels) == 0 {
		m.Labels = nil
	}
	if len(m.Options) == 0 {
		m.Options = nil
	}
	if err := d.Create(name, m.Options); err != nil {
		return nil, wrapClass(err, "create "+name)
	}
	data, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	if err := atomicfile.WriteFile(filepath.Join(s.root, name, metaFile), data, 0o600, true); err != nil {
		_ = d.Remove(name, m.Options)
		return nil, fmt.Errorf("create %s: %w", name, err)
	}
	v := newVol(m)
	s.vols[name] = v
	s.events.Publish(events.VolumeEventType, events.ActionCreate, name, map[string]string{"driver": driverName})
	return v, nil
}

// wrapClass prefixes err's message and keeps its class.
func wrapClass(err error, prefix string) error {
	msg := prefix + ": " + err.Error()
	switch {
	case errdefs.IsInvalidArgument(err):
		return errdefs.ErrInvalidArgument.WithMessage(msg)
	case errdefs.IsNotFound(err):
		return errdefs.ErrNotFound.WithMessage(msg)
	case errdefs.IsConflict(err):
		return errdefs.ErrConflict.WithMessage(msg)
	}
	return errors.New(msg)
}

// newName is a random 64-hex anonymous volume name.
func newName() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

func notFound(name string) error {
	return errdefs.ErrNotFound.WithMessage(fmt.Sprintf("get %s: no such volume", name))
}

// Get describes one volume (GET /volumes/{name}).
func (s *Service) Get(ctx context.Context, name string) (volume.Volume, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.vols[name]
	if !ok {
		return volume.Volume{}, notFound(name)
	}
	return s.apiVolume(v), nil
}

// apiVolume is the wire form; mu is held.
func (s *Service) apiVolume(v *vol) volume.Volume {
	out := volume.Volume{
		CreatedAt: v.CreatedAt.Format(time.RFC3339),
		Driver:    v.Driver,
		Labels:    v.Labels,
		Name:      v.Name,
		Options:   v.Options,
		Scope:     "local",
	}
	if d, ok := s.drivers[v.Driver]; ok {
		out.Mountpoint = d.Path(v.Name)
	}
	return out
}

// List lists volumes (GET /volumes) that pass the filters dangling,
// driver, label, label! and name.
func (s *Service) List(ctx context.Context, f filters.Args) ([]volume.Volume, error) {
	if err := f.Validate("dangling", "driver", "label", "label!", "name"); err != nil {
		return nil, err
	}
	var dangling *bool
	for _, v := range f.Get("dangling") {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid filter 'dangling=[%s]'", v))
		}
		dangling = &b
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []volume.Volume{}
	for _, v := range s.sorted() {
		if dangling != nil && *dangling != (len(v.users) == 0) {
			continue
		}
		if !f.Match("name", v.Name) || !f.ExactMatch("driver", v.Driver) || !f.MatchLabels("label", v.Labels) {
			continue
		}
		if f.Has("label!") && f.MatchLabels("label!", v.Labels) {
			continue
		}
		out = append(out, s.apiVolume(v))
	}
	return out, nil
}

// sorted lists the volumes by name; mu is held.
func (s *Service) sorted() []*vol {
	out := make([]*vol, 0, len(s.vols))
	for _, v := range s.vols {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Remove deletes a volume (DELETE /volumes/{name}). A volume that a
// container references is refused, with force too; force only makes a
// missing volume no error.
func (s *Service) Remove(ctx context.Context, name string, force bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.vols[name]
	if !ok {
		if force {
			return nil
		}
		return notFound(name)
	}
	if len(v.users) > 0 {
		ids := make([]string, 0, len(v.users))
		for id := range v.users {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		return errdefs.ErrConflict.WithMessage(fmt.Sprintf("remove %s: volume is in use - [%s]", name, strings.Join(ids, ", ")))
	}
	return s.remove(v)
}

// remove deletes an unused volume; mu is held. The metadata goes first:
// a crash midway leaves data that New adopts again, never metadata
// without data.
func (s *Service) remove(v *vol) error {
	d, ok := s.drivers[v.Driver]
	if !ok {
		return fmt.Errorf("remove %s: volume driver %q is not available", v.Name, v.Driver)
	}
	if v.mounted {
		if err := d.Unmount(v.Name, v.Options); err != nil {
			return fmt.Errorf("remove %s: %w", v.Name, err)
		}
		v.mounted = false
	}
	if err := os.Remove(filepath.Join(s.root, v.Name, metaFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", v.Name, err)
	}
	if err := d.Remove(v.Name, v.Options); err != nil {
		return fmt.Errorf("remove %s: %w", v.Name, err)
	}
	delete(s.vols, v.Name)
	s.events.Publish(events.VolumeEventType, events.ActionDestroy, v.Name, map[string]string{"driver": v.Driver})
	return nil
}

// Prune removes the volumes no container references (POST
// /volumes/prune) that pass the filters label and label!; with
// anonymousOnly, only anonymous ones (Docker's default since API 1.42).
func (s *Service) Prune(ctx context.Context, f filters.Args, anonymousOnly bool) (volume.PruneReport, error) {
	report := volume.PruneReport{VolumesDeleted: []string{}}
	if err := f.Validate("label", "label!", "all"); err != nil {
		return report, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range s.sorted() {
		if len(v.users) > 0 {
			continue
		}
		if _, anon := v.Labels[AnonymousLabel]; anonymousOnly && !anon {
			continue
		}
		if !f.MatchLabels("label", v.Labels) || (f.Has("label!") && f.MatchLabels("label!", v.Labels)) {
			continue
		}
		size := s.size(v)
		if err := s.remove(v); err != nil {
			slog.Warn("prune: removing volume", "volume", v.Name, "err", err)
			continue
		}
		report.VolumesDeleted = append(report.VolumesDeleted, v.Name)
		report.SpaceReclaimed += uint64(size)
	}
	s.events.Publish(events.VolumeEventType, events.ActionPrune, "", map[string]string{
		"reclaimed": strconv.FormatUint(report.SpaceReclaimed, 10),
	})
	return report, nil
}

// size is the disk usage of a volume's data; mu is held.
func (s *Service) size(v *vol) int64 { return dirSize(s.path(v)) }

// dirSize adds up the sizes of the files under dir, each inode once, as
// Docker counts a volume's size.
func dirSize(dir string) int64 {
	if dir == "" {
		return 0
	}
	var total int64
	seen := map[uint64]bool{}
	_ = filepath.WalkDir(dir, func(_ string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return nil
		}
		info, err := e.Info()
		if err != nil {
			return nil
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
			if seen[st.Ino] {
				return nil
			}
			seen[st.Ino] = true
		}
		total += info.Size()
		return nil
	})
	return total
}

// DiskUsage lists every volume with its size and reference count
// (system df). Sizes are measured without holding the store, so that
// container starts do not wait on a walk of large volumes.
func (s *Service) DiskUsage(ctx context.Context) ([]volume.Volume, error) {
	s.mu.Lock()
	out := []volume.Volume{}
	var paths []string
	for _, v := range s.sorted() {
		av := s.apiVolume(v)
		av.UsageData = &volume.UsageData{RefCount: int64(len(v.users))}
		out = append(out, av)
		paths = append(paths, s.path(v))
	}
	s.mu.Unlock()
	for i := range out {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		out[i].UsageData.Size = dirSize(paths[i])
	}
	return out, nil
}
