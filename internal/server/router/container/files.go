package container

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"

	"github.com/containerd/errdefs"
	containertypes "github.com/moby/moby/api/types/container"

	"github.com/berth-dev/berth/internal/container"
	"github.com/berth-dev/berth/internal/server/httputils"
)

// filesBackend reads and writes containers' filesystems: diff, export,
// commit and the archive endpoints behind docker cp.
type filesBackend interface {
	Changes(ctx context.Context, ref string) ([]containertypes.FilesystemChange, error)
	Export(ctx context.Context, ref string) (io.ReadCloser, error)
	Commit(ctx context.Context, ref string, opts container.CommitOptions) (string, error)
	StatPath(ctx context.Context, ref, path string) (containertypes.PathStat, error)
	ArchivePath(ctx context.Context, ref, path string) (io.ReadCloser, containertypes.PathStat, error)
	ExtractToDir(ctx context.Context, ref, path string, opts container.ExtractOptions, content io.Reader) error
}

// pathStatHeader carries a path's stat on the archive endpoints: base64
// of its JSON, as Docker sends it.
const pathStatHeader = "X-Docker-Container-Path-Stat"

func (r *Router) changes(ctx context.Context, w http.ResponseWriter, _ *http.Request, vars map[string]string) error {
	changes, err := r.b.Changes(ctx, vars["name"])
	if err != nil {
		return err
	}
	if changes == nil {
		changes = []containertypes.FilesystemChange{}
	}
	return httputils.WriteJSON(w, http.StatusOK, changes)
}

func (r *Router) export(ctx context.Context, w http.ResponseWriter, _ *http.Request, vars map[string]string) error {
	rc, err := r.b.Export(ctx, vars["name"])
	if err != nil {
		return err
	}
	defer rc.Close()
	w.Header().Set("Content-Type", "application/x-tar")
	w.WriteHeader(http.StatusOK)
	// Once the status is out, a broken stream is a truncated tar: all a
	// client can be told.
	_, _ = io.Copy(w, rc)
	return nil
}

// commit is POST /commit: an image of a container, with the request's
// config (the body, which may be empty) and Dockerfile changes over the
// container's.
func (r *Router) commit(ctx context.Context, w http.ResponseWriter, req *http.Request, _ map[string]string) error {
	var cfg *containertypes.Config
	if err := httputils.ReadJSON(req, &cfg); err != nil {
		return err
	}
	// Pausing is the default since API 1.13, unless pause says otherwise.
	pause := httputils.BoolValue(req, "pause")
	if req.Form.Get("pause") == "" && !httputils.VersionLessThan(ctx, "1.13") {
		pause = true
	}
	id, err := r.b.Commit(ctx, req.Form.Get("container"), container.CommitOptions{
		Config:  cfg,
		Changes: req.Form["changes"],
		Author:  req.Form.Get("author"),
		Comment: req.Form.Get("comment"),
		Repo:    req.Form.Get("repo"),
		Tag:     req.Form.Get("tag"),
		Pause:   pause,
	})
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusCreated, containertypes.CommitResponse{ID: id})
}

// archivePath is the path parameter of the archive endpoints; Docker's
// message (without its space) when it is missing.
func archivePath(req *http.Request) (string, error) {
	p := req.Form.Get("path")
	if p == "" {
		return "", errdefs.ErrInvalidArgument.WithMessage("bad parameter: pathcannot be empty")
	}
	return p, nil
}

func setPathStat(w http.ResponseWriter, st containertypes.PathStat) error {
	data, err := json.Marshal(st)
	if err != nil {
		return err
	}
	w.Header().Set(pathStatHeader, base64.StdEncoding.EncodeToString(data))
	return nil
}

// statArchive is HEAD /containers/{name}/archive: the stat of a path in
// the header, no body.
func (r *Router) statArchive(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	p, err := archivePath(req)
	if err != nil {
		return err
	}
	st, err := r.b.StatPath(ctx, vars["name"], p)
	if err != nil {
		return err
	}
	if err := setPathStat(w, st); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// getArchive is GET /containers/{name}/archive: a tar of a path, its
// stat in the header.
func (r *Router) getArchive(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	p, err := archivePath(req)
	if err != nil {
		return err
	}
	rc, st, err := r.b.ArchivePath(ctx, vars["name"], p)
	if err != nil {
		return err
	}
	defer rc.Close()
	if err := setPathStat(w, st); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/x-tar")
	w.WriteHeader(http.StatusOK)
	_, _ = io.Copy(w, rc)
	return nil
}

// putArchive is PUT /containers/{name}/archive: extract the body, a tar
// (plain or compressed), into the directory path.
func (r *Router) putArchive(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	p, err := archivePath(req)
	if err != nil {
		return err
	}
	body := req.Body
	if body == nil {
		body = http.NoBody
	}
	err = r.b.ExtractToDir(ctx, vars["name"], p, container.ExtractOptions{
		NoOverwriteDirNonDir: httputils.BoolValue(req, "noOverwriteDirNonDir"),
		CopyUIDGID:           httputils.BoolValue(req, "copyUIDGID"),
	}, body)
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}
