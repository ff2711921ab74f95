package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"text/template"

	"github.com/containerd/errdefs"
	"github.com/docker/go-units"
	"github.com/moby/moby/client"
	"github.com/moby/moby/client/pkg/versions"
	"github.com/spf13/cobra"
)

// A pruner removes one kind of unused object, as "<kind> prune -f" does,
// and returns the space freed and the report to print ("" when nothing
// went). "system prune" runs them in docker's order.
type pruner func(ctx context.Context, cl *client.Client, all bool, filters client.Filters) (uint64, string, error)

func pruneContainers(ctx context.Context, cl *client.Client, _ bool, filters client.Filters) (uint64, string, error) {
	res, err := cl.ContainerPrune(ctx, client.ContainerPruneOptions{Filters: filters})
	if err != nil {
		return 0, "", err
	}
	if len(res.Report.ContainersDeleted) == 0 {
		return 0, "", nil
	}
	return res.Report.SpaceReclaimed, deletedReport("Deleted Containers:", res.Report.ContainersDeleted), nil
}

// pruneNetworks frees no space that docker counts.
func pruneNetworks(ctx context.Context, cl *client.Client, _ bool, filters client.Filters) (uint64, string, error) {
	res, err := cl.NetworkPrune(ctx, client.NetworkPruneOptions{Filters: filters})
	if err != nil {
		return 0, "", err
	}
	return 0, deletedReport("Deleted Networks:", res.Report.NetworksDeleted), nil
}

// pruneVolumes removes anonymous volumes only, whatever -a says, as
// docker's "system prune --volumes" does.
func pruneVolumes(ctx context.Context, cl *client.Client, _ bool, filters client.Filters) (uint64, string, error) {
	res, err := cl.VolumePrune(ctx, client.VolumePruneOptions{Filters: filters})
	if err != nil {
		return 0, "", err
	}
	if len(res.Report.VolumesDeleted) == 0 {
		return 0, "", nil
	}
	return res.Report.SpaceReclaimed, deletedReport("Deleted Volumes:", res.Report.VolumesDeleted), nil
}

// pruneImages removes dangling images, or with all every image no
// container uses.
func pruneImages(ctx context.Context, cl *client.Client, all bool, filters client.Filters) (uint64, string, error) {
	filters = filters.Clone().Add("dangling", strconv.FormatBool(!all))
	res, err := cl.ImagePrune(ctx, client.ImagePruneOptions{Filters: filters})
	if err != nil {
		return 0, "", err
	}
	if len(res.Report.ImagesDeleted) == 0 {
		return 0, "", nil
	}
	lines := make([]string, 0, len(res.Report.ImagesDeleted))
	for _, st := range res.Report.ImagesDeleted {
		if st.Untagged != "" {
			lines = append(lines, "untagged: "+st.Untagged)
		} else {
			lines = append(lines, "deleted: "+st.Deleted)
		}
	}
	return res.Report.SpaceReclaimed, deletedReport("Deleted Images:", lines), nil
}

// pruneBuildCache reports the space the daemon freed even when it lists
// no record, as docker does.
func pruneBuildCache(ctx context.Context, cl *client.Client, all bool, filters client.Filters) (uint64, string, error) {
	res, err := cl.BuildCachePrune(ctx, client.BuildCachePruneOptions{All: all, Filters: filters})
	if err != nil {
		return 0, "", err
	}
	return res.Report.SpaceReclaimed, deletedReport("Deleted build cache objects:", res.Report.CachesDeleted), nil
}

// deletedReport is a prune's list of what went: a title, a line each.
func deletedReport(title string, lines []string) string {
	if len(lines) == 0 {
		return ""
	}
	return title + "\n" + strings.Join(lines, "\n") + "\n"
}

// pruneFilters adds the defaults from config.json's "pruneFilters" to the
// command line's, unless the command line says the opposite for a label.
func (c *CLI) pruneFilters(filters client.Filters) client.Filters {
	filters = filters.Clone()
	for _, f := range c.ConfigFile().PruneFilters {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			continue
		}
		if k == "label" && filters["label!"][v] || k == "label!" && filters["label"][v] {
			continue
		}
		filters.Add(k, v)
	}
	return filters
}

// confirmPrune asks before a prune unless --force was given; a "no" ends
// the command quietly with "<what> has been cancelled".
func confirmPrune(ctx context.Context, c *CLI, force bool, warning, what string) error {
	if force {
		return nil
	}
	ok, err := confirm(ctx, c.In, c.Out, warning)
	if err != nil {
		return err
	}
	if !ok {
		return promptCancelled{errors.New(what + " has been cancelled")}
	}
	return nil
}

// runPrune is a "<kind> prune" command: ask, prune, print what went and
// the total.
func runPrune(ctx context.Context, c *CLI, opts *pruneOptions, warning, what string, prune pruner) error {
	space, err := confirmAndPrune(ctx, c, opts, warning, what, prune)
	if err != nil {
		return err
	}
	fmt.Fprintln(c.Out, "Total reclaimed space:", units.HumanSize(float64(space)))
	return nil
}

// confirmAndPrune is runPrune without the total, which "network prune"
// does not print: it returns the space freed instead.
func confirmAndPrune(ctx context.Context, c *CLI, opts *pruneOptions, warning, what string, prune pruner) (uint64, error) {
	if err := confirmPrune(ctx, c, opts.force, warning, what); err != nil {
		return 0, err
	}
	cl, err := c.Client()
	if err != nil {
		return 0, err
	}
	space, report, err := prune(ctx, cl, opts.all, c.pruneFilters(opts.filter.Value()))
	if err != nil {
		return 0, err
	}
	if report != "" {
		fmt.Fprintln(c.Out, report)
	}
	return space, nil
}

type pruneOptions struct {
	force        bool
	all          bool
	pruneVolumes bool
	filter       *filterFlag
}

func newContainerPruneCommand(c *CLI) *cobra.Command {
	opts := pruneOptions{filter: newFilterFlag()}
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove all stopped containers",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			const warning = "WARNING! This will remove all stopped containers.\nAre you sure you want to continue?"
			return runPrune(cmd.Context(), c, &opts, warning, "container prune", pruneContainers)
		},
	}
	flags := cmd.Flags()
	flags.BoolVarP(&opts.force, "force", "f", false, "Do not prompt for confirmation")
	flags.Var(opts.filter, "filter", `Provide filter values (e.g. "until=<timestamp>")`)
	return cmd
}

func newSystemPruneCommand(c *CLI) *cobra.Command {
	opts := pruneOptions{filter: newFilterFlag()}
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused data",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSystemPrune(cmd.Context(), c, &opts)
		},
	}
	flags := cmd.Flags()
	flags.BoolVarP(&opts.all, "all", "a", false, "Remove all unused images not just dangling ones")
	flags.Var(opts.filter, "filter", `Provide filter values (e.g. "label=<key>=<value>")`)
	flags.BoolVarP(&opts.force, "force", "f", false, "Do not prompt for confirmation")
	flags.BoolVar(&opts.pruneVolumes, "volumes", false, "Prune anonymous volumes")
	return cmd
}

// runSystemPrune prunes containers, networks, volumes (with --volumes),
// images and the build cache, in docker's order, and stops at the first
// failure. A daemon that has no prune endpoint for a kind (it answers 501,
// or 404 for a route it does not have) is skipped, as docker's CLI skips
// what a daemon does not implement: berth's daemon serves container and
// image prune before networks and the builder exist.
func runSystemPrune(ctx context.Context, c *CLI, opts *pruneOptions) error {
	if _, ok := opts.filter.Value()["until"]; ok && opts.pruneVolumes {
		return errors.New(`ERROR: The "until" filter is not supported with "--volumes"`)
	}
	filters := c.pruneFilters(opts.filter.Value())
	cl, err := c.Client()
	if err != nil {
		return err
	}
	// Before any request this is the API version asked for, as docker
	// decides whether the daemon has a builder to prune.
	withBuildCache := versions.GreaterThanOrEqualTo(cl.ClientVersion(), "1.31")
	if err := confirmPrune(ctx, c, opts.force, systemPruneWarning(opts, withBuildCache, filters), "system prune"); err != nil {
		return err
	}
	pruners := []pruner{pruneContainers, pruneNetworks}
	if opts.pruneVolumes {
		pruners = append(pruners, pruneVolumes)
	}
	pruners = append(pruners, pruneImages)
	if withBuildCache {
		pruners = append(pruners, pruneBuildCache)
	}
	var spaceReclaimed uint64
	for _, prune := range pruners {
		space, report, err := prune(ctx, cl, opts.all, filters)
		if errdefs.IsNotImplemented(err) || errdefs.IsNotFound(err) {
			continue
		}
		if err != nil {
			return err
		}
		spaceReclaimed += space
		if report != "" {
			fmt.Fprintln(c.Out, report)
		}
	}
	fmt.Fprintln(c.Out, "Total reclaimed space:", units.HumanSize(float64(spaceReclaimed)))
	return nil
}

var systemPruneTemplate = template.Must(template.New("confirmation message").Parse(`WARNING! This will remove:
{{- range $_, $warning := .warnings }}
  - {{ $warning }}
{{- end }}
{{if .filters}}
  Items to be pruned will be filtered with:
{{- range $_, $filters := .filters }}
  - {{ $filters }}
{{- end }}
{{end}}
Are you sure you want to continue?`))

// systemPruneWarning lists what will go and the label and until filters
// that limit it, as docker's prompt does.
func systemPruneWarning(opts *pruneOptions, withBuildCache bool, filters client.Filters) string {
	warnings := []string{"all stopped containers", "all networks not used by at least one container"}
	if opts.pruneVolumes {
		warnings = append(warnings, "all anonymous volumes not used by at least one container")
	}
	if opts.all {
		warnings = append(warnings, "all images without at least one container associated to them")
	} else {
		warnings = append(warnings, "all dangling images")
	}
	if withBuildCache {
		if opts.all {
			warnings = append(warnings, "all build cache")
		} else {
			warnings = append(warnings, "unused build cache")
		}
	}
	var shown []string
	for _, name := range []string{"label", "label!", "until"} {
		for v := range filters[name] {
			shown = append(shown, name+"="+v)
		}
	}
	sort.Slice(shown, func(i, j int) bool { return naturalLess(shown[i], shown[j]) })
	var b bytes.Buffer
	_ = systemPruneTemplate.Execute(&b, map[string][]string{"warnings": warnings, "filters": shown})
	return b.String()
}
