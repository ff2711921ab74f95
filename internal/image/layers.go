package image

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"

	"github.com/berth-dev/berth/internal/ctxio"
	"github.com/berth-dev/berth/internal/layer"
	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/moby/go-archive/compression"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"
)

const extractPrefix = "extract-"

// decompressed opens the tar inside a layer blob. It reports the media
// type the blob is stored under: the OCI layer types for plain, gzip and
// zstd tars; other compressions (bzip2, xz, which import accepts) have no
// layer media type, so keepRaw is false and the caller stores the
// decompressed tar instead.
func decompressed(br *bufio.Reader) (r io.ReadCloser, mediaType string, keepRaw bool, err error) {
	head, err := br.Peek(10)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, "", false, err
	}
	switch compression.Detect(head) {
	case compression.None:
		return io.NopCloser(br), ocispec.MediaTypeImageLayer, true, nil
	case compression.Gzip:
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, "", false, invalidf("invalid gzip layer: %v", err)
		}
		return zr, ocispec.MediaTypeImageLayerGzip, true, nil
	case compression.Zstd:
		zr, err := zstd.NewReader(br)
		if err != nil {
			return nil, "", false, invalidf("invalid zstd layer: %v", err)
		}
		return zr.IOReadCloser(), ocispec.MediaTypeImageLayerZstd, true, nil
	default:
		rc, err := compression.DecompressStream(br)
		if err != nil {
			return nil, "", false, invalidf("%v", err)
		}
		return rc, ocispec.MediaTypeImageLayer, false, nil
	}
}

// unpackLayer extracts a layer blob (compressed or not) into a new active
// snapshot on parent and returns the snapshot key and the diff ID (digest
// of the uncompressed tar) it measured. When keep is not nil the blob to
// store is copied into it on the way: the bytes as given, or the
// decompressed tar for compressions OCI has no layer type for. The caller
// commits or removes the snapshot.
func (s *Service) unpackLayer(ctx context.Context, parent string, raw io.Reader, keep io.Writer) (key string, diffID digest.Digest, mediaType string, err error) {
	snap := extractPrefix + randomHex()
	mounts, err := s.sn.Prepare(ctx, snap, parent)
	if err != nil {
		return "", "", "", err
	}
	diffID, mediaType, err = applyBlob(ctx, mounts, raw, keep)
	if err != nil {
		_ = s.sn.Remove(context.WithoutCancel(ctx), snap)
		return "", "", "", err
	}
	return snap, diffID, mediaType, nil
}

// applyBlob unpacks a layer blob into the writable layer of mounts and
// returns the diff ID it measured and the blob's media type; keep, when
// set, gets the blob to store (see unpackLayer).
func applyBlob(ctx context.Context, mounts []layer.Mount, raw io.Reader, keep io.Writer) (diffID digest.Digest, mediaType string, err error) {
	br := bufio.NewReaderSize(raw, 1<<20)
	var src io.Reader = br
	// The raw side is copied before decompression sees it, so what is
	// kept is byte for byte what was given.
	head, _ := br.Peek(10)
	detected := compression.Detect(head)
	rawKept := keep != nil && (detected == compression.None || detected == compression.Gzip || detected == compression.Zstd)
	if rawKept {
		src = io.TeeReader(br, keep)
	}
	tarStream, mediaType, _, err := decompressed(bufio.NewReaderSize(src, 1<<16))
	if err != nil {
		return "", "", err
	}
	defer tarStream.Close()
	var body io.Reader = tarStream
	if keep != nil && !rawKept {
		body = io.TeeReader(tarStream, keep)
	}
	h := digest.Canonical.Hash()
	body = io.TeeReader(body, h)

	if err := layer.Apply(ctx, mounts, body); err != nil {
		return "", "", err
	}
	// The tar end marker may be followed by padding; the diff ID covers
	// the whole stream, and the kept blob must be complete.
	if _, err := io.Copy(io.Discard, body); err != nil {
		return "", "", invalidf("read layer: %v", err)
	}
	if rawKept {
		if _, err := io.Copy(io.Discard, src); err != nil {
			return "", "", invalidf("read layer: %v", err)
		}
	}
	return digest.NewDigest(digest.Canonical, h), mediaType, nil
}

// diffIDOf decompresses a blob to measure its diff ID without extracting
// it, to check a blob for a layer that is already unpacked.
func diffIDOf(ctx context.Context, raw io.Reader) (digest.Digest, string, error) {
	tarStream, mediaType, _, err := decompressed(bufio.NewReaderSize(raw, 1<<20))
	if err != nil {
		return "", "", err
	}
	defer tarStream.Close()
	h := digest.Canonical.Hash()
	if _, err := io.Copy(h, ctxio.NewReader(ctx, tarStream)); err != nil {
		if ctx.Err() != nil {
			return "", "", ctx.Err()
		}
		return "", "", invalidf("read layer: %v", err)
	}
	return digest.NewDigest(digest.Canonical, h), mediaType, nil
}

// commitLayer commits an unpacked snapshot as chainID. If another load
// committed the same layer meanwhile, the duplicate is dropped.
func (s *Service) commitLayer(ctx context.Context, chainID digest.Digest, key string) error {
	err := s.sn.Commit(ctx, chainID.String(), key)
	if errdefs.IsAlreadyExists(err) {
		return s.sn.Remove(ctx, key)
	}
	return err
}

// hasLayer reports whether the committed snapshot for chainID exists.
func (s *Service) hasLayer(ctx context.Context, chainID digest.Digest) bool {
	info, err := s.sn.Stat(ctx, chainID.String())
	return err == nil && info.Kind == layer.KindCommitted
}

// knownBlobDiffID is the diff ID some stored image already verified for
// blob, "" if none.
func (s *Service) knownBlobDiffID(blob digest.Digest) digest.Digest {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, im := range s.images {
		for _, l := range im.rec.Layers {
			if l.Blob.Digest == blob {
				return l.DiffID
			}
		}
	}
	return ""
}

// addImage records an image whose layers and blobs are stored, and points
// refs at it, in one transaction: the image appears whole or not at all.
// Tags that pointed elsewhere move. touchTag records the tag time, as
// Docker does for a tag given to import but not for tags a load restores.
// Caller holds layersMu for reading.
func (s *Service) addImage(raw []byte, layers []layerRecord, parent digest.Digest, refs []reference.NamedTagged, touchTag bool) (*img, error) {
	id := digest.FromBytes(raw)
	s.mu.Lock()
	defer s.mu.Unlock()
	im, exists := s.images[id]
	if !exists {
		rec := imageRecord{ID: id, Layers: layers, Parent: parent, Added: nowUTC()}
		var err error
		im, err = newImg(rec, raw)
		if err != nil {
			return nil, err
		}
	}
	rec := im.rec
	if len(refs) > 0 && touchTag {
		rec.LastTagTime = nowUTC()
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		data, err := json.Marshal(&rec)
		if err != nil {
			return err
		}
		if err := tx.Bucket(bucketImages).Put([]byte(id), data); err != nil {
			return err
		}
		if err := tx.Bucket(bucketConfigs).Put([]byte(id), raw); err != nil {
			return err
		}
		for _, r := range refs {
			if err := tx.Bucket(bucketRefs).Put([]byte(r.String()), []byte(id)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("record image: %w", err)
	}
	im.rec = rec
	s.images[id] = im
	for _, r := range refs {
		s.refs[r.String()] = id
	}
	return im, nil
}

// syncLayers flushes unpacked layer files to disk before the image that
// uses them is recorded, so that a crash cannot leave a recorded image
// over truncated files. One syncfs covers every layer of the operation.
func (s *Service) syncLayers() error {
	fd, err := unix.Open(s.root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return unix.Syncfs(fd)
}

// collectGarbage removes what no image or rw layer references: snapshots
// of interrupted extractions, layers of deleted images, rw snapshots
// whose container record is gone, and unreferenced blobs. It returns the
// chain IDs of removed layers, top first. Caller holds layersMu for
// writing (or is New, before anyone else can use the service).
func (s *Service) collectGarbage(ctx context.Context) ([]digest.Digest, error) {
	s.mu.RLock()
	liveChains := map[string]bool{}
	liveBlobs := map[digest.Digest]bool{}
	liveRW := map[string]bool{}
	for _, im := range s.images {
		for _, c := range im.chain {
			liveChains[c.String()] = true
		}
		for _, l := range im.rec.Layers {
			liveBlobs[l.Blob.Digest] = true
		}
	}
	for cid := range s.rw {
		liveRW[rwKey(cid)] = true
	}
	s.mu.RUnlock()
	// What pulls are creating is live too (see protect); layersMu, held
	// for writing, keeps new protections from being added meanwhile.
	s.inflightMu.Lock()
	for k := range s.inflight {
		liveChains[k] = true
		liveRW[k] = true
		liveBlobs[digest.Digest(k)] = true
	}
	s.inflightMu.Unlock()

	var infos []layer.Info
	if err := s.sn.Walk(ctx, func(_ context.Context, i layer.Info) error {
		infos = append(infos, i)
		return nil
	}); err != nil {
		return nil, err
	}
	for _, i := range infos {
		if i.Kind != layer.KindCommitted && !liveRW[i.Name] {
			if err := s.sn.Remove(ctx, i.Name); err != nil && !errdefs.IsNotFound(err) {
				slog.Warn("remove stale snapshot", "key", i.Name, "err", err)
			}
		}
	}
	// Leaves first: a layer can go once nothing above it remains.
	var removed []digest.Digest
	pending := slices.DeleteFunc(infos, func(i layer.Info) bool {
		return i.Kind != layer.KindCommitted || liveChains[i.Name]
	})
	for progress := true; progress && len(pending) > 0; {
		progress = false
		parents := map[string]bool{}
		for _, i := range pending {
			parents[i.Parent] = true
		}
		pending = slices.DeleteFunc(pending, func(i layer.Info) bool {
			if parents[i.Name] {
				return false
			}
			err := s.sn.Remove(ctx, i.Name)
			switch {
			case err == nil:
				removed = append(removed, digest.Digest(i.Name))
				progress = true
				return true
			case errdefs.IsNotFound(err):
				return true
			case errdefs.IsFailedPrecondition(err):
				return true // a container's rw layer still sits on it
			default:
				slog.Warn("remove unused layer", "chain", i.Name, "err", err)
				return true
			}
		})
	}
	err := s.blobs.Walk(func(d digest.Digest, _ int64) error {
		if !liveBlobs[d] {
			return s.blobs.Delete(d)
		}
		return nil
	})
	return removed, err
}

// gc runs collectGarbage now if no layer is being created, otherwise as
// soon as those operations finish. It returns what it removed if it ran.
func (s *Service) gc(ctx context.Context) []digest.Digest {
	if s.layersMu.TryLock() {
		defer s.layersMu.Unlock()
		removed, err := s.collectGarbage(ctx)
		if err != nil {
			slog.Warn("image garbage collection", "err", err)
		}
		return removed
	}
	go func() {
		s.layersMu.Lock()
		defer s.layersMu.Unlock()
		if s.closed {
			return
		}
		if _, err := s.collectGarbage(context.Background()); err != nil {
			slog.Warn("image garbage collection", "err", err)
		}
	}()
	return nil
}

func randomHex() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// protect keeps snapshot keys, chain IDs and blob digests that an
// operation is creating or about to reference from garbage collection
// until release is called. It takes layersMu only briefly: a collection
// under way finishes first, and any later one sees the protection, so the
// operation itself can run without holding layersMu (a long pull must not
// hold up a collection that others then queue behind).
func (s *Service) protect(names ...string) (release func(), err error) {
	s.layersMu.RLock()
	defer s.layersMu.RUnlock()
	if s.closed {
		return nil, fmt.Errorf("image store is closed: %w", errdefs.ErrUnavailable)
	}
	s.inflightMu.Lock()
	for _, n := range names {
		s.inflight[n]++
	}
	s.inflightMu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.inflightMu.Lock()
			for _, n := range names {
				if s.inflight[n]--; s.inflight[n] <= 0 {
					delete(s.inflight, n)
				}
			}
			s.inflightMu.Unlock()
		})
	}, nil
}

// startOp registers a pull or push so that Close cancels and waits for
// it, and returns its context: ctx, also ended when the service closes.
func (s *Service) startOp(ctx context.Context) (context.Context, func(), error) {
	s.layersMu.RLock()
	if s.closed {
		s.layersMu.RUnlock()
		return nil, nil, fmt.Errorf("image store is closed: %w", errdefs.ErrUnavailable)
	}
	s.ops.Add(1)
	s.layersMu.RUnlock()
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(s.ctx, cancel)
	return ctx, func() {
		stop()
		cancel()
		s.ops.Done()
	}, nil
}
