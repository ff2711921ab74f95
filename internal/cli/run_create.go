package cli

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"
	"github.com/moby/moby/client/pkg/jsonmessage"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// --pull values.
const (
	pullImageAlways  = "always"
	pullImageMissing = "missing" // the default
	pullImageNever   = "never"
)

type createOptions struct {
	name         string
	platform     string
	pull         string
	quiet        bool
	useAPISocket bool
}

func newCreateCommand(c *CLI) *cobra.Command {
	var options createOptions
	var copts *containerOptions

	cmd := &cobra.Command{
		Use:   "create [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Create a new container",
		Args:  requiresMinArgs(1),
		RunE: checkedRunE(c, func(cmd *cobra.Command, args []string) error {
			copts.setImageAndArgs(args)
			return runCreate(cmd.Context(), c, cmd.Flags(), &options, copts)
		}),
		Annotations: map[string]string{
			"aliases": "berth container create, berth create",
		},
		DisableFlagsInUseLine: true,
	}

	flags := cmd.Flags()
	flags.SetInterspersed(false)
	addCreateOnlyFlags(flags, &options, "creating")
	copts = addContainerFlags(flags)
	annotateContainerFlags(flags)
	return cmd
}

func runCreate(ctx context.Context, c *CLI, flags *pflag.FlagSet, options *createOptions, copts *containerOptions) error {
	apiClient, containerCfg, err := parseCreateCommandLine(ctx, c, flags, options.pull, copts, "create")
	if err != nil {
		return err
	}
	streams := newCLIStreams(c)
	id, err := createContainer(ctx, c, apiClient, streams, containerCfg, options)
	if err != nil {
		return err
	}
	fmt.Fprintln(streams.out, id)
	return nil
}

func validatePullOpt(val string) error {
	switch val {
	case pullImageAlways, pullImageMissing, pullImageNever, "":
		return nil
	default:
		return fmt.Errorf("invalid pull option: '%s': must be one of %q, %q or %q", val, pullImageAlways, pullImageMissing, pullImageNever)
	}
}

// createContainer creates the container and returns its ID, pulling the
// image first with --pull=always, or after a "No such image" with the
// default --pull=missing. Warnings go to stderr.
func createContainer(ctx context.Context, c *CLI, apiClient *client.Client, streams *cliStreams, containerCfg *containerConfig, options *createOptions) (string, error) {
	config := containerCfg.Config
	hostConfig := containerCfg.HostConfig

	var platform *ocispec.Platform
	if options.platform != "" {
		p, err := parsePlatformSpecifier(options.platform)
		if err != nil {
			return "", fmt.Errorf("error parsing specified platform: %w", err)
		}
		platform = &p
	}

	cidFile, err := newCIDFile(hostConfig.ContainerIDFile)
	if err != nil {
		return "", err
	}
	defer cidFile.Close()

	ref, err := reference.ParseAnyReference(config.Image)
	if err != nil {
		return "", err
	}
	var namedRef reference.Named
	if named, ok := ref.(reference.Named); ok {
		namedRef = reference.TagNameOnly(named)
	}

	var apiSocketCreds map[string]authConfig
	if options.useAPISocket {
		// The daemon's own socket, where it is a local one.
		src := "/var/run/docker.sock"
		if h := apiClient.DaemonHost(); strings.HasPrefix(h, "unix://") {
			src = strings.TrimPrefix(h, "unix://")
		}
		hostConfig.Mounts = append(hostConfig.Mounts, mount.Mount{
			Type:        mount.TypeBind,
			Source:      src,
			Target:      "/var/run/docker.sock",
			BindOptions: &mount.BindOptions{},
		})
		// The client's registry credentials go in with it, unless the
		// container brings its own DOCKER_CONFIG.
		if !slices.ContainsFunc(config.Env, func(e string) bool { return strings.HasPrefix(e, "DOCKER_CONFIG=") }) {
			if creds := c.ConfigFile().AuthConfigs; len(creds) > 0 {
				config.Env = append(config.Env, "DOCKER_CONFIG="+path.Dir(dockerConfigPathInContainer))
				apiSocketCreds = creds
			}
		}
	}

	if options.pull == pullImageAlways {
		if err := pullImage(ctx, c, apiClient, streams, config.Image, platform, options.quiet); err != nil {
			return "", err
		}
	}

	hostConfig.ConsoleSize[0], hostConfig.ConsoleSize[1] = streams.out.ttySize()

	createOpts := client.ContainerCreateOptions{
		Name:             options.name,
		Platform:         platform,
		Config:           config,
		HostConfig:       hostConfig,
		NetworkingConfig: containerCfg.NetworkingConfig,
	}
	response, err := apiClient.ContainerCreate(ctx, createOpts)
	if err != nil {
		if !errdefs.IsNotFound(err) || namedRef == nil || options.pull != pullImageMissing {
			return "", err
		}
		if !options.quiet {
			// stdout is for the container ID only.
			fmt.Fprintf(streams.err, "Unable to find image '%s' locally\n", reference.FamiliarString(namedRef))
		}
		if err := pullImage(ctx, c, apiClient, streams, config.Image, platform, options.quiet); err != nil {
			return "", err
		}
		if response, err = apiClient.ContainerCreate(ctx, createOpts); err != nil {
			return "", err
		}
	}

	if len(apiSocketCreds) > 0 {
		if err := copyCredentialsIntoContainer(ctx, apiClient, response.ID, apiSocketCreds); err != nil {
			response.Warnings = append(response.Warnings, fmt.Sprintf("injecting docker config.json into container failed: %v", err))
		}
	}
	for _, w := range response.Warnings {
		fmt.Fprintln(streams.err, "WARNING:", w)
	}
	return response.ID, cidFile.Write(response.ID)
}

const dockerConfigPathInContainer = "/run/secrets/docker/config.json"

// copyCredentialsIntoContainer writes a config.json holding only the
// registry credentials into the created container, as docker does for
// --use-api-socket.
func copyCredentialsIntoContainer(ctx context.Context, apiClient *client.Client, containerID string, creds map[string]authConfig) error {
	auths := make(map[string]authConfig, len(creds))
	for host, a := range creds {
		// config.json stores user and password as "auth".
		if a.Username != "" || a.Password != "" {
			a.Auth = base64.StdEncoding.EncodeToString([]byte(a.Username + ":" + a.Password))
			a.Username, a.Password = "", ""
		}
		auths[host] = a
	}
	cfg, err := json.MarshalIndent(map[string]any{"auths": auths}, "", "\t")
	if err != nil {
		return fmt.Errorf("saving creds: %w", err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: dockerConfigPathInContainer, Size: int64(len(cfg)), Mode: 0o600}); err != nil {
		return err
	}
	if _, err := tw.Write(cfg); err != nil {
		return fmt.Errorf("writing config to tar file for config copy: %w", err)
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("closing tar for config copy failed: %w", err)
	}
	if _, err := apiClient.CopyToContainer(ctx, containerID, client.CopyToContainerOptions{DestinationPath: "/", Content: &buf}); err != nil {
		return fmt.Errorf("copying config.json into container failed: %w", err)
	}
	return nil
}

// pullImage pulls through POST /images/create and draws the progress on
// stderr (stdout is for the container ID).
func pullImage(ctx context.Context, c *CLI, apiClient *client.Client, streams *cliStreams, img string, platform *ocispec.Platform, quiet bool) error {
	opts := client.ImagePullOptions{}
	if named, err := reference.ParseNormalizedNamed(img); err == nil {
		opts.RegistryAuth = c.encodedAuthFor(reference.Domain(named))
	}
	if platform != nil {
		opts.Platforms = []ocispec.Platform{*platform}
	}
	resp, err := apiClient.ImagePull(ctx, img, opts)
	if err != nil {
		return err
	}
	defer resp.Close()

	var out io.Writer = streams.err
	fd, isTerminal := streams.err.fd, streams.err.tty
	if quiet {
		out, isTerminal = io.Discard, false
	}
	return jsonmessage.DisplayJSONMessagesStream(resp, out, fd, isTerminal, nil)
}

// cidFile is --cidfile: created before the container so that a stale
// file fails early, removed again if no ID was written.
type cidFile struct {
	path    string
	file    *os.File
	written bool
}

func newCIDFile(path string) (*cidFile, error) {
	if path == "" {
		return &cidFile{}, nil
	}
	if _, err := os.Stat(path); err == nil {
		return nil, errors.New("container ID file found, make sure the other container isn't running or delete " + path)
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("failed to create the container ID file: %w", err)
	}
	return &cidFile{path: path, file: f}, nil
}

func (cid *cidFile) Write(id string) error {
	if cid.file == nil {
		return nil
	}
	if _, err := cid.file.WriteString(id); err != nil {
		return fmt.Errorf("failed to write the container ID (%s) to file: %w", id, err)
	}
	cid.written = true
	return nil
}

func (cid *cidFile) Close() error {
	if cid.file == nil {
		return nil
	}
	_ = cid.file.Close()
	if cid.written {
		return nil
	}
	if err := os.Remove(cid.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("failed to remove the CID file: %w", err)
	}
	return nil
}

var platformPart = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// parsePlatform reads os[/arch[/variant]] (or a bare architecture) the
// way containerd's platforms.Parse does, with its normalisations and
// its error texts.
func parsePlatformSpecifier(specifier string) (ocispec.Platform, error) {
	if strings.Contains(specifier, "*") {
		return ocispec.Platform{}, fmt.Errorf("%q: wildcards not yet supported: %w", specifier, errdefs.ErrInvalidArgument)
	}
	parts := strings.Split(specifier, "/")
	for _, part := range parts {
		if !platformPart.MatchString(part) {
			return ocispec.Platform{}, fmt.Errorf("%q is an invalid component of %q: platform specifier component must match %q: %w", part, specifier, platformPart.String(), errdefs.ErrInvalidArgument)
		}
	}
	var p ocispec.Platform
	switch len(parts) {
	case 1:
		// A bare OS or a bare architecture.
		p.OS = platformNormalizeOS(parts[0])
		if platformKnownOS(p.OS) {
			p.Architecture, p.Variant = platformNormalizeArch(runtime.GOARCH, "")
			if p.OS == "windows" {
				p.OSVersion = ""
			}
			return p, nil
		}
		p.Architecture, p.Variant = platformNormalizeArch(parts[0], "")
		if p.Architecture == "arm" && p.Variant == "v7" {
			p.Variant = ""
		}
		if platformKnownArch(p.Architecture) {
			p.OS = runtime.GOOS
			return p, nil
		}
		return ocispec.Platform{}, fmt.Errorf("%q: unknown operating system or architecture: %w", specifier, errdefs.ErrInvalidArgument)
	case 2:
		p.OS = platformNormalizeOS(parts[0])
		p.Architecture, p.Variant = platformNormalizeArch(parts[1], "")
		if p.Architecture == "arm" && p.Variant == "v7" {
			p.Variant = ""
		}
		return p, nil
	case 3:
		p.OS = platformNormalizeOS(parts[0])
		p.Architecture, p.Variant = platformNormalizeArch(parts[1], parts[2])
		if p.Architecture == "arm64" && p.Variant == "" {
			p.Variant = "v8"
		}
		return p, nil
	}
	return ocispec.Platform{}, fmt.Errorf("%q: cannot parse platform specifier: %w", specifier, errdefs.ErrInvalidArgument)
}

func platformKnownOS(os string) bool {
	switch os {
	case "aix", "android", "darwin", "dragonfly", "freebsd", "hurd", "illumos", "ios", "js", "linux", "nacl", "netbsd", "openbsd", "plan9", "solaris", "windows", "zos":
		return true
	}
	return false
}

func platformKnownArch(arch string) bool {
	switch arch {
	case "386", "amd64", "amd64p32", "arm", "armbe", "arm64", "arm64be", "ppc64", "ppc64le", "loong64", "mips", "mipsle", "mips64", "mips64le", "mips64p32", "mips64p32le", "ppc", "riscv", "riscv64", "s390", "s390x", "sparc", "sparc64", "wasm":
		return true
	}
	return false
}

func platformNormalizeOS(os string) string {
	os = strings.ToLower(os)
	if os == "macos" {
		return "darwin"
	}
	return os
}

func platformNormalizeArch(arch, variant string) (string, string) {
	arch, variant = strings.ToLower(arch), strings.ToLower(variant)
	switch arch {
	case "i386":
		arch, variant = "386", ""
	case "x86_64", "x86-64", "amd64":
		arch = "amd64"
		if variant == "v1" {
			variant = ""
		}
	case "aarch64", "arm64":
		arch = "arm64"
		switch variant {
		case "8", "v8", "v8.0":
			variant = ""
		case "9", "9.0", "v9.0":
			variant = "v9"
		}
	case "armhf":
		arch, variant = "arm", "v7"
	case "armel":
		arch, variant = "arm", "v6"
	case "arm":
		switch variant {
		case "", "7":
			variant = "v7"
		case "5", "6", "8":
			variant = "v" + variant
		}
	}
	return arch, variant
}

// proxyEnv adds the proxy variables from the client configuration's
// "proxies" section (for the daemon's host, else "default") to -e, as
// docker does; variables given with -e win. Like docker, this folds -e
// into one entry per name, the last value winning.
func proxyEnv(c *CLI, host string, env listOpts) listOpts {
	type proxyConfig struct {
		HTTPProxy  string `json:"httpProxy,omitempty"`
		HTTPSProxy string `json:"httpsProxy,omitempty"`
		NoProxy    string `json:"noProxy,omitempty"`
		FTPProxy   string `json:"ftpProxy,omitempty"`
		AllProxy   string `json:"allProxy,omitempty"`
	}
	var file struct {
		Proxies map[string]proxyConfig `json:"proxies,omitempty"`
	}
	if b, err := os.ReadFile(filepath.Join(c.ConfigDir(), "config.json")); err == nil {
		_ = json.Unmarshal(b, &file)
	}
	cfg, ok := file.Proxies[host]
	if !ok {
		cfg = file.Proxies["default"]
	}

	var order []string
	values := map[string]*string{}
	set := func(k string, v *string) {
		if _, seen := values[k]; !seen {
			order = append(order, k)
		}
		values[k] = v
	}
	for _, kv := range env.GetSlice() {
		k, v, hasValue := strings.Cut(kv, "=")
		if hasValue {
			set(k, &v)
		} else {
			set(k, nil)
		}
	}
	for _, p := range []struct{ name, value string }{
		{"HTTP_PROXY", cfg.HTTPProxy},
		{"HTTPS_PROXY", cfg.HTTPSProxy},
		{"NO_PROXY", cfg.NoProxy},
		{"FTP_PROXY", cfg.FTPProxy},
		{"ALL_PROXY", cfg.AllProxy},
	} {
		if p.value == "" {
			continue
		}
		v := p.value
		for _, k := range []string{p.name, strings.ToLower(p.name)} {
			if _, given := values[k]; !given {
				set(k, &v)
			}
		}
	}

	newEnv := make([]string, 0, len(order))
	for _, k := range order {
		if v := values[k]; v != nil {
			newEnv = append(newEnv, k+"="+*v)
		} else {
			newEnv = append(newEnv, k)
		}
	}
	return listOpts{values: &newEnv}
}
