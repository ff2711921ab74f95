package cli

import (
	"fmt"
	"io"

	"github.com/berth-dev/berth/internal/cli/formatter"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

// addImageCommands adds images, import, load, save, tag, rmi, history, pull
// and the "image" group (ls, import, load, save, tag, rm, history, inspect,
// prune, pull).
func addImageCommands(c *CLI, g commandGroups) {
	g.root.AddCommand(
		newImagesCommand(c),
		newImportCommand(c),
		newLoadCommand(c),
		newSaveCommand(c),
		newTagCommand(c),
		newRmiCommand(c),
		newHistoryCommand(c),
		newPullCommand(c),
	)
	g.image.AddCommand(
		newImageListCommand(c),
		newImportCommand(c),
		newLoadCommand(c),
		newSaveCommand(c),
		newTagCommand(c),
		newImageRemoveCommand(c),
		newHistoryCommand(c),
		newImageInspectCommand(c),
		newImagePruneCommand(c),
		newPullCommand(c),
	)
	addDistributionCommands(c, g)
}

type imagesOptions struct {
	matchName   string
	quiet       bool
	all         bool
	noTrunc     bool
	showDigests bool
	format      string
	filter      *filterFlag
	tree        bool
}

func newImagesCommand(c *CLI) *cobra.Command {
	opts := imagesOptions{filter: newFilterFlag()}
	cmd := &cobra.Command{
		Use:   "images [OPTIONS] [REPOSITORY[:TAG]]",
		Short: "List images",
		Args:  requiresMaxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				opts.matchName = args[0]
			}
			n, err := runImages(cmd, c, &opts)
			if err != nil {
				return err
			}
			if n == 0 && opts.matchName != "" && cmd.CalledAs() == "images" {
				printAmbiguousHint(c.Err, cmd.Root().Name(), opts.matchName)
			}
			return nil
		},
		Annotations: map[string]string{"aliases": "berth image ls, berth image list, berth images"},
	}
	flags := cmd.Flags()
	flags.BoolVarP(&opts.quiet, "quiet", "q", false, "Only show image IDs")
	flags.BoolVarP(&opts.all, "all", "a", false, "Show all images (default hides intermediate images)")
	flags.BoolVar(&opts.noTrunc, "no-trunc", false, "Don't truncate output")
	flags.BoolVar(&opts.showDigests, "digests", false, "Show digests")
	flags.StringVar(&opts.format, "format", "", formatHelp)
	flags.VarP(opts.filter, "filter", "f", "Filter output based on conditions provided")
	flags.BoolVar(&opts.tree, "tree", false, "List multi-platform images as a tree (EXPERIMENTAL)")
	return cmd
}

func newImageListCommand(c *CLI) *cobra.Command {
	cmd := newImagesCommand(c)
	cmd.Use = "ls [OPTIONS] [REPOSITORY[:TAG]]"
	cmd.Aliases = []string{"list"}
	return cmd
}

// runImages prints the classic table, as docker 28 does with the graph
// driver image store; --tree is accepted and prints the same table.
func runImages(cmd *cobra.Command, c *CLI, opts *imagesOptions) (int, error) {
	filters := opts.filter.Value()
	if opts.matchName != "" {
		filters.Add("reference", opts.matchName)
	}
	if opts.tree {
		for _, bad := range []struct {
			set  bool
			flag string
		}{{opts.quiet, "--quiet"}, {opts.noTrunc, "--no-trunc"}, {opts.showDigests, "--show-digest"}, {opts.format != "", "--format"}} {
			if bad.set {
				return 0, fmt.Errorf("%s is not yet supported with --tree", bad.flag)
			}
		}
	}
	cl, err := c.Client()
	if err != nil {
		return 0, err
	}
	res, err := cl.ImageList(cmd.Context(), client.ImageListOptions{All: opts.all, Filters: filters})
	if err != nil {
		return 0, err
	}
	format := opts.format
	if format == "" {
		if f := c.ConfigFile().ImagesFormat; f != "" && !opts.quiet {
			format = f
		} else {
			format = formatter.TableFormatKey
		}
	}
	ctx := formatter.ImageContext{
		Context: formatter.Context{
			Output: c.Out,
			Format: formatter.NewImageFormat(format, opts.quiet, opts.showDigests),
			Trunc:  !opts.noTrunc,
		},
		Digest: opts.showDigests,
	}
	if err := formatter.ImageWrite(ctx, res.Items); err != nil {
		return 0, err
	}
	return len(res.Items), nil
}

// printAmbiguousHint helps whoever typed "berth images ls" for "berth image ls".
func printAmbiguousHint(stderr io.Writer, bin, matchName string) {
	switch matchName {
	case "build", "history", "import", "inspect", "list", "load", "ls", "prune", "pull", "push", "rm", "save", "tag":
		fmt.Fprintf(stderr, "\nNo images found matching %q: did you mean \"%s image %[1]s\"?\n", matchName, bin)
	}
}
