package cli

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/template"
	"time"

	"github.com/berth-dev/berth/internal/cli/formatter"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

type eventsOptions struct {
	since  string
	until  string
	filter *filterFlag
	format string
}

func newEventsCommand(c *CLI) *cobra.Command {
	opts := eventsOptions{filter: newFilterFlag()}
	cmd := &cobra.Command{
		Use:   "events [OPTIONS]",
		Short: "Get real time events from the server",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runEvents(cmd, c, &opts)
		},
		Annotations: map[string]string{"aliases": "berth system events, berth events"},
	}
	flags := cmd.Flags()
	flags.StringVar(&opts.since, "since", "", "Show all events created since timestamp")
	flags.StringVar(&opts.until, "until", "", "Stream events until this timestamp")
	flags.VarP(opts.filter, "filter", "f", "Filter output based on conditions provided")
	flags.StringVar(&opts.format, "format", "", inspectFormatHelp)
	return cmd
}

func runEvents(cmd *cobra.Command, c *CLI, opts *eventsOptions) error {
	tmpl, err := eventsTemplate(opts.format)
	if err != nil {
		return StatusError{StatusCode: 64, Status: "Error parsing format: " + err.Error()}
	}
	cl, err := c.Client()
	if err != nil {
		return err
	}
	res := cl.Events(cmd.Context(), client.EventsListOptions{
		Since:   opts.since,
		Until:   opts.until,
		Filters: opts.filter.Value(),
	})
	for {
		select {
		case ev := <-res.Messages:
			if err := printEvent(c.Out, withLegacyFields(ev), tmpl); err != nil {
				return err
			}
		case err := <-res.Err:
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// eventsTemplate parses --format and tries it on an empty event, so that a
// bad field is reported before waiting for events.
func eventsTemplate(format string) (*template.Template, error) {
	switch format {
	case "":
		return nil, nil
	case formatter.JSONFormatKey:
		format = formatter.JSONFormat
	}
	tmpl, err := formatter.ParseTemplate(format)
	if err != nil {
		return nil, err
	}
	return tmpl, tmpl.Execute(io.Discard, &eventMessage{})
}

const rfc3339NanoFixed = "2006-01-02T15:04:05.000000000Z07:00"

// printEvent writes one event: through the template, or as docker's line
// "2024-01-01T00:00:00.000000000Z container start <id> (image=busybox, name=web)".
func printEvent(out io.Writer, ev eventMessage, tmpl *template.Template) error {
	if tmpl != nil {
		if err := tmpl.Execute(out, ev); err != nil {
			return err
		}
		_, err := out.Write([]byte{'\n'})
		return err
	}
	var b strings.Builder
	if ev.TimeNano != 0 {
		fmt.Fprintf(&b, "%s ", time.Unix(0, ev.TimeNano).Format(rfc3339NanoFixed))
	} else if ev.Time != 0 {
		fmt.Fprintf(&b, "%s ", time.Unix(ev.Time, 0).Format(rfc3339NanoFixed))
	}
	fmt.Fprintf(&b, "%s %s %s", ev.Type, ev.Action, ev.Actor.ID)
	if len(ev.Actor.Attributes) > 0 {
		keys := make([]string, 0, len(ev.Actor.Attributes))
		for k := range ev.Actor.Attributes {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		attrs := make([]string, 0, len(keys))
		for _, k := range keys {
			attrs = append(attrs, k+"="+ev.Actor.Attributes[k])
		}
		fmt.Fprintf(&b, " (%s)", strings.Join(attrs, ", "))
	}
	b.WriteByte('\n')
	_, err := io.WriteString(out, b.String())
	return err
}

// eventMessage is an event as docker 28's templates and JSON show it: with
// the deprecated status, id and from fields that daemons still send to
// clients of API 1.51 and older, filled in here when a newer daemon
// leaves them out.
type eventMessage struct {
	Status string `json:"status,omitempty"`
	ID     string `json:"id,omitempty"`
	From   string `json:"from,omitempty"`

	Type   events.Type
	Action events.Action
	Actor  events.Actor
	Scope  string `json:"scope,omitempty"`

	Time     int64 `json:"time,omitempty"`
	TimeNano int64 `json:"timeNano,omitempty"`
}

func withLegacyFields(m events.Message) eventMessage {
	ev := eventMessage{Type: m.Type, Action: m.Action, Actor: m.Actor, Scope: m.Scope, Time: m.Time, TimeNano: m.TimeNano}
	switch m.Type {
	case events.ContainerEventType:
		ev.ID, ev.Status, ev.From = m.Actor.ID, string(m.Action), m.Actor.Attributes["image"]
	case events.ImageEventType:
		ev.ID, ev.Status = m.Actor.ID, string(m.Action)
	}
	return ev
}
