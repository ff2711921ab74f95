package cli

import (
	"github.com/berth-dev/berth/internal/cli/formatter"
	"github.com/moby/moby/client"
	"github.com/moby/moby/client/pkg/versions"
	"github.com/spf13/cobra"
)

func newDiskUsageCommand(c *CLI) *cobra.Command {
	var (
		verbose bool
		format  string
	)
	cmd := &cobra.Command{
		Use:   "df [OPTIONS]",
		Short: "Show berth disk usage",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDiskUsage(cmd, c, verbose, format)
		},
	}
	flags := cmd.Flags()
	flags.BoolVarP(&verbose, "verbose", "v", false, "Show detailed information on space usage")
	flags.StringVar(&format, "format", "", formatHelp)
	return cmd
}

func runDiskUsage(cmd *cobra.Command, c *CLI, verbose bool, format string) error {
	cl, err := c.Client()
	if err != nil {
		return err
	}
	res, err := cl.DiskUsage(cmd.Context(), client.DiskUsageOptions{Verbose: verbose})
	if err != nil {
		return err
	}
	du := formatter.DiskUsage{
		ImageItems:      res.Images.Items,
		ContainerItems:  res.Containers.Items,
		VolumeItems:     res.Volumes.Items,
		BuildCacheItems: res.BuildCache.Items,
	}
	if versions.LessThan(cl.ClientVersion(), "1.52") {
		// Before API 1.52 the daemon sends lists, which the API client
		// sums up its own way (images used by containers, for one, count
		// differently); docker 28 computes the summary from the lists.
		du.TotalsFromItems(res.Images.TotalSize)
	} else {
		du.Images = formatter.DiskUsageTotals{TotalCount: res.Images.TotalCount, ActiveCount: res.Images.ActiveCount, Size: res.Images.TotalSize, Reclaimable: res.Images.Reclaimable}
		du.Containers = formatter.DiskUsageTotals{TotalCount: res.Containers.TotalCount, ActiveCount: res.Containers.ActiveCount, Size: res.Containers.TotalSize, Reclaimable: res.Containers.Reclaimable}
		du.Volumes = formatter.DiskUsageTotals{TotalCount: res.Volumes.TotalCount, ActiveCount: res.Volumes.ActiveCount, Size: res.Volumes.TotalSize, Reclaimable: res.Volumes.Reclaimable}
		du.BuildCache = formatter.DiskUsageTotals{TotalCount: res.BuildCache.TotalCount, ActiveCount: res.BuildCache.ActiveCount, Size: res.BuildCache.TotalSize, Reclaimable: res.BuildCache.Reclaimable}
	}
	if format == "" {
		format = formatter.TableFormatKey
	}
	ctx := formatter.Context{Output: c.Out, Format: formatter.NewDiskUsageFormat(format, verbose)}
	return formatter.DiskUsageWrite(ctx, verbose, du)
}
