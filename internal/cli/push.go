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

type pushOptions struct {
	all      bool
	quiet    bool
	platform string
}

func newPushCommand(c *CLI) *cobra.Command {
	var opts pushOptions
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
func runPush(cmd *cobra.Command, c *CLI, remote string, opts *pushOptions) error {
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
	var platform *ocispec.Platform
	if opts.platform != "" {
		p, err := parsePlatform(opts.platform)
		if err != nil {
			return err
		}
		platform = &p
	}
	cl, err := c.Client()
	if err != nil {
		return err
	}
	body, err := cl.ImagePush(cmd.Context(), reference.FamiliarString(ref), client.ImagePushOptions{
		All:          opts.all,
		RegistryAuth: c.encodedAuthFor(reference.Domain(ref)),
		Platform:     platform,
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
	if opts.quiet {
		fmt.Fprintln(c.Out, ref.String())
	}
	return nil
}
