package formatter

import (
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/build"
)

// rawBuildCacheFormat is a build cache record in "--format raw" output.
const rawBuildCacheFormat = `build_cache_id: {{.ID}}
parent_id: {{.Parent}}
build_cache_type: {{.CacheType}}
description: {{.Description}}
created_at: {{.CreatedAt}}
created_since: {{.CreatedSince}}
last_used_at: {{.LastUsedAt}}
last_used_since: {{.LastUsedSince}}
usage_count: {{.UsageCount}}
in_use: {{.InUse}}
shared: {{.Shared}}
`

// sortBuildCache orders records as docker lists them: never used first,
// then least recently used, ties by ID.
func sortBuildCache(records []build.CacheRecord) {
	sort.Slice(records, func(i, j int) bool {
		lui, luj := records[i].LastUsedAt, records[j].LastUsedAt
		switch {
		case lui == nil && luj == nil:
			return records[i].ID < records[j].ID
		case lui == nil:
			return true
		case luj == nil:
			return false
		case lui.Equal(*luj):
			return records[i].ID < records[j].ID
		default:
			return lui.Before(*luj)
		}
	})
}

// buildCacheContext is one build cache record as --format templates see it.
type buildCacheContext struct {
	HeaderContext
	trunc bool
	v     build.CacheRecord
}

func newBuildCacheContext() *buildCacheContext {
	c := buildCacheContext{}
	c.Header = SubHeaderContext{
		"ID":            "CACHE ID",
		"Parent":        "PARENT",
		"CacheType":     "CACHE TYPE",
		"Size":          "SIZE",
		"CreatedSince":  "CREATED",
		"LastUsedSince": "LAST USED",
		"UsageCount":    "USAGE",
		"InUse":         "IN USE",
		"Shared":        "SHARED",
		"Description":   "DESCRIPTION",
	}
	return &c
}

func (c *buildCacheContext) MarshalJSON() ([]byte, error) { return MarshalJSON(c) }

// ID is marked with "*" while the record is in use.
func (c *buildCacheContext) ID() string {
	id := c.v.ID
	if c.trunc {
		id = TruncateID(id)
	}
	if c.v.InUse {
		return id + "*"
	}
	return id
}

func (c *buildCacheContext) Parent() string {
	parent := strings.Join(c.v.Parents, ", ")
	if c.trunc {
		return TruncateID(parent)
	}
	return parent
}

func (c *buildCacheContext) CacheType() string   { return c.v.Type }
func (c *buildCacheContext) Description() string { return c.v.Description }
func (c *buildCacheContext) Size() string        { return HumanSize(c.v.Size) }
func (c *buildCacheContext) CreatedAt() string   { return c.v.CreatedAt.String() }
func (c *buildCacheContext) CreatedSince() string {
	return TimeAgo(c.v.CreatedAt, time.Now())
}

func (c *buildCacheContext) LastUsedAt() string {
	if c.v.LastUsedAt == nil {
		return ""
	}
	return c.v.LastUsedAt.String()
}

func (c *buildCacheContext) LastUsedSince() string {
	if c.v.LastUsedAt == nil {
		return ""
	}
	return TimeAgo(*c.v.LastUsedAt, time.Now())
}

func (c *buildCacheContext) UsageCount() string { return strconv.Itoa(c.v.UsageCount) }
func (c *buildCacheContext) InUse() string      { return strconv.FormatBool(c.v.InUse) }
func (c *buildCacheContext) Shared() string     { return strconv.FormatBool(c.v.Shared) }
