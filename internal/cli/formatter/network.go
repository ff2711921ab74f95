package formatter

import (
	"strconv"

	"github.com/moby/moby/api/types/network"
)

const defaultNetworkTableFormat = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}"

// NewNetworkFormat is the format "network ls" uses for its --format value
// (source) and -q (quiet).
func NewNetworkFormat(source string, quiet bool) Format {
	switch source {
	case TableFormatKey:
		if quiet {
			return DefaultQuietFormat
		}
		return defaultNetworkTableFormat
	case RawFormatKey:
		if quiet {
			return `network_id: {{.ID}}`
		}
		return `network_id: {{.ID}}\nname: {{.Name}}\ndriver: {{.Driver}}\nscope: {{.Scope}}\n`
	}
	return Format(source)
}

// NetworkWrite renders "network ls" rows in the order given.
func NetworkWrite(ctx Context, networks []network.Summary) error {
	return ctx.Write(newNetworkContext(), func(format func(SubContext) error) error {
		for _, n := range networks {
			if err := format(&networkContext{trunc: ctx.Trunc, n: n}); err != nil {
				return err
			}
		}
		return nil
	})
}

// networkContext is one network as --format templates see it; its methods
// are the keys of its JSON form, as docker's.
type networkContext struct {
	HeaderContext
	trunc bool
	n     network.Summary
}

func newNetworkContext() *networkContext {
	c := networkContext{}
	c.Header = SubHeaderContext{
		"ID":        "NETWORK ID",
		"Name":      "NAME",
		"Driver":    "DRIVER",
		"Scope":     "SCOPE",
		"IPv4":      "IPV4",
		"IPv6":      "IPV6",
		"Internal":  "INTERNAL",
		"Labels":    "LABELS",
		"CreatedAt": "CREATED AT",
	}
	return &c
}

func (c *networkContext) MarshalJSON() ([]byte, error) { return MarshalJSON(c) }

func (c *networkContext) ID() string {
	if c.trunc {
		return TruncateID(c.n.ID)
	}
	return c.n.ID
}

func (c *networkContext) Name() string      { return c.n.Name }
func (c *networkContext) Driver() string    { return c.n.Driver }
func (c *networkContext) Scope() string     { return c.n.Scope }
func (c *networkContext) IPv4() string      { return strconv.FormatBool(c.n.EnableIPv4) }
func (c *networkContext) IPv6() string      { return strconv.FormatBool(c.n.EnableIPv6) }
func (c *networkContext) Internal() string  { return strconv.FormatBool(c.n.Internal) }
func (c *networkContext) CreatedAt() string { return c.n.Created.String() }

func (c *networkContext) Labels() string { return joinLabels(c.n.Labels) }

func (c *networkContext) Label(name string) string { return c.n.Labels[name] }
