package cli

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/berth-dev/berth/internal/cli/formatter"
	"github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

type searchOptions struct {
	format  string
	noTrunc bool
	limit   int
	filter  *filterFlag
}

func newSearchCommand(c *CLI) *cobra.Command {
	opts := searchOptions{filter: newFilterFlag()}
	cmd := &cobra.Command{
		Use:   "search [OPTIONS] TERM",
		Short: "Search Docker Hub for images",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSearch(cmd, c, args[0], &opts)
		},
	}
	flags := cmd.Flags()
	flags.BoolVar(&opts.noTrunc, "no-trunc", false, "Don't truncate output")
	flags.VarP(opts.filter, "filter", "f", "Filter output based on conditions provided")
	flags.IntVar(&opts.limit, "limit", 0, "Max number of search results")
	flags.StringVar(&opts.format, "format", "", "Pretty-print search using a Go template")
	return cmd
}

// runSearch asks the daemon to search the registry the term names
// ("localhost:5000/busybox"; Docker Hub otherwise) with its stored
// credentials, and prints NAME DESCRIPTION STARS OFFICIAL as docker does.
func runSearch(cmd *cobra.Command, c *CLI, term string, opts *searchOptions) error {
	if _, ok := opts.filter.Value()["is-automated"]; ok {
		fmt.Fprintln(c.Err, `WARNING: the "is-automated" filter is deprecated, and searching for "is-automated=true" will not yield any results in future.`)
	}
	cl, err := c.Client()
	if err != nil {
		return err
	}
	res, err := cl.ImageSearch(cmd.Context(), term, client.ImageSearchOptions{
		RegistryAuth: c.encodedAuthFor(searchRegistry(term)),
		Filters:      opts.filter.Value(),
		Limit:        opts.limit,
	})
	if err != nil {
		return err
	}
	format := formatter.Format(opts.format)
	if opts.format == "" || opts.format == formatter.TableFormatKey {
		format = "table {{.Name}}\t{{.Description}}\t{{.StarCount}}\t{{.IsOfficial}}"
	}
	ctx := formatter.Context{Output: c.Out, Format: format, Trunc: !opts.noTrunc}
	header := &searchRow{HeaderContext: formatter.HeaderContext{Header: formatter.SubHeaderContext{
		"Name":        "NAME",
		"Description": "DESCRIPTION",
		"StarCount":   "STARS",
		"IsOfficial":  "OFFICIAL",
	}}}
	return ctx.Write(header, func(row func(formatter.SubContext) error) error {
		for _, r := range res.Items {
			if err := row(&searchRow{trunc: ctx.Trunc, json: format.IsJSON(), r: r}); err != nil {
				return err
			}
		}
		return nil
	})
}

// searchRegistry is the registry a search term names, as docker's CLI
// splits it to pick credentials.
func searchRegistry(term string) string {
	parts := strings.SplitN(term, "/", 2)
	if len(parts) == 1 || (!strings.Contains(parts[0], ".") && !strings.Contains(parts[0], ":") && parts[0] != "localhost") {
		return "docker.io"
	}
	return parts[0]
}

// searchRow is one search result for --format.
type searchRow struct {
	formatter.HeaderContext
	trunc bool
	json  bool
	r     registry.SearchResult
}

func (s *searchRow) MarshalJSON() ([]byte, error) {
	s.json = true
	return formatter.MarshalJSON(s)
}

func (s *searchRow) Name() string { return s.r.Name }

func (s *searchRow) Description() string {
	d := strings.NewReplacer("\n", " ", "\r", " ").Replace(s.r.Description)
	if s.trunc {
		d = formatter.Ellipsis(d, 45)
	}
	return d
}

func (s *searchRow) StarCount() string { return strconv.Itoa(s.r.StarCount) }

func (s *searchRow) IsOfficial() string {
	switch {
	case s.r.IsOfficial && s.json:
		return "true"
	case s.r.IsOfficial:
		return "[OK]"
	case s.json:
		return "false"
	}
	return ""
}
