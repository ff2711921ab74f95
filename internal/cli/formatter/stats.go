package formatter

import (
	"strconv"
	"strings"

	"github.com/docker/go-units"
)

const defaultStatsTableFormat = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}"

// noStatsValue stands for a number that is not known: the container's
// statistics could not be read.
const noStatsValue = "--"

// StatsEntry is one container's resource usage, computed from the
// daemon's stats, as the "stats" columns show it.
type StatsEntry struct {
	// Container is what the user named the container by (or its short
	// ID); the daemon's answer fills Name and ID.
	Container        string
	Name             string
	ID               string
	CPUPercentage    float64
	MemoryPercentage float64
	// Byte counts.
	Memory      uint64
	MemoryLimit uint64
	NetworkRx   uint64
	NetworkTx   uint64
	BlockRead   uint64
	BlockWrite  uint64
	PidsCurrent uint64
	// IsInvalid marks numbers that could not be read (an error, or no
	// answer in time): every column shows "--".
	IsInvalid bool
}

// NewStatsFormat is the format "stats" uses for its --format value.
func NewStatsFormat(source string) Format {
	if source == TableFormatKey {
		return defaultStatsTableFormat
	}
	return Format(source)
}

// StatsWrite renders one row per container.
func StatsWrite(ctx Context, stats []StatsEntry) error {
	return ctx.Write(newStatsContext(), func(row func(SubContext) error) error {
		for _, s := range stats {
			if err := row(&statsContext{s: s, trunc: ctx.Trunc}); err != nil {
				return err
			}
		}
		return nil
	})
}

// statsContext is one container's usage as --format templates see it;
// its methods are the keys of its JSON form, as docker's.
type statsContext struct {
	HeaderContext
	s     StatsEntry
	trunc bool
}

func newStatsContext() *statsContext {
	c := statsContext{}
	c.Header = SubHeaderContext{
		"Container": "CONTAINER",
		"Name":      "NAME",
		"ID":        "CONTAINER ID",
		"CPUPerc":   "CPU %",
		"MemUsage":  "MEM USAGE / LIMIT",
		"MemPerc":   "MEM %",
		"NetIO":     "NET I/O",
		"BlockIO":   "BLOCK I/O",
		"PIDs":      "PIDS",
	}
	return &c
}

func (c *statsContext) MarshalJSON() ([]byte, error) { return MarshalJSON(c) }

func (c *statsContext) Container() string { return c.s.Container }

// Name is the container's name without its "/", "--" before the daemon
// answered.
func (c *statsContext) Name() string {
	if name := strings.TrimPrefix(c.s.Name, "/"); name != "" {
		return name
	}
	return noStatsValue
}

func (c *statsContext) ID() string {
	if c.trunc {
		return TruncateID(c.s.ID)
	}
	return c.s.ID
}

func (c *statsContext) CPUPerc() string { return c.known(formatPercentage(c.s.CPUPercentage)) }

// MemUsage is in binary units: "1.5MiB / 15.5GiB".
func (c *statsContext) MemUsage() string {
	if c.s.IsInvalid {
		return noStatsValue + " / " + noStatsValue
	}
	return units.BytesSize(float64(c.s.Memory)) + " / " + units.BytesSize(float64(c.s.MemoryLimit))
}

func (c *statsContext) MemPerc() string { return c.known(formatPercentage(c.s.MemoryPercentage)) }

// NetIO is received / sent, in decimal units: "1.2kB / 0B".
func (c *statsContext) NetIO() string {
	return c.known(decimalSize(c.s.NetworkRx) + " / " + decimalSize(c.s.NetworkTx))
}

// BlockIO is read / written, in decimal units.
func (c *statsContext) BlockIO() string {
	return c.known(decimalSize(c.s.BlockRead) + " / " + decimalSize(c.s.BlockWrite))
}

func (c *statsContext) PIDs() string { return c.known(strconv.FormatUint(c.s.PidsCurrent, 10)) }

// known is value, or "--" when the numbers could not be read.
func (c *statsContext) known(value string) string {
	if c.s.IsInvalid {
		return noStatsValue
	}
	return value
}

// formatPercentage has two decimals: "0.42%".
func formatPercentage(val float64) string {
	return strconv.FormatFloat(val, 'f', 2, 64) + "%"
}

// decimalSize is a byte count with three significant digits in SI units:
// "12.3kB".
func decimalSize(n uint64) string { return units.HumanSizeWithPrecision(float64(n), 3) }
