package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/docker/go-units"
	"github.com/moby/go-archive"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

type copyOptions struct {
	followLink, copyUIDGID, quiet bool
}

func newCopyCommand(c *CLI) *cobra.Command {
	var opts copyOptions
	cmd := &cobra.Command{
		Use:   "cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tberth cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH",
		Short: "Copy files/folders between a container and the local filesystem",
		Long: `Copy files/folders between a container and the local filesystem

Use '-' as the source to read a tar archive from stdin
and extract it to a directory destination in a container.
Use '-' as the destination to stream a tar archive of a
container source to stdout.`,
		Args: exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if args[0] == "" {
				return errors.New("source can not be empty")
			}
			if args[1] == "" {
				return errors.New("destination can not be empty")
			}
			if !cmd.Flag("quiet").Changed {
				opts.quiet = !c.OutIsTerminal()
			}
			return runCopy(cmd.Context(), c, args[0], args[1], opts)
		},
		Annotations:           map[string]string{"aliases": "berth container cp, berth cp"},
		DisableFlagsInUseLine: true,
	}
	flags := cmd.Flags()
	flags.BoolVarP(&opts.followLink, "follow-link", "L", false, "Always follow symbol link in SRC_PATH")
	flags.BoolVarP(&opts.copyUIDGID, "archive", "a", false, "Archive mode (copy all uid/gid information)")
	flags.BoolVarP(&opts.quiet, "quiet", "q", false, "Suppress progress output during copy. Progress output is automatically suppressed if no terminal is attached")
	return cmd
}

// splitCopyArg splits CONTAINER:PATH. A local path with a colon must be
// written as an absolute path or start with ".", as with scp.
func splitCopyArg(arg string) (container, path string) {
	if filepath.IsAbs(arg) {
		return "", arg
	}
	container, path, ok := strings.Cut(arg, ":")
	if !ok || strings.HasPrefix(container, ".") {
		return "", arg
	}
	return container, path
}

func runCopy(ctx context.Context, c *CLI, src, dst string, opts copyOptions) error {
	srcContainer, srcPath := splitCopyArg(src)
	dstContainer, dstPath := splitCopyArg(dst)
	switch {
	case srcContainer != "" && dstContainer != "":
		return errors.New("copying between containers is not supported")
	case srcContainer != "":
		return copyFromContainer(ctx, c, srcContainer, srcPath, dstPath, opts)
	case dstContainer != "":
		return copyToContainer(ctx, c, srcPath, dstContainer, dstPath, opts)
	}
	return errors.New("must specify at least one container source")
}

// localPath makes p absolute, keeping a trailing "/" or "/." (which say
// "a directory" and "its contents").
func localPath(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	return archive.PreserveTrailingDotOrSeparator(abs, p), nil
}

// linkTarget is where the symlink at p (in the container) points, for
// a client that follows it: absolute, or joined to p's directory.
func linkTarget(p, target string) string {
	if filepath.IsAbs(target) {
		return target
	}
	dir, _ := archive.SplitPathDirEntry(p)
	return filepath.Join(dir, target)
}

func copyFromContainer(ctx context.Context, c *CLI, container, srcPath, dstPath string, opts copyOptions) error {
	if dstPath != "-" {
		var err error
		if dstPath, err = localPath(dstPath); err != nil {
			return err
		}
		if err := validateCopyDestination(dstPath); err != nil {
			return err
		}
	}
	cl, err := c.Client()
	if err != nil {
		return err
	}
	// With -L a symlink is copied as what it points to, under its own name.
	var rebaseName string
	if opts.followLink {
		res, err := cl.ContainerStatPath(ctx, container, client.ContainerStatPathOptions{Path: srcPath})
		if err == nil && res.Stat.Mode&os.ModeSymlink != 0 {
			srcPath, rebaseName = archive.GetRebaseName(srcPath, linkTarget(srcPath, res.Stat.LinkTarget))
		}
	}
	res, err := cl.CopyFromContainer(ctx, container, client.CopyFromContainerOptions{SourcePath: srcPath})
	if err != nil {
		return err
	}
	defer res.Content.Close()
	if dstPath == "-" {
		_, err := io.Copy(c.Out, res.Content)
		return err
	}
	counted := &countingReader{r: res.Content}
	var content io.Reader = counted
	src := archive.CopyInfo{Path: srcPath, Exists: true, IsDir: res.Stat.Mode.IsDir(), RebaseName: rebaseName}
	if rebaseName != "" {
		_, base := archive.SplitPathDirEntry(src.Path)
		rebased := archive.RebaseArchiveEntries(content, base, rebaseName)
		defer rebased.Close()
		content = rebased
	}
	if err := archive.CopyTo(content, src, dstPath); err != nil {
		return err
	}
	if !opts.quiet {
		size := counted.n
		if !res.Stat.Mode.IsDir() {
			size = res.Stat.Size
		}
		fmt.Fprintf(c.Err, "Successfully copied %s to %s\n", units.HumanSizeWithPrecision(float64(size), 3), dstPath)
	}
	return nil
}

// validateCopyDestination checks a local destination before anything is
// fetched: its directory exists, and it is a directory or a regular file
// if it exists.
func validateCopyDestination(p string) error {
	dir := filepath.Dir(filepath.Clean(p))
	if _, err := os.Stat(dir); os.IsNotExist(err) {
		return fmt.Errorf("invalid output path: directory %q does not exist", dir)
	}
	fi, err := os.Stat(p)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := copyableMode(fi.Mode()); err != nil {
		return fmt.Errorf("invalid output path: %q must be a directory or a regular file: %w", p, err)
	}
	return nil
}

// copyableMode refuses devices and other irregular files as copy
// destinations.
func copyableMode(m os.FileMode) error {
	switch {
	case m&os.ModeDevice != 0:
		return errors.New("got a device")
	case m&os.ModeIrregular != 0:
		return errors.New("got an irregular file")
	}
	return nil
}

// copyToContainer stats the destination in the container first, so that
// the tar sent is shaped for it: a file copied into a directory keeps its
// name, one copied onto a path takes that name, "dir/." copies contents.
func copyToContainer(ctx context.Context, c *CLI, srcPath, container, dstPath string, opts copyOptions) error {
	if srcPath != "-" {
		var err error
		if srcPath, err = localPath(srcPath); err != nil {
			return err
		}
	}
	cl, err := c.Client()
	if err != nil {
		return err
	}
	dst := archive.CopyInfo{Path: dstPath}
	// A stat that fails leaves the destination as "may not exist": the
	// extraction then says what is wrong.
	if res, err := cl.ContainerStatPath(ctx, container, client.ContainerStatPathOptions{Path: dstPath}); err == nil {
		if res.Stat.Mode&os.ModeSymlink != 0 {
			dst.Path = linkTarget(dstPath, res.Stat.LinkTarget)
			res, err = cl.ContainerStatPath(ctx, container, client.ContainerStatPathOptions{Path: dst.Path})
		}
		if err == nil {
			if err := copyableMode(res.Stat.Mode); err != nil {
				return fmt.Errorf(`destination "%s:%s" must be a directory or a regular file: %w`, container, dstPath, err)
			}
			dst.Exists, dst.IsDir = true, res.Stat.Mode.IsDir()
		}
	}

	var (
		content io.Reader
		dstDir  string
		size    int64 = -1
	)
	if srcPath == "-" {
		if !dst.IsDir {
			return fmt.Errorf(`destination "%s:%s" must be a directory`, container, dstPath)
		}
		content, dstDir = c.In, dst.Path
	} else {
		src, err := archive.CopyInfoSourcePath(srcPath, opts.followLink)
		if err != nil {
			return err
		}
		tarred, err := archive.TarResource(src)
		if err != nil {
			return err
		}
		defer tarred.Close()
		dir, prepared, err := archive.PrepareArchiveCopy(tarred, src, dst)
		if err != nil {
			return err
		}
		defer prepared.Close()
		content, dstDir = prepared, dir
		if !opts.quiet {
			size = contentSize(src.Path)
		}
	}
	counted := &countingReader{r: content}
	_, err = cl.CopyToContainer(ctx, container, client.CopyToContainerOptions{
		DestinationPath: dstDir,
		Content:         counted,
		CopyUIDGID:      opts.copyUIDGID,
	})
	if err != nil {
		return err
	}
	if !opts.quiet {
		if size < 0 {
			size = counted.n
		}
		fmt.Fprintf(c.Err, "Successfully copied %s to %s:%s\n", units.HumanSizeWithPrecision(float64(size), 3), container, dst.Path)
	}
	return nil
}

// contentSize is the size of the regular files at p, for the summary;
// -1 when it cannot be told.
func contentSize(p string) int64 {
	var total int64
	err := filepath.WalkDir(p, func(_ string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			fi, err := d.Info()
			if err != nil {
				return err
			}
			total += fi.Size()
		}
		return nil
	})
	if err != nil {
		return -1
	}
	return total
}

// countingReader counts what passes through, for the copy summary.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
