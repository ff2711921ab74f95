package system

import (
	"context"
	"net/http"

	"github.com/berth-dev/berth/internal/server/httputils"
	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/build"
	containertypes "github.com/moby/moby/api/types/container"
	imagetypes "github.com/moby/moby/api/types/image"
	systemtypes "github.com/moby/moby/api/types/system"
	"github.com/moby/moby/api/types/volume"
)

// DiskUsageBackend measures what GET /system/df reports.
type DiskUsageBackend interface {
	// ImageDiskUsage gives the size of all layers (each counted once),
	// the images with SharedSize and Containers filled in, and what
	// removing unused images would free.
	ImageDiskUsage(ctx context.Context) (layersSize int64, images []imagetypes.Summary, reclaimable int64, err error)
	// ContainerDiskUsage lists every container with its sizes.
	ContainerDiskUsage(ctx context.Context) ([]containertypes.Summary, error)
	// VolumeDiskUsage lists every volume with UsageData (size and
	// how many containers reference it).
	VolumeDiskUsage(ctx context.Context) ([]volume.Volume, error)
}

// legacyDiskUsage is the /system/df body before API 1.52, which docker
// CLI 28 reads.
type legacyDiskUsage struct {
	LayersSize int64                    `json:"LayersSize"`
	Images     []imagetypes.Summary     `json:"Images"`
	Containers []containertypes.Summary `json:"Containers"`
	Volumes    []volume.Volume          `json:"Volumes"`
	BuildCache []build.CacheRecord      `json:"BuildCache"`
}

func (r *Router) diskUsage(ctx context.Context, w http.ResponseWriter, req *http.Request, _ map[string]string) error {
	if r.df == nil {
		return errdefs.ErrNotImplemented.WithMessage("disk usage is not available")
	}
	want := map[string]bool{}
	for _, t := range req.Form["type"] {
		switch systemtypes.DiskUsageObject(t) {
		case systemtypes.ContainerObject, systemtypes.ImageObject, systemtypes.VolumeObject, systemtypes.BuildCacheObject:
			want[t] = true
		default:
			return errdefs.ErrInvalidArgument.WithMessage("unknown object type: " + t)
		}
	}
	all := len(want) == 0
	var (
		layersSize, reclaimable int64
		images                  []imagetypes.Summary
		containers              []containertypes.Summary
		volumes                 []volume.Volume
		err                     error
	)
	if all || want[string(systemtypes.ImageObject)] {
		if layersSize, images, reclaimable, err = r.df.ImageDiskUsage(ctx); err != nil {
			return err
		}
	}
	if all || want[string(systemtypes.ContainerObject)] {
		if containers, err = r.df.ContainerDiskUsage(ctx); err != nil {
			return err
		}
	}
	if all || want[string(systemtypes.VolumeObject)] {
		if volumes, err = r.df.VolumeDiskUsage(ctx); err != nil {
			return err
		}
	}
	if httputils.VersionLessThan(ctx, "1.52") {
		out := legacyDiskUsage{LayersSize: layersSize, Images: images, Containers: containers,
			Volumes: volumes, BuildCache: []build.CacheRecord{}}
		if out.Volumes == nil {
			out.Volumes = []volume.Volume{}
		}
		if out.Images == nil {
			out.Images = []imagetypes.Summary{}
		}
		if out.Containers == nil {
			out.Containers = []containertypes.Summary{}
		}
		return httputils.WriteJSON(w, http.StatusOK, out)
	}
	verbose := httputils.BoolValue(req, "verbose")
	var out systemtypes.DiskUsage
	if all || want[string(systemtypes.ImageObject)] {
		iu := &imagetypes.DiskUsage{TotalCount: int64(len(images)), TotalSize: layersSize, Reclaimable: reclaimable}
		for _, im := range images {
			if im.Containers > 0 {
				iu.ActiveCount++
			}
		}
		if verbose {
			iu.Items = images
		}
		out.ImageUsage = iu
	}
	if all || want[string(systemtypes.ContainerObject)] {
		cu := &containertypes.DiskUsage{TotalCount: int64(len(containers))}
		for _, c := range containers {
			cu.TotalSize += c.SizeRw
			if c.State == containertypes.StateRunning || c.State == containertypes.StatePaused {
				cu.ActiveCount++
			} else {
				cu.Reclaimable += c.SizeRw
			}
		}
		if verbose {
			cu.Items = containers
		}
		out.ContainerUsage = cu
	}
	if all || want[string(systemtypes.VolumeObject)] {
		vu := &volume.DiskUsage{TotalCount: int64(len(volumes))}
		for _, v := range volumes {
			if v.UsageData == nil {
				continue
			}
			if v.UsageData.RefCount > 0 {
				vu.ActiveCount++
			}
			if v.UsageData.Size >= 0 {
				vu.TotalSize += v.UsageData.Size
				if v.UsageData.RefCount == 0 {
					vu.Reclaimable += v.UsageData.Size
				}
			}
		}
		if verbose {
			vu.Items = volumes
		}
		out.VolumeUsage = vu
	}
	if all || want[string(systemtypes.BuildCacheObject)] {
		out.BuildCacheUsage = &build.DiskUsage{}
	}
	return httputils.WriteJSON(w, http.StatusOK, out)
}
