package formatter

import (
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/image"
)

const (
	defaultHistoryTableFormat  = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
	nonHumanHistoryTableFormat = "table {{.ID}}\t{{.CreatedAt}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
)

// NewHistoryFormat is the format "history" uses for --format (source), -q
// and -H (human).
func NewHistoryFormat(source string, quiet, human bool) Format {
	if source == TableFormatKey {
		switch {
		case quiet:
			return DefaultQuietFormat
		case !human:
			return nonHumanHistoryTableFormat
		default:
			return defaultHistoryTableFormat
		}
	}
	return Format(source)
}

// HistoryWrite renders an image's history.
func HistoryWrite(ctx Context, human bool, history []image.HistoryResponseItem) error {
	header := &historyContext{HeaderContext: HeaderContext{Header: SubHeaderContext{
		"ID":           "IMAGE",
		"CreatedSince": "CREATED",
		"CreatedAt":    "CREATED AT",
		"CreatedBy":    "CREATED BY",
		"Size":         "SIZE",
		"Comment":      "COMMENT",
	}}}
	now := time.Now()
	return ctx.Write(header, func(row func(SubContext) error) error {
		for _, h := range history {
			if err := row(&historyContext{trunc: ctx.Trunc, h: h, human: human, now: now}); err != nil {
				return err
			}
		}
		return nil
	})
}

type historyContext struct {
	HeaderContext
	trunc bool
	human bool
	h     image.HistoryResponseItem
	now   time.Time
}

func (c *historyContext) MarshalJSON() ([]byte, error) { return MarshalJSON(c) }

func (c *historyContext) ID() string {
	if c.trunc {
		return TruncateID(c.h.ID)
	}
	return c.h.ID
}

func (c *historyContext) CreatedAt() string {
	return time.Unix(c.h.Created, 0).Format(time.RFC3339)
}

// epoch: layers dated before it (e.g. reproducible builds at 1970) show N/A.
var epoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).Unix()

func (c *historyContext) CreatedSince() string {
	if !c.human {
		return c.CreatedAt()
	}
	if c.h.Created <= epoch {
		return "N/A"
	}
	now := c.now
	if now.IsZero() {
		now = time.Now()
	}
	return TimeAgo(time.Unix(c.h.Created, 0), now)
}

func (c *historyContext) CreatedBy() string {
	createdBy := strings.ReplaceAll(c.h.CreatedBy, "\t", " ")
	if c.trunc {
		return Ellipsis(createdBy, 45)
	}
	return createdBy
}

func (c *historyContext) Size() string {
	if c.human {
		return HumanSize(c.h.Size)
	}
	return strconv.FormatInt(c.h.Size, 10)
}

func (c *historyContext) Comment() string { return c.h.Comment }
