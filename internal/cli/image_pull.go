package cli

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/distribution/reference"
	"github.com/moby/moby/client"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/cobra"
)

type pullOptions struct {
	all      bool
	platform string
	quiet    bool
}

func newPullCommand(c *CLI) *cobra.Command {
	var opts pullOptions
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
func runPull(cmd *cobra.Command, c *CLI, remote string, opts *pullOptions) error {
	ref, err := reference.ParseNormalizedNamed(remote)
	switch {
	case err != nil:
		return err
	case opts.all && !reference.IsNameOnly(ref):
		return errors.New("tag can't be used with --all-tags/-a")
	case !opts.all && reference.IsNameOnly(ref):
		ref = reference.TagNameOnly(ref)
		if tagged, ok := ref.(reference.Tagged); ok && !opts.quiet {
			fmt.Fprintln(c.Out, "Using default tag:", tagged.Tag())
		}
	}
	var platforms []ocispec.Platform
	if opts.platform != "" {
		p, err := parsePlatform(opts.platform)
		if err != nil {
			return err
		}
		platforms = append(platforms, p)
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
	defer body.Close()
	var out io.Writer = c.Out
	if opts.quiet {
		out = io.Discard
	}
	if err := displayJSONStream(cmd.Context(), body, out); err != nil {
		return err
	}
	fmt.Fprintln(c.Out, ref.String())
	return nil
}
