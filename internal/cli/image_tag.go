package cli

import (
	"fmt"

	"github.com/distribution/reference"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

func newTagCommand(c *CLI) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
		Short: "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
		Args:  exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			// Checked here too for docker 28's capitalised wording; the
			// API client checks again with its own.
			if _, err := reference.ParseAnyReference(args[0]); err != nil {
				return fmt.Errorf("Error parsing reference: %q is not a valid repository/tag: %w", args[0], err) //nolint:staticcheck // docker's wording
			}
			if _, err := reference.ParseNormalizedNamed(args[1]); err != nil {
				return fmt.Errorf("Error parsing reference: %q is not a valid repository/tag: %w", args[1], err) //nolint:staticcheck // docker's wording
			}
			cl, err := c.Client()
			if err != nil {
				return err
			}
			_, err = cl.ImageTag(cmd.Context(), client.ImageTagOptions{Source: args[0], Target: args[1]})
			return err
		},
		Annotations: map[string]string{"aliases": "berth image tag, berth tag"},
	}
	cmd.Flags().SetInterspersed(false)
	return cmd
}
