package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/docker/go-units"
	"github.com/moby/term"
	"github.com/spf13/cobra"
	xterm "golang.org/x/term"

	"github.com/berth-dev/berth/internal/registry"
)

// defaultRegistryRoot is beside, not inside, the daemon's data root: the
// registry is a separate program that may outlive or move away from it.
const defaultRegistryRoot = "/var/lib/berth-registry"

// newRegistryCommand is `berth registry`: berth's own private registry.
// Unlike the rest of the CLI these commands do not talk to a daemon; they
// run the registry (internal/registry) in this process.
func newRegistryCommand(c *CLI) *cobra.Command {
	cmd := newGroupCommand("registry", "Run a private image registry")
	cmd.AddCommand(newRegistryServeCommand(c), newRegistryHtpasswdCommand(c), newRegistryGCCommand(c))
	return cmd
}

func newRegistryServeCommand(c *CLI) *cobra.Command {
	var cfg registry.Config
	cmd := &cobra.Command{
		Use:   "serve [OPTIONS]",
		Short: "Serve a private image registry",
		Long: `Serve a private image registry (the OCI distribution API) from a
directory, until interrupted.

Docker clients treat registries on loopback as insecure (plain HTTP is fine);
anywhere else use --tls-cert and --tls-key, or list the registry in the
daemon's insecure-registries. With --htpasswd, clients log in first
("docker login"); create entries with "berth registry htpasswd".
"docker search <host:port>/<term>" searches the repository names.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			srv, err := registry.Serve(ctx, cfg)
			if err != nil {
				return err
			}
			fmt.Fprintf(c.Err, "berth registry listening on %s, storage in %s\n", srv.URL(), cfg.Root)
			err = srv.Wait()
			if cerr := srv.Close(); err == nil {
				err = cerr
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Addr, "addr", registry.DefaultAddr, "Address to listen on")
	f.StringVar(&cfg.Root, "root", defaultRegistryRoot, "Storage directory")
	f.StringVar(&cfg.Htpasswd, "htpasswd", "", "Require basic auth against this htpasswd file (bcrypt entries)")
	f.StringVar(&cfg.Realm, "realm", registry.DefaultRealm, "Basic auth realm")
	f.StringVar(&cfg.TLSCert, "tls-cert", "", "Serve HTTPS with this certificate (PEM)")
	f.StringVar(&cfg.TLSKey, "tls-key", "", "Private key for --tls-cert (PEM)")
	f.StringVar(&cfg.LogLevel, "log-level", "", `Log level ("error", "warn", "info", "debug"); quiet by default: server errors only`)
	return cmd
}

func newRegistryHtpasswdCommand(c *CLI) *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "htpasswd [OPTIONS] USER",
		Short: "Make an htpasswd entry for the registry's basic auth",
		Long: `Make an htpasswd entry (bcrypt) for USER, with the password read from
standard input (one line; prompted for without echo on a terminal).
Without --file, print the entry; with it, add the user to the file or
replace the user's entry.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			password, err := readPassword(c)
			if err != nil {
				return err
			}
			if file != "" {
				return registry.SetPassword(file, args[0], password)
			}
			entry, err := registry.HashPassword(args[0], password)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(c.Out, entry)
			return err
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "Add or update the entry in this htpasswd file")
	return cmd
}

// readPassword reads one line from standard input, without echo when it
// is a terminal.
func readPassword(c *CLI) (string, error) {
	if fd, isTerminal := term.GetFdInfo(c.In); isTerminal {
		fmt.Fprint(c.Err, "Password: ")
		b, err := xterm.ReadPassword(int(fd))
		fmt.Fprintln(c.Err)
		if err != nil {
			return "", err
		}
		return string(b), nil
	}
	line, err := bufio.NewReader(c.In).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	password := strings.TrimRight(line, "\r\n")
	if password == "" {
		return "", errors.New("no password on standard input")
	}
	return password, nil
}

func newRegistryGCCommand(c *CLI) *cobra.Command {
	var (
		root string
		opts registry.GCOptions
	)
	cmd := &cobra.Command{
		Use:   "garbage-collect [OPTIONS]",
		Short: "Delete blobs that no manifest references",
		Long: `Delete the blobs of a registry's storage directory that no manifest
references, e.g. after manifests were deleted through the API. The registry
must not be serving the directory meanwhile (this is checked).`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.DryRun {
				// What would go is only known from distribution's
				// listing.
				opts.Verbose = true
			}
			res, err := registry.GarbageCollect(cmd.Context(), root, opts)
			if err != nil {
				return err
			}
			if opts.DryRun {
				return nil
			}
			_, err = fmt.Fprintf(c.Out, "Deleted %d of %d blobs, %s freed\n", res.BlobsDeleted, res.BlobsBefore, units.HumanSize(float64(res.BytesFreed)))
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&root, "root", defaultRegistryRoot, "Storage directory")
	f.BoolVarP(&opts.DeleteUntagged, "delete-untagged", "m", false, "Also delete manifests that no tag references")
	f.BoolVarP(&opts.DryRun, "dry-run", "d", false, "List what would be deleted; delete nothing")
	f.BoolVarP(&opts.Verbose, "verbose", "v", false, "List what is marked and deleted")
	return cmd
}
