package formatter

import (
	"fmt"
	"strconv"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/volume"
)

const (
	// rawVolumeFormat is a volume in "--format raw" output.
	rawVolumeFormat          = `name: {{.Name}}\ndriver: {{.Driver}}\n`
	defaultVolumeTableFormat = "table {{.Driver}}\t{{.Name}}"
	defaultVolumeQuietFormat = "{{.Name}}"
)

// NewVolumeFormat is the format "volume ls" uses for its --format value
// (source) and -q (quiet).
func NewVolumeFormat(source string, quiet bool) Format {
	switch source {
	case TableFormatKey:
		if quiet {
			return defaultVolumeQuietFormat
		}
		return defaultVolumeTableFormat
	case RawFormatKey:
		if quiet {
			return `name: {{.Name}}`
		}
		return rawVolumeFormat
	}
	return Format(source)
}

// VolumeWrite renders volumes, one row each.
func VolumeWrite(ctx Context, volumes []volume.Volume) error {
	return ctx.Write(newVolumeContext(), func(row func(SubContext) error) error {
		for _, v := range volumes {
			if err := row(&volumeContext{v: v}); err != nil {
				return err
			}
		}
		return nil
	})
}

// volumeContext is one volume as --format templates see it; its methods
// are the keys of its JSON form, as docker's.
type volumeContext struct {
	HeaderContext
	v volume.Volume
}

func newVolumeContext() *volumeContext {
	c := volumeContext{}
	c.Header = SubHeaderContext{
		"ID":           "ID",
		"Name":         "VOLUME NAME",
		"Group":        "GROUP",
		"Driver":       "DRIVER",
		"Scope":        "SCOPE",
		"Availability": "AVAILABILITY",
		"Mountpoint":   "MOUNTPOINT",
		"Labels":       "LABELS",
		"Links":        "LINKS",
		"Size":         "SIZE",
		"Status":       "STATUS",
	}
	return &c
}

func (c *volumeContext) MarshalJSON() ([]byte, error) { return MarshalJSON(c) }

func (c *volumeContext) Name() string       { return c.v.Name }
func (c *volumeContext) Driver() string     { return c.v.Driver }
func (c *volumeContext) Scope() string      { return c.v.Scope }
func (c *volumeContext) Mountpoint() string { return c.v.Mountpoint }

func (c *volumeContext) Labels() string { return joinLabels(c.v.Labels) }

func (c *volumeContext) Label(name string) string { return c.v.Labels[name] }

// Links is how many containers use the volume; N/A when the daemon did not
// count (only "system df" does).
func (c *volumeContext) Links() string {
	if c.v.UsageData == nil {
		return "N/A"
	}
	return strconv.FormatInt(c.v.UsageData.RefCount, 10)
}

func (c *volumeContext) Size() string {
	if c.v.UsageData == nil {
		return "N/A"
	}
	return units.HumanSize(float64(c.v.UsageData.Size))
}

func (c *volumeContext) Group() string {
	if c.v.ClusterVolume == nil {
		return "N/A"
	}
	return c.v.ClusterVolume.Spec.Group
}

func (c *volumeContext) Availability() string {
	if c.v.ClusterVolume == nil {
		return "N/A"
	}
	return string(c.v.ClusterVolume.Spec.Availability)
}

func (c *volumeContext) Status() string {
	if c.v.ClusterVolume == nil {
		return "N/A"
	}
	if c.v.ClusterVolume.Info == nil || c.v.ClusterVolume.Info.VolumeID == "" {
		return "pending creation"
	}
	switch n := len(c.v.ClusterVolume.PublishStatus); n {
	case 0:
		return "created"
	case 1:
		return "in use (1 node)"
	default:
		return fmt.Sprintf("in use (%d nodes)", n)
	}
}
