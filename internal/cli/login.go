package cli

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	dockerconfig "github.com/docker/cli/cli/config"
	"github.com/docker/cli/cli/config/configfile"
	"github.com/docker/cli/cli/config/credentials"
	configtypes "github.com/docker/cli/cli/config/types"
	"github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/client"
	"github.com/moby/term"
	"github.com/spf13/cobra"
	xterm "golang.org/x/term"
)

// indexServer is the key Docker Hub credentials are stored under.
const indexServer = "https://index.docker.io/v1/"

// addDistributionCommands adds login, logout, push and search (pull is
// with the other image commands).
func addDistributionCommands(c *CLI, g commandGroups) {
	g.root.AddCommand(newLoginCommand(c), newLogoutCommand(c), newPushCommand(c), newSearchCommand(c))
	g.image.AddCommand(newPushCommand(c))
}

// credentialsFile is the client's config.json through docker's own code,
// so that the file is written exactly as docker writes it and credential
// helpers (credsStore, credHelpers: docker-credential-<name> programs)
// are used as docker uses them.
func (c *CLI) credentialsFile() (*configfile.ConfigFile, error) {
	cf, err := dockerconfig.Load(c.ConfigDir())
	if err != nil {
		return nil, err
	}
	return cf, nil
}

// authFor is what the client knows of a registry's credentials
// ("docker.io" means Docker Hub), from config.json or a credential helper.
func (c *CLI) authFor(host string) registry.AuthConfig {
	if host == "docker.io" || host == "index.docker.io" || host == "registry-1.docker.io" {
		host = indexServer
	}
	cf, err := c.credentialsFile()
	if err != nil {
		return registry.AuthConfig{}
	}
	a, err := cf.GetAuthConfig(host)
	if err != nil {
		return registry.AuthConfig{}
	}
	return registry.AuthConfig{
		Username:      a.Username,
		Password:      a.Password,
		ServerAddress: a.ServerAddress,
		Auth:          a.Auth,
		IdentityToken: a.IdentityToken,
		RegistryToken: a.RegistryToken,
	}
}

// encodedAuthFor is the X-Registry-Auth value for a registry host.
func (c *CLI) encodedAuthFor(host string) string {
	b, err := json.Marshal(c.authFor(host))
	if err != nil {
		return ""
	}
	return base64.URLEncoding.EncodeToString(b)
}

type loginOptions struct {
	user          string
	password      string
	passwordStdin bool
}

func newLoginCommand(c *CLI) *cobra.Command {
	var opts loginOptions
	cmd := &cobra.Command{
		Use:   "login [OPTIONS] [SERVER]",
		Short: "Authenticate to a registry",
		Long:  "Authenticate to a registry.\nDefaults to Docker Hub if no server is specified.",
		Args:  requiresMaxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			server := ""
			if len(args) > 0 {
				server = args[0]
			}
			f := cmd.Flags()
			if f.Changed("password-stdin") || opts.password == "-" {
				if f.Changed("password") && opts.password != "-" {
					return errors.New("conflicting options: cannot specify both --password and --password-stdin")
				}
				if !f.Changed("username") {
					return errors.New("the --password-stdin option requires --username to be set")
				}
			}
			if f.Changed("username") && opts.user == "" {
				return errors.New("username is empty")
			}
			if f.Changed("password") && opts.password == "" {
				return errors.New("password is empty")
			}
			return runLogin(cmd, c, server, opts)
		},
	}
	flags := cmd.Flags()
	flags.StringVarP(&opts.user, "username", "u", "", "Username")
	flags.StringVarP(&opts.password, "password", "p", "", `Password or Personal Access Token (PAT), or "-" to read from stdin`)
	flags.BoolVar(&opts.passwordStdin, "password-stdin", false, "Take the Password or Personal Access Token (PAT) from stdin")
	return cmd
}

// runLogin checks the credentials with the daemon (POST /auth) and stores
// them as docker login does: credentials already stored are tried first
// when none are given, a password is read from stdin or prompted for.
func runLogin(cmd *cobra.Command, c *CLI, server string, opts loginOptions) error {
	if opts.password == "-" {
		opts.password, opts.passwordStdin = "", true
	}
	if opts.password != "" {
		fmt.Fprintln(c.Err, "WARNING! Using --password via the CLI is insecure. Use --password-stdin.")
	}
	if opts.passwordStdin {
		b, err := io.ReadAll(c.In)
		if err != nil {
			return err
		}
		for _, eol := range []string{"\r\n", "\n", "\r"} {
			var ok bool
			if b, ok = bytes.CutSuffix(b, []byte(eol)); ok {
				break
			}
		}
		if strings.TrimSpace(string(b)) == "" {
			return errors.New("password is empty")
		}
		opts.password = string(b)
	}
	if server == "" || server == "docker.io" {
		server = indexServer
	}
	if server != indexServer {
		server = credentials.ConvertToHostname(server)
	}
	cf, err := c.credentialsFile()
	if err != nil {
		return err
	}
	cl, err := c.Client()
	if err != nil {
		return err
	}
	ctx := cmd.Context()

	if opts.user == "" && opts.password == "" {
		if stored, err := cf.GetAuthConfig(server); err == nil && stored.Username != "" && stored.Password != "" {
			fmt.Fprintf(c.Err, "Authenticating with existing credentials... [Username: %s]\n", stored.Username)
			res, err := cl.RegistryLogin(ctx, client.RegistryLoginOptions{Username: stored.Username, Password: stored.Password, ServerAddress: server})
			if err == nil {
				fmt.Fprintln(c.Out, res.Auth.Status)
				return nil
			}
			fmt.Fprintln(c.Err, "Stored credentials invalid or expired")
			opts.user = stored.Username
		}
	}
	if opts.user == "" || opts.password == "" {
		if err := promptCredentials(c, &opts); err != nil {
			return err
		}
	}
	res, err := cl.RegistryLogin(ctx, client.RegistryLoginOptions{Username: opts.user, Password: opts.password, ServerAddress: server})
	if err != nil {
		return err
	}
	auth := configtypes.AuthConfig{Username: opts.user, Password: opts.password, ServerAddress: server}
	if res.Auth.IdentityToken != "" {
		auth.Password = ""
		auth.IdentityToken = res.Auth.IdentityToken
	}
	if err := cf.GetCredentialsStore(server).Store(auth); err != nil {
		return fmt.Errorf("error saving credentials: %v", err)
	}
	fmt.Fprintln(c.Out, res.Auth.Status)
	return nil
}

// promptCredentials asks on a terminal for what the command line left
// out; docker refuses to prompt anywhere else.
func promptCredentials(c *CLI, opts *loginOptions) error {
	fd, isTerm := term.GetFdInfo(c.In)
	if !isTerm {
		return errors.New("error: cannot perform an interactive login from a non-TTY device")
	}
	in := bufio.NewReader(c.In)
	if opts.user == "" {
		fmt.Fprint(c.Out, "Username: ")
		line, err := in.ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		if opts.user = strings.TrimSpace(line); opts.user == "" {
			return errors.New("error: username is required")
		}
	}
	if opts.password == "" {
		fmt.Fprint(c.Out, "Password: ")
		b, err := xterm.ReadPassword(int(fd))
		fmt.Fprintln(c.Out)
		if err != nil {
			return err
		}
		if opts.password = string(b); opts.password == "" {
			return errors.New("error: password is required")
		}
	}
	return nil
}

func newLogoutCommand(c *CLI) *cobra.Command {
	return &cobra.Command{
		Use:   "logout [SERVER]",
		Short: "Log out from a registry",
		Long:  "Log out from a registry.\nIf no server is specified, the default is defined by the daemon.",
		Args:  requiresMaxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			server := ""
			if len(args) > 0 {
				server = args[0]
			}
			return runLogout(c, server)
		},
	}
}

// runLogout erases the credentials of a registry, under every key docker
// may have stored them with.
func runLogout(c *CLI, server string) error {
	isDefault := server == ""
	if isDefault {
		server = indexServer
	}
	keys := []string{server}
	host := server
	if !isDefault {
		host = credentials.ConvertToHostname(server)
		keys = append(keys, host, "http://"+host, "https://"+host)
	}
	cf, err := c.credentialsFile()
	if err != nil {
		return err
	}
	fmt.Fprintln(c.Out, "Removing login credentials for", host)
	errs := map[string]error{}
	for _, k := range keys {
		if err := cf.GetCredentialsStore(k).Erase(k); err != nil {
			errs[k] = err
		}
	}
	if len(errs) == len(keys) {
		fmt.Fprintln(c.Err, "WARNING: could not erase credentials:")
		for k, v := range errs {
			fmt.Fprintf(c.Err, "%s: %s\n", k, v)
		}
	}
	return nil
}
