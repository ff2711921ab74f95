package formatter

import (
	"strconv"
	"time"

	"github.com/distribution/reference"
	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/image"
)

const (
	defaultImageTableFormat           = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}"
	defaultImageTableFormatWithDigest = "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}"
)

// ImageContext renders "images" output; Digest is --digests.
type ImageContext struct {
	Context
	Digest bool
}

// NewImageFormat is the format "images" uses for its --format value
// (source), -q (quiet) and --digests (digest).
func NewImageFormat(source string, quiet, digest bool) Format {
	switch source {
	case TableFormatKey:
		switch {
		case quiet:
			return DefaultQuietFormat
		case digest:
			return defaultImageTableFormatWithDigest
		default:
			return defaultImageTableFormat
		}
	case RawFormatKey:
		switch {
		case quiet:
			return `image_id: {{.ID}}`
		case digest:
			return `repository: {{ .Repository }}
tag: {{.Tag}}
digest: {{.Digest}}
image_id: {{.ID}}
created_at: {{.CreatedAt}}
virtual_size: {{.Size}}
`
		default:
			return `repository: {{ .Repository }}
tag: {{.Tag}}
image_id: {{.ID}}
created_at: {{.CreatedAt}}
virtual_size: {{.Size}}
`
		}
	}
	format := Format(source)
	if format.IsTable() && digest && !format.Contains("{{.Digest}}") {
		format += "\t{{.Digest}}"
	}
	return format
}

// ImageWrite renders images: one row per repository and tag (and digest
// with --digests), "<none>" rows for dangling images.
func ImageWrite(ctx ImageContext, images []image.Summary) error {
	now := time.Now()
	return ctx.Write(newImageContext(), func(row func(SubContext) error) error {
		for _, img := range images {
			for _, r := range imageRows(ctx, img) {
				r.now = now
				if err := row(r); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

func isDangling(img image.Summary) bool {
	if len(img.RepoTags) == 0 && len(img.RepoDigests) == 0 {
		return true
	}
	return len(img.RepoTags) == 1 && img.RepoTags[0] == "<none>:<none>" && len(img.RepoDigests) == 1 && img.RepoDigests[0] == "<none>@<none>"
}

func imageRows(ctx ImageContext, img image.Summary) []*imageContext {
	if isDangling(img) {
		return []*imageContext{{trunc: ctx.Trunc, i: img, repo: "<none>", tag: "<none>", digest: "<none>"}}
	}
	// Repositories keep the order the daemon listed them in.
	var repos []string
	repoTags := map[string][]string{}
	repoDigests := map[string][]string{}
	for _, s := range img.RepoTags {
		ref, err := reference.ParseNormalizedNamed(s)
		if err != nil {
			continue
		}
		if nt, ok := ref.(reference.NamedTagged); ok {
			name := reference.FamiliarName(ref)
			if _, seen := repoTags[name]; !seen {
				repos = append(repos, name)
			}
			repoTags[name] = append(repoTags[name], nt.Tag())
		}
	}
	var digestRepos []string
	for _, s := range img.RepoDigests {
		ref, err := reference.ParseNormalizedNamed(s)
		if err != nil {
			continue
		}
		if c, ok := ref.(reference.Canonical); ok {
			name := reference.FamiliarName(ref)
			if _, seen := repoDigests[name]; !seen {
				digestRepos = append(digestRepos, name)
			}
			repoDigests[name] = append(repoDigests[name], c.Digest().String())
		}
	}
	needDigest := ctx.Digest || ctx.Format.Contains("{{.Digest}}")

	var rows []*imageContext
	add := func(repo, tag, digest string) {
		rows = append(rows, &imageContext{trunc: ctx.Trunc, i: img, repo: repo, tag: tag, digest: digest})
	}
	for _, repo := range repos {
		digests := repoDigests[repo]
		delete(repoDigests, repo) // shown with the tags, not on rows of their own
		if !needDigest {
			digests = nil
		}
		for _, tag := range repoTags[repo] {
			if len(digests) == 0 {
				add(repo, tag, "<none>")
				continue
			}
			for _, d := range digests {
				add(repo, tag, d)
			}
		}
	}
	for _, repo := range digestRepos {
		digests, ok := repoDigests[repo]
		if !ok {
			continue
		}
		if ctx.Digest {
			for _, d := range digests {
				add(repo, "<none>", d)
			}
		} else {
			add(repo, "<none>", "")
		}
	}
	return rows
}

type imageContext struct {
	HeaderContext
	trunc  bool
	i      image.Summary
	repo   string
	tag    string
	digest string
	now    time.Time
}

func newImageContext() *imageContext {
	c := imageContext{}
	c.Header = SubHeaderContext{
		"ID":           "IMAGE ID",
		"Repository":   "REPOSITORY",
		"Tag":          "TAG",
		"Digest":       "DIGEST",
		"CreatedSince": "CREATED",
		"CreatedAt":    "CREATED AT",
		"Size":         "SIZE",
		"Containers":   "CONTAINERS",
		"VirtualSize":  "VIRTUAL SIZE",
		"SharedSize":   "SHARED SIZE",
		"UniqueSize":   "UNIQUE SIZE",
	}
	return &c
}

func (c *imageContext) MarshalJSON() ([]byte, error) { return MarshalJSON(c) }

func (c *imageContext) ID() string {
	if c.trunc {
		return TruncateID(c.i.ID)
	}
	return c.i.ID
}

func (c *imageContext) Repository() string { return c.repo }
func (c *imageContext) Tag() string        { return c.tag }
func (c *imageContext) Digest() string     { return c.digest }

func (c *imageContext) CreatedSince() string {
	createdAt := time.Unix(c.i.Created, 0)
	if createdAt.IsZero() {
		return ""
	}
	now := c.now
	if now.IsZero() {
		now = time.Now()
	}
	return TimeAgo(createdAt, now)
}

func (c *imageContext) CreatedAt() string { return time.Unix(c.i.Created, 0).String() }

func (c *imageContext) Size() string { return HumanSize(c.i.Size) }

func (c *imageContext) Containers() string {
	if c.i.Containers == -1 {
		return "N/A"
	}
	return strconv.FormatInt(c.i.Containers, 10)
}

// VirtualSize is kept for templates written for older docker; it is the
// image size, with go-units' default four significant digits as docker prints it.
func (c *imageContext) VirtualSize() string { return units.HumanSize(float64(c.i.Size)) }

func (c *imageContext) SharedSize() string {
	if c.i.SharedSize == -1 {
		return "N/A"
	}
	return units.HumanSize(float64(c.i.SharedSize))
}

func (c *imageContext) UniqueSize() string {
	if c.i.Size == -1 || c.i.SharedSize == -1 {
		return "N/A"
	}
	return units.HumanSize(float64(c.i.Size - c.i.SharedSize))
}
