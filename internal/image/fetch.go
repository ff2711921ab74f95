package image

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/berth-dev/berth/internal/image/distribution"
	"github.com/berth-dev/berth/internal/layer"
	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"
)

// maxTransferAttempts is how often a layer download that makes no
// progress, or a layer upload, is tried, as in Docker.
const maxTransferAttempts = 5

// fetchImage fetches the config and the missing layers of an image
// manifest and records the image (without references). It reports
// whether the image is new here.
func (d *Distributor) fetchImage(ctx context.Context, repo *distribution.Repository, ref reference.Named, m *ocispec.Manifest, p Progress) (digest.Digest, bool, error) {
	id := m.Config.Digest
	if _, err := d.images.lookup(id.String()); err == nil {
		// Docker needs nothing more when it has the image.
		return id, false, nil
	}
	raw, err := repo.SmallBlob(ctx, m.Config)
	if err != nil {
		return "", false, distribution.Describe(err)
	}
	var probe ocispec.Platform
	if err := json.Unmarshal(raw, &probe); err != nil {
		return "", false, invalidf("invalid image config %s: %v", id, err)
	}
	if probe.OS != "" && probe.OS != "linux" {
		return "", false, invalidf("image operating system %q cannot be used on this platform: operating system is not supported", probe.OS)
	}
	cfg, err := parseConfig(raw)
	if err != nil {
		return "", false, err
	}
	if len(cfg.RootFS.DiffIDs) != len(m.Layers) {
		return "", false, errRootFSMismatch
	}
	records, release, err := d.fetchLayers(ctx, repo, ref, m.Layers, cfg.RootFS.DiffIDs, p)
	if err != nil {
		return "", false, err
	}
	defer release()
	if err := d.layers.sync(); err != nil {
		return "", false, err
	}
	if _, err := d.images.addImage(raw, records, "", nil, false); err != nil {
		return "", false, err
	}
	return id, true, nil
}

// pullLayer is one layer of a pull on its way into the store.
type pullLayer struct {
	desc        ocispec.Descriptor // from the manifest
	diffID      digest.Digest      // from the config
	chain       digest.Digest
	id          string // what progress calls it: the blob digest, short
	parentChain string // "" for the bottom layer
	parent      *pullLayer

	rec layerRecord // the result

	blob    *spool
	rd      *spoolReader  // extraction's reader of blob; closed by fetchLayers
	started chan struct{} // blob and rd are set
	dlDone  chan struct{}
	dlErr   error

	exDone    chan struct{}
	exErr     error
	snap      string // extracted snapshot, uncommitted
	onParent  bool   // snap was prepared on parentChain (else on nothing)
	gotDiffID digest.Digest
	mediaType string

	committed chan struct{}
}

// fetchLayers brings the layers of an image into the store: those
// already unpacked are reused ("Already exists"), the others downloaded
// (at most maxDownloads at a time in the daemon, in order) into the
// content store while each is extracted from the bytes already received, into a
// snapshot of its own when its parent is still on its way; snapshots are
// committed bottom up once their blob verified. Everything created is
// protected from garbage collection until release, which the caller calls
// once the image is recorded. On error nothing new is left referenced.
func (d *Distributor) fetchLayers(ctx context.Context, repo *distribution.Repository, ref reference.Named, descs []ocispec.Descriptor, diffIDs []digest.Digest, p Progress) (_ []layerRecord, _ func(), err error) {
	chain := chainIDs(diffIDs)
	var releases []func()
	release := func() {
		for _, r := range releases {
			r()
		}
	}
	defer func() {
		if err != nil {
			release()
		}
	}()
	names := make([]string, 0, 2*len(descs))
	for i, desc := range descs {
		names = append(names, chain[i].String(), desc.Digest.String())
	}
	r, err := d.layers.protect(names...)
	if err != nil {
		return nil, nil, err
	}
	releases = append(releases, r)

	records := make([]layerRecord, len(descs))
	var missing []*pullLayer
	var prev *pullLayer
	for i, desc := range descs {
		if err := desc.Digest.Validate(); err != nil {
			return nil, nil, invalidf("invalid layer digest %q", desc.Digest)
		}
		l := &pullLayer{desc: desc, diffID: diffIDs[i], chain: chain[i], id: shortID(desc.Digest.String())}
		if i > 0 {
			l.parentChain = chain[i-1].String()
		}
		if len(missing) == 0 && d.layers.has(ctx, l.chain) {
			if rec, ok := d.knownLayer(l.diffID); ok {
				r, err := d.layers.protect(rec.Blob.Digest.String())
				if err != nil {
					return nil, nil, err
				}
				releases = append(releases, r)
				if _, err := d.layers.blobs.Info(rec.Blob.Digest); err == nil {
					records[i] = rec
					p.Update(l.id, "Already exists")
					continue
				}
			}
		}
		l.parent = prev
		l.started, l.dlDone, l.exDone, l.committed = make(chan struct{}), make(chan struct{}), make(chan struct{}), make(chan struct{})
		missing = append(missing, l)
		prev = l
	}
	for _, l := range missing {
		p.Update(l.id, "Pulling fs layer")
	}
	for k, l := range missing {
		if k >= d.maxDownloads {
			p.Update(l.id, "Waiting")
		}
	}
	if len(missing) == 0 {
		return records, release, nil
	}

	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg      sync.WaitGroup
		exSlots = make(chan struct{}, max(2, runtime.GOMAXPROCS(0)))
		keysMu  sync.Mutex
	)
	protectKey := func(key string) error {
		r, err := d.layers.protect(key)
		if err != nil {
			return err
		}
		keysMu.Lock()
		releases = append(releases, r)
		keysMu.Unlock()
		return nil
	}
	var turn chan struct{} // closed once the layer before took its slot
	for _, l := range missing {
		mine := make(chan struct{})
		wg.Add(2)
		go func(prev <-chan struct{}) {
			defer wg.Done()
			d.download(wctx, repo, l, prev, mine, p)
		}(turn)
		go func() {
			defer wg.Done()
			d.extract(wctx, l, exSlots, protectKey, p)
		}()
		turn = mine
	}
	defer func() {
		if err != nil {
			cancel()
		}
		wg.Wait()
		for _, l := range missing {
			if l.rd != nil {
				l.rd.Close()
			}
			if err != nil && l.snap != "" {
				_ = d.layers.sn.Remove(context.WithoutCancel(ctx), l.snap)
			}
		}
	}()

	sources := map[digest.Digest][]distSource{}
	for i, l := range descs {
		if !isForeign(l.MediaType) {
			sources[diffIDs[i]] = append(sources[diffIDs[i]], distSource{Blob: l, Registry: reference.Domain(ref), Repository: reference.Path(ref)})
		}
	}
	first := len(descs) - len(missing)
	for k, l := range missing {
		if err := d.finishLayer(ctx, l, protectKey, p); err != nil {
			return nil, nil, err
		}
		records[first+k] = l.rec
		// Recorded now, so that a pull retried after a later failure
		// finds this layer done.
		if err := d.sources.add(map[digest.Digest][]distSource{l.diffID: sources[l.diffID]}); err != nil {
			return nil, nil, err
		}
	}
	wg.Wait()
	if err := d.sources.add(sources); err != nil {
		return nil, nil, err
	}
	return records, release, nil
}

// download fetches a layer blob into the content store, in its turn and
// with one of the daemon's download slots, resuming where a broken
// connection left it, and verifies it.
func (d *Distributor) download(ctx context.Context, repo *distribution.Repository, l *pullLayer, prev <-chan struct{}, mine chan struct{}, p Progress) {
	defer close(l.dlDone)
	took := false
	defer func() {
		if !took {
			close(mine)
		}
	}()
	if prev != nil {
		select {
		case <-prev:
		case <-ctx.Done():
			l.dlErr = ctx.Err()
			return
		}
	}
	select {
	case d.downloads <- struct{}{}:
	case <-ctx.Done():
		l.dlErr = ctx.Err()
		return
	}
	took = true
	close(mine)
	defer func() { <-d.downloads }()

	w, err := d.layers.blobs.Writer()
	if err != nil {
		l.dlErr = err
		return
	}
	sp := newSpool(w)
	// The reader is opened now, before the blob can be committed
	// (renamed) or discarded.
	rd, err := sp.reader(ctx)
	if err != nil {
		w.Close()
		l.dlErr = err
		return
	}
	l.blob, l.rd = sp, rd
	close(l.started)
	err = d.fetchBlob(ctx, repo, l, sp, p)
	if err == nil {
		p.Update(l.id, "Verifying Checksum")
		if got := w.Digest(); got != l.desc.Digest || (l.desc.Size > 0 && w.Size() != l.desc.Size) {
			err = verificationFailed(l.desc.Digest)
		} else {
			err = w.Commit(l.desc.Digest)
		}
	}
	if err != nil {
		w.Close()
		sp.finish(err)
		l.dlErr = err
		return
	}
	sp.finish(nil)
	p.Update(l.id, "Download complete")
}

// fetchBlob copies the blob into sp, retrying as Docker does: five times,
// after 5, 10, … seconds, counting down. A retry after an attempt that
// got somewhere resumes at once from where it stopped (a Range request).
func (d *Distributor) fetchBlob(ctx context.Context, repo *distribution.Repository, l *pullLayer, sp *spool, p Progress) error {
	b := newBar(p, l.id, "Downloading", l.desc.Size)
	retries := 0
	for {
		from := sp.Size()
		err := d.fetchBlobOnce(ctx, repo, l, sp, from, b)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !distribution.Temporary(err) {
			return distribution.Describe(err)
		}
		if sp.Size() > from {
			continue
		}
		retries++
		if retries >= maxTransferAttempts {
			return distribution.Describe(err)
		}
		if err := retryCountdown(ctx, p, l.id, retries*5); err != nil {
			return err
		}
	}
}

// retryCountdown waits seconds before a transfer is tried again, saying
// so each second as Docker does ("Retrying in 5 seconds").
func retryCountdown(ctx context.Context, p Progress, id string, seconds int) error {
	for delay := seconds; delay > 0; delay-- {
		suffix := "s"
		if delay == 1 {
			suffix = ""
		}
		p.Update(id, fmt.Sprintf("Retrying in %d second%s", delay, suffix))
		select {
		case <-time.After(time.Second):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (d *Distributor) fetchBlobOnce(ctx context.Context, repo *distribution.Repository, l *pullLayer, sp *spool, from int64, b *bar) error {
	rc, _, err := repo.OpenBlob(ctx, l.desc.Digest, from)
	if err != nil {
		return err // described by fetchBlob, once it knows whether to retry
	}
	defer rc.Close()
	var src io.Reader = rc
	if l.desc.Size > 0 {
		// One byte more than announced is enough to know the blob is
		// not what the manifest says.
		src = io.LimitReader(rc, l.desc.Size-from+1)
	}
	buf := make([]byte, 256<<10)
	for {
		n, rerr := src.Read(buf)
		if n > 0 {
			if _, err := sp.Write(buf[:n]); err != nil {
				return distribution.WithClass(errdefs.ErrInternal, err)
			}
			b.report(sp.Size(), false)
		}
		if errors.Is(rerr, io.EOF) {
			b.report(sp.Size(), true)
			if l.desc.Size > 0 && sp.Size() < l.desc.Size {
				// The registry ended the blob early without an
				// error: what it has is not the blob.
				return verificationFailed(l.desc.Digest)
			}
			return nil
		}
		if rerr != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return distribution.WithClass(errdefs.ErrUnavailable, rerr)
		}
	}
}

// extract unpacks the layer from its spool as the bytes arrive: on its
// parent when that is committed already, otherwise into a snapshot of its
// own, moved onto the parent later (see finishLayer), so that layers
// unpack in parallel.
func (d *Distributor) extract(ctx context.Context, l *pullLayer, slots chan struct{}, protectKey func(string) error, p Progress) {
	defer close(l.exDone)
	select {
	case <-l.started:
	case <-l.dlDone:
		if l.blob == nil {
			l.exErr = l.dlErr
			return
		}
	case <-ctx.Done():
		l.exErr = ctx.Err()
		return
	}
	r := l.rd
	select {
	case slots <- struct{}{}:
	case <-ctx.Done():
		l.exErr = ctx.Err()
		return
	}
	defer func() { <-slots }()

	parent, onParent := l.parentChain, true
	if l.parent != nil {
		select {
		case <-l.parent.committed:
		default:
			parent, onParent = "", false
		}
	}
	key := extractPrefix + randomHex()
	if err := protectKey(key); err != nil {
		l.exErr = err
		return
	}
	mounts, err := d.layers.sn.Prepare(ctx, key, parent)
	if err != nil {
		l.exErr = err
		return
	}
	b := newBar(p, l.id, "Extracting", l.desc.Size)
	cr := &countingReader{r: r, onRead: func(n int64) {
		select {
		case <-l.dlDone:
			b.report(n, false)
		default:
		}
	}}
	diffID, mediaType, err := applyBlob(ctx, mounts, cr, nil)
	if err != nil {
		_ = d.layers.sn.Remove(context.WithoutCancel(ctx), key)
		l.exErr = err
		return
	}
	l.snap, l.onParent, l.gotDiffID, l.mediaType = key, onParent, diffID, mediaType
}

// finishLayer waits for a layer's download and extraction, checks it is
// the layer the config names, puts it on its parent and commits it.
func (d *Distributor) finishLayer(ctx context.Context, l *pullLayer, protectKey func(string) error, p Progress) error {
	for _, ch := range []chan struct{}{l.dlDone, l.exDone} {
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if l.dlErr != nil {
		return l.dlErr
	}
	if l.exErr != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		msg := strings.TrimSuffix(l.exErr.Error(), ": "+errdefs.ErrInvalidArgument.Error())
		return errdefs.ErrUnknown.WithMessage("failed to register layer: " + msg)
	}
	if l.gotDiffID != l.diffID {
		return errRootFSMismatch
	}
	key := l.snap
	if !l.onParent {
		moved := extractPrefix + randomHex()
		if err := protectKey(moved); err != nil {
			return err
		}
		dst, err := d.layers.sn.Prepare(ctx, moved, l.parentChain)
		if err != nil {
			return err
		}
		src, err := d.layers.sn.Mounts(ctx, key)
		if err == nil {
			err = rehome(upperDir(src), upperDir(dst))
		}
		if err != nil {
			_ = d.layers.sn.Remove(context.WithoutCancel(ctx), moved)
			return fmt.Errorf("move layer %s onto its parent: %w", l.id, err)
		}
		_ = d.layers.sn.Remove(context.WithoutCancel(ctx), key)
		l.snap = moved
		key = moved
	}
	if err := d.layers.commit(ctx, l.chain, key); err != nil {
		return err
	}
	l.snap = ""
	close(l.committed)
	p.Bar(l.id, "Extracting", l.desc.Size, l.desc.Size)
	p.Update(l.id, "Pull complete")
	blob := ocispec.Descriptor{MediaType: l.mediaType, Digest: l.desc.Digest, Size: l.desc.Size}
	if isForeign(l.desc.MediaType) {
		blob.MediaType = ocispec.MediaTypeImageLayerNonDistributableGzip //nolint:staticcheck // still what foreign layers are called
		blob.URLs = l.desc.URLs
	}
	l.rec = layerRecord{DiffID: l.diffID, Blob: blob}
	return nil
}

// verificationFailed is Docker's error for a blob that is not what its
// digest says (corrupt, or cut short by the registry).
func verificationFailed(d digest.Digest) error {
	return errdefs.ErrDataLoss.WithMessage(fmt.Sprintf("filesystem layer verification failed for digest %s", d))
}

func isForeign(mediaType string) bool {
	switch mediaType {
	case distribution.MediaTypeDockerForeign,
		ocispec.MediaTypeImageLayerNonDistributable,     //nolint:staticcheck // still in use
		ocispec.MediaTypeImageLayerNonDistributableGzip, //nolint:staticcheck
		ocispec.MediaTypeImageLayerNonDistributableZstd: //nolint:staticcheck
		return true
	}
	return false
}

// storedDescriptor is how a layer blob known from a registry is recorded:
// OCI media types, foreign layers with their URLs.
func storedDescriptor(d ocispec.Descriptor) ocispec.Descriptor {
	out := ocispec.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size}
	switch {
	case isForeign(d.MediaType):
		out.MediaType = ocispec.MediaTypeImageLayerNonDistributableGzip //nolint:staticcheck
		out.URLs = d.URLs
	case d.MediaType == distribution.MediaTypeDockerLayer:
		out.MediaType = ocispec.MediaTypeImageLayerGzip
	}
	return out
}

// upperDir is where an active snapshot's changes go: the upper directory
// of its overlay, or its own directory for a base snapshot.
func upperDir(mounts []layer.Mount) string {
	if len(mounts) != 1 {
		return ""
	}
	if mounts[0].Type == "bind" {
		return mounts[0].Source
	}
	for _, o := range mounts[0].Options {
		if v, ok := strings.CutPrefix(o, "upperdir="); ok {
			return v
		}
	}
	return ""
}

// rehome moves an unpacked layer from src to the (empty) upper directory
// dst of a snapshot on the right parent: its entries are renamed (both
// are on the snapshotter's filesystem), and the root directory's owner,
// mode, times and extended attributes (an opaque marker among them) are
// copied, as they are part of the layer.
func rehome(src, dst string) error {
	if src == "" || dst == "" {
		return fmt.Errorf("snapshot has no writable directory: %w", errdefs.ErrNotImplemented)
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := os.Rename(filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())); err != nil {
			return err
		}
	}
	var st unix.Stat_t
	if err := unix.Lstat(src, &st); err != nil {
		return err
	}
	if err := unix.Lchown(dst, int(st.Uid), int(st.Gid)); err != nil {
		return err
	}
	if err := unix.Chmod(dst, st.Mode&07777); err != nil {
		return err
	}
	if err := copyXattrs(src, dst); err != nil {
		return err
	}
	return unix.UtimesNanoAt(unix.AT_FDCWD, dst, []unix.Timespec{st.Atim, st.Mtim}, unix.AT_SYMLINK_NOFOLLOW)
}

func copyXattrs(src, dst string) error {
	size, err := unix.Llistxattr(src, nil)
	if err != nil || size <= 0 {
		if errors.Is(err, unix.ENOTSUP) {
			return nil
		}
		return err
	}
	buf := make([]byte, size)
	size, err = unix.Llistxattr(src, buf)
	if err != nil {
		return err
	}
	for _, name := range strings.Split(strings.TrimRight(string(buf[:size]), "\x00"), "\x00") {
		if name == "" {
			continue
		}
		vsize, err := unix.Lgetxattr(src, name, nil)
		if err != nil {
			return err
		}
		val := make([]byte, vsize)
		if vsize, err = unix.Lgetxattr(src, name, val); err != nil {
			return err
		}
		if err := unix.Lsetxattr(dst, name, val[:vsize], 0); err != nil {
			return fmt.Errorf("copy xattr %s: %w", name, err)
		}
	}
	return nil
}
