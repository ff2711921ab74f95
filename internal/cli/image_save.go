package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"

	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

type saveOptions struct {
	output   string
	platform string
}

func newSaveCommand(c *CLI) *cobra.Command {
	var opts saveOptions
	cmd := &cobra.Command{
		Use:   "save [OPTIONS] IMAGE [IMAGE...]",
		Short: "Save one or more images to a tar archive (streamed to STDOUT by default)",
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSave(cmd, c, args, &opts)
		},
		Annotations: map[string]string{"aliases": "berth image save, berth save"},
	}
	flags := cmd.Flags()
	flags.StringVarP(&opts.output, "output", "o", "", "Write to a file, instead of STDOUT")
	flags.StringVar(&opts.platform, "platform", "", `Save only the given platform variant. Formatted as "os[/arch[/variant]]" (e.g., "linux/amd64")`)
	return cmd
}

// runSave writes the archive to -o or to stdout.
func runSave(cmd *cobra.Command, c *CLI, images []string, opts *saveOptions) error {
	var so []client.ImageSaveOption
	platforms, err := parsePlatforms(opts.platform)
	if err != nil {
		return fmt.Errorf("invalid platform: %w", err)
	}
	if len(platforms) > 0 {
		so = append(so, client.ImageSaveWithPlatforms(platforms...))
	}
	return writeArchive(c, opts.output, "failed to save image", func() (io.ReadCloser, error) {
		cl, err := c.Client()
		if err != nil {
			return nil, err
		}
		return cl.ImageSave(cmd.Context(), images, so...)
	})
}

// writeArchive copies the archive fetch streams (save, export) to output,
// atomically (a failed copy leaves no half file behind), or to stdout,
// which must not be a terminal. failure prefixes the errors about the
// file, as docker words them per command.
func writeArchive(c *CLI, output, failure string, fetch func() (io.ReadCloser, error)) error {
	if output == "" && c.OutIsTerminal() {
		return errors.New("cowardly refusing to save to a terminal. Use the -o flag or redirect")
	}
	var out io.Writer = c.Out
	var file *os.File
	if output != "" {
		if err := validateSaveDestination(output); err != nil {
			return fmt.Errorf("%s: %w", failure, err)
		}
		abs, err := filepath.Abs(output)
		if err != nil {
			return fmt.Errorf("%s: %w", failure, err)
		}
		f, err := os.CreateTemp(filepath.Dir(abs), ".tmp-"+filepath.Base(output))
		if err != nil {
			return fmt.Errorf("%s: %w", failure, err)
		}
		file, out = f, f
		defer func() {
			if file != nil { // not committed: no partial archive left behind
				file.Close()
				os.Remove(file.Name())
			}
		}()
	}
	body, err := fetch()
	if err != nil {
		return err
	}
	defer body.Close()
	if _, err := io.Copy(out, body); err != nil {
		return err
	}
	if file != nil {
		if err := file.Chmod(0o600); err != nil {
			return fmt.Errorf("%s: %w", failure, err)
		}
		if err := file.Sync(); err != nil {
			return fmt.Errorf("%s: %w", failure, err)
		}
		if err := file.Close(); err != nil {
			return fmt.Errorf("%s: %w", failure, err)
		}
		if err := os.Rename(file.Name(), output); err != nil {
			return fmt.Errorf("%s: %w", failure, err)
		}
		file = nil
	}
	return nil
}

// validateSaveDestination refuses what an atomic rename cannot replace
// sensibly, with docker's messages.
func validateSaveDestination(name string) error {
	if dir := filepath.Dir(name); dir != "" && dir != "." && dir != ".." {
		di, err := os.Stat(dir)
		if err != nil {
			return fmt.Errorf("invalid output path: %w", err)
		}
		if !di.IsDir() {
			return fmt.Errorf("invalid output path: %w", &os.PathError{Op: "stat", Path: dir, Err: syscall.ENOTDIR})
		}
	}
	fi, err := os.Lstat(name)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return fmt.Errorf("failed to stat output path: %w", err)
	}
	switch mode := fi.Mode(); {
	case mode.IsRegular():
		return nil
	case mode&os.ModeDir != 0:
		return errors.New("cannot write to a directory")
	case mode&os.ModeSymlink != 0:
		return errors.New("cannot write to a symbolic link directly")
	case mode&os.ModeNamedPipe != 0:
		return errors.New("cannot write to a named pipe (FIFO)")
	case mode&os.ModeSocket != 0:
		return errors.New("cannot write to a socket")
	case mode&os.ModeDevice != 0:
		if mode&os.ModeCharDevice != 0 {
			return errors.New("cannot write to a character device file")
		}
		return errors.New("cannot write to a block device file")
	default:
		return fmt.Errorf("unknown file mode: %[1]s (%#[1]o)", mode)
	}
}
