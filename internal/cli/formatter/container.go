package formatter

import (
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/distribution/reference"
	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/container"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

const defaultContainerTableFormat = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"

// NewContainerFormat is the format "ps" uses for its --format value
// (source), -q (quiet) and -s (size).
func NewContainerFormat(source string, quiet, size bool) Format {
	switch source {
	case TableFormatKey, "":
		if quiet {
			return DefaultQuietFormat
		}
		format := defaultContainerTableFormat
		if size {
			format += `\t{{.Size}}`
		}
		return Format(format)
	case RawFormatKey:
		if quiet {
			return `container_id: {{.ID}}`
		}
		format := `container_id: {{.ID}}
image: {{.Image}}
command: {{.Command}}
created_at: {{.CreatedAt}}
state: {{- pad .State 1 0}}
status: {{- pad .Status 1 0}}
names: {{.Names}}
labels: {{- pad .Labels 1 0}}
ports: {{- pad .Ports 1 0}}
`
		if size {
			format += `size: {{.Size}}\n`
		}
		return Format(format)
	default:
		if quiet {
			return DefaultQuietFormat
		}
		return Format(source)
	}
}

// ContainerWrite renders containers through ctx.
func ContainerWrite(ctx Context, containers []container.Summary) error {
	return ctx.Write(NewContainerContext(), func(row func(SubContext) error) error {
		for _, c := range containers {
			if err := row(&ContainerContext{trunc: ctx.Trunc, c: c, now: time.Now()}); err != nil {
				return err
			}
		}
		return nil
	})
}

// ContainerContext is one container as --format templates see it.
type ContainerContext struct {
	HeaderContext
	trunc bool
	c     container.Summary
	now   time.Time

	// FieldsUsed records fields a template touched; "ps" runs the template
	// once on an empty row to learn whether .Size is used, and then asks
	// the daemon for sizes (which are costly) only if so.
	FieldsUsed map[string]any
}

// NewContainerContext is the header row (and the template probe).
func NewContainerContext() *ContainerContext {
	c := ContainerContext{}
	c.Header = SubHeaderContext{
		"ID":           "CONTAINER ID",
		"Names":        "NAMES",
		"Image":        "IMAGE",
		"Command":      "COMMAND",
		"CreatedAt":    "CREATED AT",
		"RunningFor":   "CREATED",
		"Ports":        "PORTS",
		"State":        "STATE",
		"Status":       "STATUS",
		"Size":         "SIZE",
		"Labels":       "LABELS",
		"Mounts":       "MOUNTS",
		"LocalVolumes": "LOCAL VOLUMES",
		"Networks":     "NETWORKS",
		"Platform":     "PLATFORM",
	}
	return &c
}

// MarshalJSON is {{json .}}.
func (c *ContainerContext) MarshalJSON() ([]byte, error) { return MarshalJSON(c) }

// ID is the container ID, 12 characters unless --no-trunc.
func (c *ContainerContext) ID() string {
	if c.trunc {
		return TruncateID(c.c.ID)
	}
	return c.c.ID
}

// Names joins the names without their "/"; truncated output shows only the
// first name that is not a legacy link ("/other/alias").
func (c *ContainerContext) Names() string {
	var b strings.Builder
	for i, n := range c.c.Names {
		name := strings.TrimPrefix(n, "/")
		if c.trunc {
			if !strings.Contains(name, "/") {
				return name
			}
			continue
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(name)
	}
	return b.String()
}

// Image is the image as the user named it; truncated output drops a
// registry digest and shows an image ID as 12 characters.
func (c *ContainerContext) Image() string {
	if c.c.Image == "" {
		return "<no image>"
	}
	if !c.trunc {
		return c.c.Image
	}
	if trunc := TruncateID(c.c.ImageID); trunc == TruncateID(c.c.Image) {
		return trunc
	}
	ref, err := reference.ParseNormalizedNamed(c.c.Image)
	if err != nil {
		return c.c.Image
	}
	if _, ok := ref.(reference.Digested); ok {
		var tag string
		if t, ok := ref.(reference.Tagged); ok {
			tag = t.Tag()
		}
		ref = reference.TrimNamed(ref)
		if tag != "" {
			if out, err := reference.WithTag(ref, tag); err == nil {
				ref = out
			}
		}
	}
	return reference.FamiliarString(ref)
}

// Command is the quoted command, cut to 20 columns unless --no-trunc.
func (c *ContainerContext) Command() string {
	command := c.c.Command
	if c.trunc {
		command = Ellipsis(command, 20)
	}
	return strconv.Quote(command)
}

// CreatedAt is the creation time in Go's default layout, local time zone.
func (c *ContainerContext) CreatedAt() string {
	return time.Unix(c.c.Created, 0).String()
}

// RunningFor is the CREATED column: "5 minutes ago".
func (c *ContainerContext) RunningFor() string {
	now := c.now
	if now.IsZero() {
		now = time.Now()
	}
	return TimeAgo(time.Unix(c.c.Created, 0), now)
}

// Platform is the image platform when the daemon reports one, else null.
func (c *ContainerContext) Platform() *Platform {
	d := c.c.ImageManifestDescriptor
	if d == nil || d.Platform == nil {
		return nil
	}
	return &Platform{*d.Platform}
}

// Ports is the PORTS column.
func (c *ContainerContext) Ports() string { return DisplayablePorts(c.c.Ports) }

// State is "running", "exited", ...
func (c *ContainerContext) State() string { return string(c.c.State) }

// Status is the daemon's status text: "Up 3 seconds", "Exited (0) 5 seconds ago".
func (c *ContainerContext) Status() string { return c.c.Status }

// Size is "2B (virtual 21.5MB)".
func (c *ContainerContext) Size() string {
	if c.FieldsUsed == nil {
		c.FieldsUsed = map[string]any{}
	}
	c.FieldsUsed["Size"] = struct{}{}
	srw := units.HumanSizeWithPrecision(float64(c.c.SizeRw), 3)
	sv := units.HumanSizeWithPrecision(float64(c.c.SizeRootFs), 3)
	if c.c.SizeRootFs > 0 {
		return fmt.Sprintf("%s (virtual %s)", srw, sv)
	}
	return srw
}

// Labels is "k=v,k2=v2", sorted.
func (c *ContainerContext) Labels() string { return joinLabels(c.c.Labels) }

// Label is one label's value: {{.Label "com.example.x"}}.
func (c *ContainerContext) Label(name string) string { return c.c.Labels[name] }

// Mounts lists volume names or bind sources, each cut to 15 columns
// unless --no-trunc.
func (c *ContainerContext) Mounts() string {
	mounts := make([]string, 0, len(c.c.Mounts))
	for _, m := range c.c.Mounts {
		name := m.Name
		if name == "" {
			name = m.Source
		}
		if c.trunc {
			name = Ellipsis(name, 15)
		}
		mounts = append(mounts, name)
	}
	return strings.Join(mounts, ",")
}

// LocalVolumes counts mounts of the local volume driver.
func (c *ContainerContext) LocalVolumes() string {
	n := 0
	for _, m := range c.c.Mounts {
		if m.Driver == "local" {
			n++
		}
	}
	return strconv.Itoa(n)
}

// Networks lists the networks the container is attached to.
func (c *ContainerContext) Networks() string {
	if c.c.NetworkSettings == nil {
		return ""
	}
	networks := make([]string, 0, len(c.c.NetworkSettings.Networks))
	for k := range c.c.NetworkSettings.Networks {
		networks = append(networks, k)
	}
	sort.Strings(networks)
	return strings.Join(networks, ",")
}

// Platform prints as "os/arch[/variant]" in templates and JSON.
type Platform struct {
	ocispec.Platform
}

func (p Platform) String() string {
	if p.OS == "" {
		return "unknown"
	}
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// DisplayablePorts is the PORTS column: published ports with the same
// private and public number compacted into ranges per host IP and protocol
// ("0.0.0.0:9000-9002->9000-9002/tcp"), exposed-only ports likewise
// ("7000-7003/tcp"), and other mappings listed one by one at the end
// ("0.0.0.0:8080->80/tcp"). This is docker's algorithm, order included.
func DisplayablePorts(ports []container.PortSummary) string {
	type portGroup struct{ first, last uint16 }
	groupMap := make(map[string]*portGroup)
	var result, hostMappings, groupMapKeys []string
	ports = append([]container.PortSummary(nil), ports...)
	sort.Slice(ports, func(i, j int) bool { return comparePorts(ports[i], ports[j]) })

	for _, port := range ports {
		current := port.PrivatePort
		portKey := port.Type
		if port.IP.IsValid() {
			if port.PublicPort != current {
				hAddrPort := net.JoinHostPort(port.IP.String(), strconv.Itoa(int(port.PublicPort)))
				hostMappings = append(hostMappings, fmt.Sprintf("%s->%d/%s", hAddrPort, port.PrivatePort, port.Type))
				continue
			}
			portKey = port.IP.String() + "/" + port.Type
		}
		group := groupMap[portKey]
		if group == nil {
			groupMap[portKey] = &portGroup{first: current, last: current}
			groupMapKeys = append(groupMapKeys, portKey)
			continue
		}
		if current == group.last+1 {
			group.last = current
			continue
		}
		result = append(result, formGroup(portKey, group.first, group.last))
		groupMap[portKey] = &portGroup{first: current, last: current}
	}
	for _, portKey := range groupMapKeys {
		g := groupMap[portKey]
		result = append(result, formGroup(portKey, g.first, g.last))
	}
	result = append(result, hostMappings...)
	return strings.Join(result, ", ")
}

func formGroup(key string, start, last uint16) string {
	ip, groupType := "", key
	if i := strings.LastIndexByte(key, '/'); i >= 0 {
		ip, groupType = key[:i], key[i+1:]
	}
	group := strconv.Itoa(int(start))
	if start != last {
		group = fmt.Sprintf("%s-%d", group, last)
	}
	if ip != "" {
		group = fmt.Sprintf("%s->%s", net.JoinHostPort(ip, group), group)
	}
	return group + "/" + groupType
}

func comparePorts(i, j container.PortSummary) bool {
	if i.PrivatePort != j.PrivatePort {
		return i.PrivatePort < j.PrivatePort
	}
	if i.IP != j.IP {
		return i.IP.String() < j.IP.String()
	}
	if i.PublicPort != j.PublicPort {
		return i.PublicPort < j.PublicPort
	}
	return i.Type < j.Type
}
