package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/distribution/reference"
	"github.com/moby/moby/client"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
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
	ref, err := c.transferImage(cmd.Context(), remote, opts, func(cl *client.Client, name, auth string, platforms []ocispec.Platform) (io.ReadCloser, error) {
		return cl.ImagePull(cmd.Context(), name, client.ImagePullOptions{
			RegistryAuth: auth,
			All:          opts.all,
			Platforms:    platforms,
		})
	})
	if err != nil {
		return err
	}
	fmt.Fprintln(c.Out, ref.String())
	return nil
}

// A transfer starts a pull or a push of the image name, with the
// registry's encoded credentials, and returns its progress stream.
type transfer func(cl *client.Client, name, auth string, platforms []ocispec.Platform) (io.ReadCloser, error)

// transferImage is what pull and push share: read NAME[:TAG] and
// --platform, start the transfer and render its progress. It returns
// the full reference.
func (c *CLI) transferImage(ctx context.Context, remote string, opts *distributionOptions, start transfer) (reference.Named, error) {
	ref, err := c.parseRemote(remote, opts)
	if err != nil {
		return nil, err
	}
	platforms, err := parsePlatforms(opts.platform)
	if err != nil {
		return nil, err
	}
	cl, err := c.Client()
	if err != nil {
		return nil, err
	}
	body, err := start(cl, reference.FamiliarString(ref), c.encodedAuthFor(reference.Domain(ref)), platforms)
	if err != nil {
		return nil, err
	}
	return ref, c.displayProgress(ctx, body, opts.quiet)
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
