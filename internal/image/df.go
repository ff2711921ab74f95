package image

import (
	"context"

	"github.com/berth-dev/berth/internal/filters"
	imagetypes "github.com/moby/moby/api/types/image"
	"github.com/opencontainers/go-digest"
)

// DiskUsage is the image part of GET /system/df, in both the shape
// API ≤ 1.51 clients read (LayersSize and Images) and the counts of the
// 1.52 ImagesUsage object.
type DiskUsage struct {
	// LayersSize is the size of every layer an image uses, each counted
	// once (shared layers are not counted twice).
	LayersSize int64
	// Images are the images as the image list shows them (no intermediate
	// builder images), with SharedSize and Containers filled in.
	Images []imagetypes.Summary
	// ActiveCount is the number of images some container uses.
	ActiveCount int64
	// Reclaimable is the size of the layers no image in use needs: what
	// removing every unused image would free.
	Reclaimable int64
}

// DiskUsage measures the images for GET /system/df. Container usage
// comes from SetContainerUsage.
func (s *Service) DiskUsage(ctx context.Context) (*DiskUsage, error) {
	images, err := s.List(ctx, ListOptions{Filters: filters.Args{}, SharedSize: true, ContainerCount: true})
	if err != nil {
		return nil, err
	}
	du := &DiskUsage{Images: images}
	s.mu.RLock()
	used := map[digest.Digest]bool{} // chain IDs of images in use
	all := map[digest.Digest]bool{}
	for _, sum := range images {
		im := s.images[digest.Digest(sum.ID)]
		if im == nil {
			continue
		}
		if sum.Containers > 0 {
			du.ActiveCount++
			for _, c := range im.chain {
				used[c] = true
			}
		}
	}
	for _, im := range s.images {
		for _, c := range im.chain {
			all[c] = true
		}
	}
	s.mu.RUnlock()
	for c := range all {
		u, err := s.layers.sn.Usage(ctx, c.String())
		if err != nil {
			continue
		}
		du.LayersSize += u.Size
		if !used[c] {
			du.Reclaimable += u.Size
		}
	}
	return du, nil
}
