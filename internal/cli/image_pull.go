package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/distribution/reference"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

// distributionOptions are pull's and push's flags.
type distributionOptions struct {
	all      bool
	quiet    bool
	platform string
}

func newPullCommand(c *CLI) *cobra.Command {
	var opts distributionOptions
	cmd := &cobra.Command{
		Use:   "pull [OPTIONS] NAME[:TAG|@DIGEST]",
		Short: "Download an image from a registry",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPull(cmd, c, args[0], &opts)
		},
		Annotations: map[string]string{"aliases": "berth image pull, berth pull"},
	}
	flags := cmd.Flags()
	flags.BoolVarP(&opts.all, "all-tags", "a", false, "Download all tagged images in the repository")
	flags.BoolVarP(&opts.quiet, "quiet", "q", false, "Suppress verbose output")
	flags.Bool("disable-content-trust", true, "Skip image verification")
	flags.StringVar(&opts.platform, "platform", os.Getenv("DOCKER_DEFAULT_PLATFORM"), "Set platform if server is multi-platform capable")
	return cmd
}

// runPull asks the daemon to pull and renders its progress stream, then
// prints the full reference ("docker.io/library/busybox:latest").
func runPull(cmd *cobra.Command, c *CLI, remote string, opts *distributionOptions) error {
	ref, err := c.parseRemote(remote, opts)
	if err != nil {
		return err
	}
	platforms, err := parsePlatforms(opts.platform)
	if err != nil {
		return err
	}
	cl, err := c.Client()
	if err != nil {
		return err
	}
	body, err := cl.ImagePull(cmd.Context(), reference.FamiliarString(ref), client.ImagePullOptions{
		RegistryAuth: c.encodedAuthFor(reference.Domain(ref)),
		All:          opts.all,
		Platforms:    platforms,
	})
	if err != nil {
		return err
	}
	if err := c.displayProgress(cmd.Context(), body, opts.quiet); err != nil {
		return err
	}
	fmt.Fprintln(c.Out, ref.String())
	return nil
}

// parseRemote reads pull's and push's NAME[:TAG]: -a takes a name without
// a tag; otherwise a missing tag is "latest", which is said unless -q.
func (c *CLI) parseRemote(remote string, opts *distributionOptions) (reference.Named, error) {
	ref, err := reference.ParseNormalizedNamed(remote)
	switch {
	case err != nil:
		return nil, err
	case opts.all && !reference.IsNameOnly(ref):
		return nil, errors.New("tag can't be used with --all-tags/-a")
	case !opts.all && reference.IsNameOnly(ref):
		ref = reference.TagNameOnly(ref)
		if tagged, ok := ref.(reference.Tagged); ok && !opts.quiet {
			fmt.Fprintln(c.Out, "Using default tag:", tagged.Tag())
		}
	}
	return ref, nil
}

// displayProgress renders a pull's or push's progress stream, and closes
// it; quiet reads it to the end without showing it.
func (c *CLI) displayProgress(ctx context.Context, body io.ReadCloser, quiet bool) error {
	defer body.Close()
	var out io.Writer = c.Out
	if quiet {
		out = io.Discard
	}
	return displayJSONStream(ctx, body, out)
}
