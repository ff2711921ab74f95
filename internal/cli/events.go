package cli

import (
	"errors"
	"io"
	"text/template"

	"github.com/berth-dev/berth/internal/cli/formatter"
	"github.com/berth-dev/berth/internal/cli/formatter/events"
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
			if err := printEvent(c.Out, events.FromAPI(ev), tmpl); err != nil {
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
	return tmpl, tmpl.Execute(io.Discard, &events.Message{})
}

// printEvent writes one event through the template, or as docker's
// default line.
func printEvent(out io.Writer, ev events.Message, tmpl *template.Template) error {
	if tmpl == nil {
		return events.PrettyPrint(out, ev)
	}
	if err := tmpl.Execute(out, ev); err != nil {
		return err
	}
	_, err := out.Write([]byte{'\n'})
	return err
}
