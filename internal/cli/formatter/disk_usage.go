package formatter

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/distribution/reference"
	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/volume"
)

const (
	defaultDiskUsageTableFormat           Format = "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}"
	defaultDiskUsageImageTableFormat      Format = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}"
	defaultDiskUsageContainerTableFormat  Format = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.RunningFor}}\t{{.Status}}\t{{.Names}}"
	defaultDiskUsageVolumeTableFormat     Format = "table {{.Name}}\t{{.Links}}\t{{.Size}}"
	defaultDiskUsageBuildCacheTableFormat Format = "table {{.ID}}\t{{.CacheType}}\t{{.Size}}\t{{.CreatedSince}}\t{{.LastUsedSince}}\t{{.UsageCount}}\t{{.Shared}}"
)

// DiskUsageTotals is one line of the "system df" summary.
type DiskUsageTotals struct {
	TotalCount  int64
	ActiveCount int64
	Size        int64
	Reclaimable int64
}

// DiskUsage is what "system df" reports: a summary line per kind of
// object and, for -v, the objects themselves.
type DiskUsage struct {
	Images, Containers, Volumes, BuildCache DiskUsageTotals

	ImageItems      []image.Summary
	ContainerItems  []container.Summary
	VolumeItems     []volume.Volume
	BuildCacheItems []build.CacheRecord
}

// TotalsFromItems fills the summary from the lists, as docker 28 does with
// the answer of a daemon before API 1.52 (which sends lists, not totals).
// layersSize is the size of all image layers, each counted once.
func (du *DiskUsage) TotalsFromItems(layersSize int64) {
	du.Images = DiskUsageTotals{TotalCount: int64(len(du.ImageItems)), Size: layersSize}
	var usedByContainers int64
	for _, img := range du.ImageItems {
		if img.Containers > 0 {
			du.Images.ActiveCount++
		}
		// Containers is -1 when the daemon did not count: docker then
		// takes the image as used.
		if img.Containers != 0 && img.Size != -1 && img.SharedSize != -1 {
			usedByContainers += img.Size - img.SharedSize
		}
	}
	du.Images.Reclaimable = layersSize - usedByContainers

	du.Containers = DiskUsageTotals{TotalCount: int64(len(du.ContainerItems))}
	for _, c := range du.ContainerItems {
		du.Containers.Size += c.SizeRw
		if containerActive(c.State) {
			du.Containers.ActiveCount++
		} else {
			du.Containers.Reclaimable += c.SizeRw
		}
	}

	du.Volumes = DiskUsageTotals{TotalCount: int64(len(du.VolumeItems))}
	for _, v := range du.VolumeItems {
		if v.UsageData == nil {
			continue
		}
		if v.UsageData.RefCount > 0 {
			du.Volumes.ActiveCount++
		}
		if v.UsageData.Size != -1 {
			du.Volumes.Size += v.UsageData.Size
			if v.UsageData.RefCount == 0 {
				du.Volumes.Reclaimable += v.UsageData.Size
			}
		}
	}

	du.BuildCache = DiskUsageTotals{TotalCount: int64(len(du.BuildCacheItems))}
	var inUse int64
	for _, bc := range du.BuildCacheItems {
		if bc.InUse {
			du.BuildCache.ActiveCount++
		}
		if !bc.Shared {
			du.BuildCache.Size += bc.Size
			if bc.InUse {
				inUse += bc.Size
			}
		}
	}
	du.BuildCache.Reclaimable = du.BuildCache.Size - inUse
}

func containerActive(state container.ContainerState) bool {
	s := string(state)
	return strings.Contains(s, "running") || strings.Contains(s, "paused") || strings.Contains(s, "restarting")
}

// NewDiskUsageFormat is the format "system df" uses for --format (source)
// and -v (verbose).
func NewDiskUsageFormat(source string, verbose bool) Format {
	switch {
	case verbose && source == RawFormatKey:
		return Format(`{{range .Images}}type: Image
` + string(NewImageFormat(source, false, true)) + `
{{end -}}
{{range .Containers}}type: Container
` + string(NewContainerFormat(source, false, true)) + `
{{end -}}
{{range .Volumes}}type: Volume
` + rawVolumeFormat + `
{{end -}}
{{range .BuildCache}}type: Build Cache
` + rawBuildCacheFormat + `
{{end -}}`)
	case !verbose && source == TableFormatKey:
		return defaultDiskUsageTableFormat
	case !verbose && source == RawFormatKey:
		return `type: {{.Type}}
total: {{.TotalCount}}
active: {{.Active}}
size: {{.Size}}
reclaimable: {{.Reclaimable}}
`
	default:
		return Format(source)
	}
}

// DiskUsageWrite renders "system df": the summary, or with verbose the
// objects, in four tables for the plain "table" format or through one
// template that sees .Images, .Containers, .Volumes and .BuildCache.
func DiskUsageWrite(ctx Context, verbose bool, du DiskUsage) error {
	if verbose {
		return diskUsageVerboseWrite(ctx, du)
	}
	header := &diskUsageRow{HeaderContext: HeaderContext{Header: SubHeaderContext{
		"Type":        "TYPE",
		"TotalCount":  "TOTAL",
		"Active":      "ACTIVE",
		"Size":        "SIZE",
		"Reclaimable": "RECLAIMABLE",
	}}}
	// One type per line, named as docker's, because template errors name
	// the type of the first line.
	return writeRows(ctx, header, []SubContext{
		&diskUsageImagesContext{diskUsageRow{kind: "Images", t: du.Images, percent: true}},
		&diskUsageContainersContext{diskUsageRow{kind: "Containers", t: du.Containers, percent: true}},
		&diskUsageVolumesContext{diskUsageRow{kind: "Local Volumes", t: du.Volumes, percent: true}},
		&diskUsageBuilderContext{diskUsageRow{kind: "Build Cache", t: du.BuildCache}},
	})
}

func writeRows(ctx Context, header SubContext, rows []SubContext) error {
	return ctx.Write(header, func(row func(SubContext) error) error {
		for _, r := range rows {
			if err := row(r); err != nil {
				return err
			}
		}
		return nil
	})
}

// diskUsageRow is a summary line; percent adds the reclaimable share of
// the size, which docker shows for all but the build cache.
type diskUsageRow struct {
	HeaderContext
	kind    string
	t       DiskUsageTotals
	percent bool
}

func (r *diskUsageRow) MarshalJSON() ([]byte, error) { return MarshalJSON(r) }

func (r *diskUsageRow) Type() string       { return r.kind }
func (r *diskUsageRow) TotalCount() string { return strconv.FormatInt(r.t.TotalCount, 10) }
func (r *diskUsageRow) Active() string     { return strconv.FormatInt(r.t.ActiveCount, 10) }
func (r *diskUsageRow) Size() string       { return units.HumanSize(float64(r.t.Size)) }

func (r *diskUsageRow) Reclaimable() string {
	s := units.HumanSize(float64(r.t.Reclaimable))
	if r.percent && r.t.Size > 0 {
		return fmt.Sprintf("%s (%v%%)", s, (r.t.Reclaimable*100)/r.t.Size)
	}
	return s
}

type (
	diskUsageImagesContext     struct{ diskUsageRow }
	diskUsageContainersContext struct{ diskUsageRow }
	diskUsageVolumesContext    struct{ diskUsageRow }
	diskUsageBuilderContext    struct{ diskUsageRow }
)

// diskUsageContext is what a -v --format template sees.
type diskUsageContext struct {
	Images     []*imageContext
	Containers []*ContainerContext
	Volumes    []*volumeContext
	BuildCache []*buildCacheContext
}

func diskUsageVerboseWrite(ctx Context, du DiskUsage) error {
	trunc := ctx.Format.IsTable()
	duc := &diskUsageContext{
		Images:     make([]*imageContext, 0, len(du.ImageItems)),
		Containers: make([]*ContainerContext, 0, len(du.ContainerItems)),
		Volumes:    make([]*volumeContext, 0, len(du.VolumeItems)),
		BuildCache: make([]*buildCacheContext, 0, len(du.BuildCacheItems)),
	}
	for _, img := range du.ImageItems {
		repo, tag := "<none>", "<none>"
		if len(img.RepoTags) > 0 && !isDangling(img) {
			// Only the first tag; an image whose tag does not parse is
			// left out, as docker does.
			ref, err := reference.ParseNormalizedNamed(img.RepoTags[0])
			if err != nil {
				continue
			}
			if nt, ok := ref.(reference.NamedTagged); ok {
				repo, tag = reference.FamiliarName(ref), nt.Tag()
			}
		}
		duc.Images = append(duc.Images, &imageContext{repo: repo, tag: tag, trunc: trunc, i: img})
	}
	for _, c := range du.ContainerItems {
		c.SizeRootFs = 0 // the virtual size is not shown here
		duc.Containers = append(duc.Containers, &ContainerContext{trunc: trunc, c: c})
	}
	for _, v := range du.VolumeItems {
		duc.Volumes = append(duc.Volumes, &volumeContext{v: v})
	}
	records := append([]build.CacheRecord(nil), du.BuildCacheItems...)
	sortBuildCache(records)
	for _, bc := range records {
		duc.BuildCache = append(duc.BuildCache, &buildCacheContext{v: bc, trunc: trunc})
	}

	if ctx.Format == TableFormatKey {
		return diskUsageVerboseTable(ctx.Output, du, duc)
	}
	tmpl, err := ParseTemplate(ctx.Format.templateString())
	if err != nil {
		return fmt.Errorf("template parsing error: %w", err)
	}
	out := ctx.Output
	if out == nil {
		out = io.Discard
	}
	return tmpl.Execute(out, duc)
}

func diskUsageVerboseTable(out io.Writer, du DiskUsage, duc *diskUsageContext) error {
	sections := []struct {
		title  string
		format Format
		header SubContext
		rows   []SubContext
	}{
		{"Images space usage:\n\n", defaultDiskUsageImageTableFormat, newImageContext(), subContexts(duc.Images)},
		{"\nContainers space usage:\n\n", defaultDiskUsageContainerTableFormat, NewContainerContext(), subContexts(duc.Containers)},
		{"\nLocal Volumes space usage:\n\n", defaultDiskUsageVolumeTableFormat, newVolumeContext(), subContexts(duc.Volumes)},
		{fmt.Sprintf("\nBuild cache usage: %s\n\n", units.HumanSize(float64(du.BuildCache.Size))), defaultDiskUsageBuildCacheTableFormat, newBuildCacheContext(), subContexts(duc.BuildCache)},
	}
	for _, s := range sections {
		_, _ = io.WriteString(out, s.title)
		if err := writeRows(Context{Output: out, Format: s.format}, s.header, s.rows); err != nil {
			return err
		}
	}
	return nil
}

func subContexts[T SubContext](rows []T) []SubContext {
	out := make([]SubContext, len(rows))
	for i, r := range rows {
		out[i] = r
	}
	return out
}
