package distribution

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/moby/moby/api/types/registry"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Manifest media types this package knows.
const (
	MediaTypeDockerManifest     = "application/vnd.docker.distribution.manifest.v2+json"
	MediaTypeDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
	MediaTypeDockerSchema1      = "application/vnd.docker.distribution.manifest.v1+json"
	MediaTypeDockerSchema1JWS   = "application/vnd.docker.distribution.manifest.v1+prettyjws"
	MediaTypeDockerConfig       = "application/vnd.docker.container.image.v1+json"
	MediaTypeDockerLayer        = "application/vnd.docker.image.rootfs.diff.tar.gzip"
	MediaTypeDockerForeign      = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
)

// maxManifestSize bounds what is read of a manifest or image config, as
// registries and containerd bound it.
const maxManifestSize = 4 << 20

var acceptManifests = strings.Join([]string{
	ocispec.MediaTypeImageManifest,
	MediaTypeDockerManifest,
	ocispec.MediaTypeImageIndex,
	MediaTypeDockerManifestList,
	MediaTypeDockerSchema1JWS,
	MediaTypeDockerSchema1,
}, ", ")

// Repository is one repository on one endpoint, with an authenticated
// client scoped for what the caller asked (pull, or pull and push).
type Repository struct {
	Endpoint Endpoint
	// Path is the repository's name in the registry: "team/busybox",
	// "library/busybox".
	Path string

	svc       *Service
	scheme    string
	client    *http.Client
	anonymous bool
	basicAuth bool // the registry asked for basic auth
}

// Open probes ep (HTTPS first; plain HTTP when ep is insecure and HTTPS
// fails, as Docker falls back), authenticates with ac for the scopes the
// actions need, and returns the repository path on it. mountFrom lists
// other repositories of the registry that push may mount blobs from.
func (s *Service) Open(ctx context.Context, ep Endpoint, path string, ac *registry.AuthConfig, push bool, mountFrom ...string) (*Repository, error) {
	scheme, challenge, err := s.probe(ctx, ep)
	if err != nil {
		return nil, err
	}
	var opts []name.Option
	if scheme == "http" {
		opts = append(opts, name.Insecure)
	}
	reg, err := name.NewRegistry(ep.Host, opts...)
	if err != nil {
		return nil, fmt.Errorf("invalid registry %q: %s: %w", ep.Host, err.Error(), errdefs.ErrInvalidArgument)
	}
	actions := "pull"
	if push {
		actions = "pull,push"
	}
	scopes := []string{fmt.Sprintf("repository:%s:%s", path, actions)}
	for _, m := range mountFrom {
		if m != path {
			scopes = append(scopes, fmt.Sprintf("repository:%s:pull", m))
		}
	}
	auth := authenticator(ac)
	base := transport.NewUserAgent(s.transportFor(ep, scheme), s.userAgent)
	rt, err := transport.NewWithContext(ctx, reg, auth, base, scopes)
	if err != nil {
		return nil, authError(err, scheme, ep.Host)
	}
	return &Repository{
		Endpoint:  ep,
		Path:      path,
		svc:       s,
		scheme:    scheme,
		client:    &http.Client{Transport: rt},
		anonymous: !hasCredentials(ac),
		basicAuth: strings.EqualFold(challenge, "basic"),
	}, nil
}

// probe finds the scheme a registry answers on and the auth scheme its
// /v2/ asks for. Any HTTP answer counts: 401 is the usual one.
func (s *Service) probe(ctx context.Context, ep Endpoint) (scheme, challenge string, err error) {
	schemes := []string{"https"}
	switch {
	case ep.Scheme != "":
		schemes = []string{ep.Scheme}
	case ep.Insecure:
		schemes = append(schemes, "http")
	}
	var lastErr error
	for _, sc := range schemes {
		c, err := s.ping(ctx, ep, sc)
		if err == nil {
			return sc, c, nil
		}
		if ctx.Err() != nil {
			return "", "", ctx.Err()
		}
		lastErr = err
	}
	return "", "", lastErr
}

func (s *Service) ping(ctx context.Context, ep Endpoint, scheme string) (string, error) {
	u := scheme + "://" + ep.Host + "/v2/"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, http.NoBody)
	if err != nil {
		return "", fmt.Errorf("%s: %w", err.Error(), errdefs.ErrInvalidArgument)
	}
	req.Header.Set("User-Agent", s.userAgent)
	client := &http.Client{Transport: s.transportFor(ep, scheme), Timeout: 30 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return "", WithClass(errdefs.ErrUnavailable, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	c := resp.Header.Get("WWW-Authenticate")
	if i := strings.IndexByte(c, ' '); i > 0 {
		c = c[:i]
	}
	return c, nil
}

func (r *Repository) url(kind, ref string) string {
	return fmt.Sprintf("%s://%s/v2/%s/%s/%s", r.scheme, r.Endpoint.Host, r.Path, kind, ref)
}

// URLFor is the address of a manifest or blob, as Docker's errors name it.
func (r *Repository) URLFor(kind, ref string) string { return r.url(kind, ref) }

func (r *Repository) do(req *http.Request) (*http.Response, error) {
	resp, err := r.client.Do(req)
	if err != nil {
		var terr *transport.Error
		if errors.As(err, &terr) {
			return nil, err
		}
		if req.Context().Err() != nil {
			return nil, req.Context().Err()
		}
		return nil, WithClass(errdefs.ErrUnavailable, err)
	}
	return resp, nil
}

// check turns a registry error response into an error; what failed
// without credentials on a basic-auth registry reads as Docker's "no
// basic auth credentials". Like Docker's, these are not 401s for the API
// client: that would make the docker CLI prompt for a login.
func (r *Repository) check(resp *http.Response, method string, ok ...int) error {
	err := transport.CheckError(resp, ok...)
	if err == nil {
		return nil
	}
	if resp.StatusCode == http.StatusUnauthorized && r.anonymous && r.basicAuth {
		return errdefs.ErrUnknown.WithMessage(fmt.Sprintf("%s %q: no basic auth credentials", method, resp.Request.URL.Redacted()))
	}
	return withChallengeError(err, resp)
}

var challengeParam = regexp.MustCompile(`([a-z_]+)="([^"]*)"`)

// withChallengeError puts first what a bearer challenge says went wrong
// (RFC 6750: error="insufficient_scope" or "invalid_token"), as
// Docker's registry client does: a token without the access asked for
// reads "denied: requested access to the resource is denied".
func withChallengeError(err error, resp *http.Response) error {
	var terr *transport.Error
	if !errors.As(err, &terr) || resp.StatusCode < 400 || resp.StatusCode >= 500 {
		return err
	}
	for _, c := range resp.Header.Values("WWW-Authenticate") {
		scheme, params, _ := strings.Cut(c, " ")
		if !strings.EqualFold(scheme, "bearer") {
			continue
		}
		p := map[string]string{}
		for _, m := range challengeParam.FindAllStringSubmatch(params, -1) {
			p[m[1]] = m[2]
		}
		d := transport.Diagnostic{Message: p["error_description"]}
		switch p["error"] {
		case "insufficient_scope":
			d.Code = transport.DeniedErrorCode
			if d.Message == "" {
				d.Message = "requested access to the resource is denied"
			}
		case "invalid_token":
			d.Code = transport.UnauthorizedErrorCode
			if d.Message == "" {
				d.Message = "authentication required"
			}
		default:
			continue
		}
		out := *terr
		out.Errors = append([]transport.Diagnostic{d}, terr.Errors...)
		return &out
	}
	return err
}

// Manifest is a manifest or index as fetched.
type Manifest struct {
	Raw       []byte
	MediaType string
	Digest    digest.Digest
}

// Manifest fetches the manifest or index that ref (a tag or a digest)
// names, unverified: see Verify.
func (r *Repository) Manifest(ctx context.Context, ref string) (*Manifest, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url("manifests", ref), http.NoBody)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", acceptManifests)
	resp, err := r.do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if err := r.check(resp, "Head", http.StatusOK); err != nil {
		return nil, err
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxManifestSize+1))
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	if len(raw) > maxManifestSize {
		return nil, fmt.Errorf("manifest %s is larger than %d bytes: %w", ref, maxManifestSize, errdefs.ErrInvalidArgument)
	}
	m := &Manifest{Raw: raw, MediaType: manifestType(resp.Header.Get("Content-Type"), raw), Digest: digest.FromBytes(raw)}
	if want, err := digest.Parse(ref); err == nil && want.Algorithm() != digest.Canonical {
		m.Digest = want.Algorithm().FromBytes(raw)
	}
	return m, nil
}

// Verify checks that a manifest fetched by digest is the one the digest
// names (a tag names whatever the registry says). Docker checks this
// once it has said "Pulling from", so the error comes in the pull's
// progress stream.
func (m *Manifest) Verify(ref string) error {
	if want, err := digest.Parse(ref); err == nil && m.Digest != want {
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("manifest verification failed for digest %s", want))
	}
	return nil
}

// manifestType is the media type of a manifest: the Content-Type unless
// the registry sent a generic one, then what the document says of itself.
func manifestType(contentType string, raw []byte) string {
	ct, _, _ := strings.Cut(contentType, ";")
	ct = strings.TrimSpace(ct)
	switch ct {
	case ocispec.MediaTypeImageManifest, ocispec.MediaTypeImageIndex, MediaTypeDockerManifest,
		MediaTypeDockerManifestList, MediaTypeDockerSchema1, MediaTypeDockerSchema1JWS:
		return ct
	}
	var probe struct {
		SchemaVersion int             `json:"schemaVersion"`
		MediaType     string          `json:"mediaType"`
		Manifests     json.RawMessage `json:"manifests"`
		Config        json.RawMessage `json:"config"`
		FSLayers      json.RawMessage `json:"fsLayers"`
	}
	if json.Unmarshal(raw, &probe) != nil {
		return ct
	}
	switch {
	case probe.MediaType != "":
		return probe.MediaType
	case probe.SchemaVersion == 1 || probe.FSLayers != nil:
		return MediaTypeDockerSchema1JWS
	case probe.Manifests != nil:
		return ocispec.MediaTypeImageIndex
	case probe.Config != nil:
		return ocispec.MediaTypeImageManifest
	}
	return ct
}

// SmallBlob fetches a blob small enough to hold in memory (an image
// config) and verifies its digest.
func (r *Repository) SmallBlob(ctx context.Context, desc ocispec.Descriptor) ([]byte, error) {
	rc, _, err := r.OpenBlob(ctx, desc.Digest, 0)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, maxManifestSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxManifestSize {
		return nil, fmt.Errorf("blob %s is larger than %d bytes: %w", desc.Digest, maxManifestSize, errdefs.ErrInvalidArgument)
	}
	if desc.Digest.Algorithm().FromBytes(data) != desc.Digest {
		return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("image config verification failed for digest %s", desc.Digest))
	}
	return data, nil
}

// ErrBlobUnknown is a blob the registry does not have.
var ErrBlobUnknown = errdefs.ErrNotFound.WithMessage("unknown blob")

// OpenBlob starts reading a blob at offset (a Range request; a registry
// that ignores ranges has the skipped part discarded). size is the whole
// blob's size when the registry says it, else -1. Reading fails once
// nothing arrives for the service's idle timeout.
func (r *Repository) OpenBlob(ctx context.Context, d digest.Digest, offset int64) (io.ReadCloser, int64, error) {
	ctx, cancelCause := context.WithCancelCause(ctx)
	cancel := func() { cancelCause(nil) }
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url("blobs", d.String()), http.NoBody)
	if err != nil {
		cancel()
		return nil, 0, err
	}
	if offset > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", offset))
	}
	// The idle timer covers the wait for the response too. Its expiry is
	// a broken transfer (worth resuming), not a cancellation.
	idle := errdefs.ErrUnavailable.WithMessage(fmt.Sprintf("no data from the registry for %v", r.svc.idleTimeout))
	timer := time.AfterFunc(r.svc.idleTimeout, func() { cancelCause(idle) })
	expired := func(err error) error {
		if errors.Is(context.Cause(ctx), idle) {
			return idle
		}
		return err
	}
	resp, err := r.do(req)
	if err != nil {
		timer.Stop()
		cancel()
		return nil, 0, expired(err)
	}
	if resp.StatusCode == http.StatusNotFound {
		resp.Body.Close()
		timer.Stop()
		cancel()
		return nil, 0, ErrBlobUnknown
	}
	if err := r.check(resp, "Get", http.StatusOK, http.StatusPartialContent); err != nil {
		resp.Body.Close()
		timer.Stop()
		cancel()
		return nil, 0, err
	}
	size := int64(-1)
	body := &idleReader{r: resp.Body, timer: timer, idle: r.svc.idleTimeout, cancel: cancel, expired: expired}
	switch resp.StatusCode {
	case http.StatusPartialContent:
		var start, end, total int64
		if _, err := fmt.Sscanf(resp.Header.Get("Content-Range"), "bytes %d-%d/%d", &start, &end, &total); err == nil {
			size = total
			if start != offset {
				body.Close()
				return nil, 0, fmt.Errorf("registry answered range %d- with %d-: %w", offset, start, errdefs.ErrUnavailable)
			}
		}
	default:
		if resp.ContentLength >= 0 {
			size = resp.ContentLength
		}
		if offset > 0 {
			if _, err := io.CopyN(io.Discard, body, offset); err != nil {
				body.Close()
				return nil, 0, WithClass(errdefs.ErrUnavailable, err)
			}
		}
	}
	return body, size, nil
}

// idleReader fails a read that waits longer than idle for data, by
// cancelling the request; the read then fails with expired's error.
type idleReader struct {
	r       io.ReadCloser
	timer   *time.Timer
	idle    time.Duration
	cancel  context.CancelFunc
	expired func(error) error
	once    sync.Once
}

func (i *idleReader) Read(p []byte) (int, error) {
	n, err := i.r.Read(p)
	if n > 0 {
		i.timer.Reset(i.idle)
	}
	if err != nil {
		err = i.expired(err)
	}
	return n, err
}

func (i *idleReader) Close() error {
	i.once.Do(func() {
		i.timer.Stop()
		i.cancel()
	})
	return i.r.Close()
}

// Tags lists the repository's tags, following pagination.
func (r *Repository) Tags(ctx context.Context) ([]string, error) {
	next := fmt.Sprintf("%s://%s/v2/%s/tags/list", r.scheme, r.Endpoint.Host, r.Path)
	var tags []string
	for next != "" {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, next, http.NoBody)
		if err != nil {
			return nil, err
		}
		resp, err := r.do(req)
		if err != nil {
			return nil, err
		}
		if err := r.check(resp, "Get", http.StatusOK); err != nil {
			resp.Body.Close()
			return nil, err
		}
		var page struct {
			Tags []string `json:"tags"`
		}
		err = json.NewDecoder(io.LimitReader(resp.Body, maxManifestSize)).Decode(&page)
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("decode tag list: %w", err)
		}
		tags = append(tags, page.Tags...)
		next = nextLink(resp)
	}
	return tags, nil
}

// nextLink follows an RFC 5988 Link: <...>; rel="next" header.
func nextLink(resp *http.Response) string {
	link := resp.Header.Get("Link")
	if link == "" || !strings.Contains(link, `rel="next"`) {
		return ""
	}
	start, end := strings.IndexByte(link, '<'), strings.IndexByte(link, '>')
	if start < 0 || end <= start {
		return ""
	}
	u, err := resp.Request.URL.Parse(link[start+1 : end])
	if err != nil {
		return ""
	}
	return u.String()
}

// BlobExists asks whether the repository has the blob.
func (r *Repository) BlobExists(ctx context.Context, d digest.Digest) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, r.url("blobs", d.String()), http.NoBody)
	if err != nil {
		return false, err
	}
	resp, err := r.do(req)
	if err != nil {
		return false, err
	}
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		return true, nil
	case http.StatusNotFound:
		return false, nil
	}
	return false, r.check(resp, "Head", http.StatusOK)
}

// Mount asks the registry to link blob d from repository from (a path on
// the same registry) into this one. When it does not, the upload session
// it opened instead is returned.
func (r *Repository) Mount(ctx context.Context, d digest.Digest, from string) (mounted bool, upload string, err error) {
	q := url.Values{"mount": {d.String()}, "from": {from}}
	return r.startUpload(ctx, "?"+q.Encode())
}

// StartUpload opens an upload session and returns its location.
func (r *Repository) StartUpload(ctx context.Context) (string, error) {
	_, loc, err := r.startUpload(ctx, "")
	return loc, err
}

func (r *Repository) startUpload(ctx context.Context, query string) (bool, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.url("blobs", "uploads/")+query, http.NoBody)
	if err != nil {
		return false, "", err
	}
	resp, err := r.do(req)
	if err != nil {
		return false, "", err
	}
	defer resp.Body.Close()
	if err := r.check(resp, "Post", http.StatusCreated, http.StatusAccepted); err != nil {
		return false, "", err
	}
	if resp.StatusCode == http.StatusCreated {
		return true, "", nil
	}
	loc, err := location(resp)
	return false, loc, err
}

func location(resp *http.Response) (string, error) {
	loc := resp.Header.Get("Location")
	if loc == "" {
		return "", fmt.Errorf("registry sent no upload location: %w", errdefs.ErrUnavailable)
	}
	u, err := resp.Request.URL.Parse(loc)
	if err != nil {
		return "", fmt.Errorf("registry sent a bad upload location %q: %w", loc, errdefs.ErrUnavailable)
	}
	return u.String(), nil
}

// Upload streams body into the upload session at loc and completes it as
// blob d, which the caller computed over what body gave. d may come from
// digestOf, called once body is drained, for a blob whose digest is only
// known at the end (compressed on the fly).
func (r *Repository) Upload(ctx context.Context, loc string, body io.Reader, digestOf func() digest.Digest) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPatch, loc, io.NopCloser(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := r.do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if err := r.check(resp, "Patch", http.StatusAccepted, http.StatusNoContent, http.StatusCreated); err != nil {
		return err
	}
	if l, err := location(resp); err == nil {
		loc = l
	}
	u, err := url.Parse(loc)
	if err != nil {
		return err
	}
	q := u.Query()
	q.Set("digest", digestOf().String())
	u.RawQuery = q.Encode()
	req, err = http.NewRequestWithContext(ctx, http.MethodPut, u.String(), http.NoBody)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err = r.do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return r.check(resp, "Put", http.StatusCreated, http.StatusNoContent, http.StatusAccepted)
}

// PutManifest uploads a manifest under ref (a tag, or its digest).
func (r *Repository) PutManifest(ctx context.Context, ref, mediaType string, raw []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, r.url("manifests", ref), bytes.NewReader(raw))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", mediaType)
	req.ContentLength = int64(len(raw))
	resp, err := r.do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return r.check(resp, "Put", http.StatusCreated, http.StatusOK, http.StatusAccepted)
}
