package cli

import (
	"fmt"
	"io"
	"os"

	"github.com/moby/moby/client"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/cobra"
)

func newPushCommand(c *CLI) *cobra.Command {
	var opts distributionOptions
	cmd := &cobra.Command{
		Use:   "push [OPTIONS] NAME[:TAG]",
		Short: "Upload an image to a registry",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPush(cmd, c, args[0], &opts)
		},
		Annotations: map[string]string{"aliases": "berth image push, berth push"},
	}
	flags := cmd.Flags()
	flags.BoolVarP(&opts.all, "all-tags", "a", false, "Push all tags of an image to the repository")
	flags.BoolVarP(&opts.quiet, "quiet", "q", false, "Suppress verbose output")
	flags.Bool("disable-content-trust", true, "Skip image signing")
	flags.StringVar(&opts.platform, "platform", os.Getenv("DOCKER_DEFAULT_PLATFORM"),
		"Push a platform-specific manifest as a single-platform image to the registry.\n'os[/arch[/variant]]': Explicit platform (eg. linux/amd64)")
	return cmd
}

// runPush asks the daemon to push with the stored credentials of the
// registry and renders its progress; -q prints only the reference.
func runPush(cmd *cobra.Command, c *CLI, remote string, opts *distributionOptions) error {
	ref, err := c.transferImage(cmd.Context(), remote, opts, func(cl *client.Client, name, auth string, platforms []ocispec.Platform) (io.ReadCloser, error) {
		var platform *ocispec.Platform
		if len(platforms) > 0 {
			platform = &platforms[0]
		}
		return cl.ImagePush(cmd.Context(), name, client.ImagePushOptions{
			All:          opts.all,
			RegistryAuth: auth,
			Platform:     platform,
		})
	})
	if err != nil {
		return err
	}
	if opts.quiet {
		fmt.Fprintln(c.Out, ref.String())
	}
	return nil
}
