package cli

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strings"

	"github.com/berth-dev/berth/internal/cli/formatter"
	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

// newNetworkCommand is the "network" group, as docker 28's: create, ls,
// inspect, rm, prune, connect, disconnect.
func newNetworkCommand(c *CLI) *cobra.Command {
	cmd := newGroupCommand("network", "Manage networks")
	cmd.AddCommand(
		newNetworkConnectCommand(c),
		newNetworkCreateCommand(c),
		newNetworkDisconnectCommand(c),
		newNetworkInspectCommand(c),
		newNetworkListCommand(c),
		newNetworkRemoveCommand(c),
		newNetworkPruneCommand(c),
	)
	return cmd
}

type networkCreateOptions struct {
	driver     string
	driverOpts *mapOpts
	labels     listOpts
	internal   bool
	ipv4, ipv6 bool
	attachable bool
	ingress    bool
	scope      string
	configOnly bool
	configFrom string

	ipamDriver   string
	subnets      []string
	ipRanges     []string
	gateways     []string
	auxAddresses *mapOpts
	ipamOpts     *mapOpts
}

func newNetworkCreateCommand(c *CLI) *cobra.Command {
	opts := networkCreateOptions{
		driverOpts:   newMapOpts(nil),
		labels:       newListOpts(validateLabel),
		auxAddresses: newMapOpts(nil),
		ipamOpts:     newMapOpts(nil),
	}
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] NETWORK",
		Short: "Create a network",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ipam, err := opts.ipamConfig()
			if err != nil {
				return err
			}
			req := client.NetworkCreateOptions{
				Driver:     opts.driver,
				Options:    opts.driverOpts.GetAll(),
				IPAM:       ipam,
				Internal:   opts.internal,
				Attachable: opts.attachable,
				Ingress:    opts.ingress,
				Scope:      opts.scope,
				ConfigOnly: opts.configOnly,
				ConfigFrom: opts.configFrom,
				Labels:     convertKVStringsToMap(opts.labels.GetSlice()),
			}
			// Only what the user set: the daemon decides the defaults.
			if cmd.Flag("ipv4").Changed {
				req.EnableIPv4 = &opts.ipv4
			}
			if cmd.Flag("ipv6").Changed {
				req.EnableIPv6 = &opts.ipv6
			}
			cl, err := c.Client()
			if err != nil {
				return err
			}
			res, err := cl.NetworkCreate(cmd.Context(), args[0], req)
			if err != nil {
				return err
			}
			fmt.Fprintln(c.Out, res.ID)
			return nil
		},
	}
	flags := cmd.Flags()
	flags.StringVarP(&opts.driver, "driver", "d", "bridge", "Driver to manage the Network")
	flags.VarP(opts.driverOpts, "opt", "o", "Set driver specific options")
	flags.Var(&opts.labels, "label", "Set metadata on a network")
	flags.BoolVar(&opts.internal, "internal", false, "Restrict external access to the network")
	flags.BoolVar(&opts.ipv4, "ipv4", true, "Enable or disable IPv4 address assignment")
	flags.BoolVar(&opts.ipv6, "ipv6", false, "Enable or disable IPv6 address assignment")
	flags.BoolVar(&opts.attachable, "attachable", false, "Enable manual container attachment")
	flags.BoolVar(&opts.ingress, "ingress", false, "Create swarm routing-mesh network")
	flags.StringVar(&opts.scope, "scope", "", "Control the network's scope")
	flags.BoolVar(&opts.configOnly, "config-only", false, "Create a configuration only network")
	flags.StringVar(&opts.configFrom, "config-from", "", "The network from which to copy the configuration")
	flags.StringVar(&opts.ipamDriver, "ipam-driver", "default", "IP Address Management Driver")
	flags.StringSliceVar(&opts.subnets, "subnet", []string{}, "Subnet in CIDR format that represents a network segment")
	flags.StringSliceVar(&opts.ipRanges, "ip-range", []string{}, "Allocate container ip from a sub-range")
	flags.StringSliceVar(&opts.gateways, "gateway", []string{}, "IPv4 or IPv6 Gateway for the master subnet")
	flags.Var(opts.auxAddresses, "aux-address", "Auxiliary IPv4 or IPv6 addresses used by Network driver")
	flags.Var(opts.ipamOpts, "ipam-opt", "Set IPAM driver specific options")
	return cmd
}

// ipamConfig groups --subnet, --ip-range, --gateway and --aux-address by
// subnet, with docker's checks and messages: each range, gateway and
// auxiliary address must fall in exactly one given subnet, and subnets
// must not overlap. Subnets keep their command-line order.
func (o *networkCreateOptions) ipamConfig() (*network.IPAM, error) {
	if len(o.subnets) < len(o.ipRanges) || len(o.subnets) < len(o.gateways) {
		return nil, errors.New("every ip-range or gateway must have a corresponding subnet")
	}
	configs := make([]network.IPAMConfig, 0, len(o.subnets))
	index := map[string]int{}
	for _, s := range o.subnets {
		for _, k := range o.subnets[:len(configs)] {
			in1, err := subnetContains(s, k)
			if err != nil {
				return nil, err
			}
			in2, err := subnetContains(k, s)
			if err != nil {
				return nil, err
			}
			if in1 || in2 {
				return nil, errors.New("multiple overlapping subnet configuration is not supported")
			}
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			// net accepts what netip does not (e.g. "10.1.0.0/016").
			_, n, err2 := net.ParseCIDR(s)
			if err2 != nil {
				return nil, fmt.Errorf("invalid subnet: %w", err2)
			}
			p = ipNetPrefix(n)
		}
		index[s] = len(configs)
		configs = append(configs, network.IPAMConfig{Subnet: p, AuxAddress: map[string]netip.Addr{}})
	}

	for _, r := range o.ipRanges {
		ip, n, err := net.ParseCIDR(r)
		if err != nil {
			return nil, err
		}
		holding, err := subnetsHolding(o.subnets, r, "range")
		if err != nil {
			return nil, err
		}
		for _, s := range holding {
			cfg := &configs[index[s]]
			if cfg.IPRange.IsValid() {
				return nil, fmt.Errorf("cannot configure multiple ranges (%s, %s) on the same subnet (%s)", r, cfg.IPRange, s)
			}
			ones, _ := n.Mask.Size()
			addr, _ := netip.AddrFromSlice(ip)
			cfg.IPRange = netip.PrefixFrom(addr.Unmap(), ones)
		}
	}

	for _, g := range o.gateways {
		holding, err := subnetsHolding(o.subnets, g, "gateway")
		if err != nil {
			return nil, err
		}
		for _, s := range holding {
			cfg := &configs[index[s]]
			if cfg.Gateway.IsValid() {
				return nil, fmt.Errorf("cannot configure multiple gateways (%s, %s) for the same subnet (%s)", g, cfg.Gateway, s)
			}
			cfg.Gateway = parseNetIP(g)
		}
	}

	aux := o.auxAddresses.GetAll()
	names := make([]string, 0, len(aux))
	for name := range aux {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		a := aux[name]
		holding, err := subnetsHolding(o.subnets, a, "aux-address")
		if err != nil {
			return nil, err
		}
		for _, s := range holding {
			configs[index[s]].AuxAddress[name] = parseNetIP(a)
		}
	}

	return &network.IPAM{Driver: o.ipamDriver, Config: configs, Options: o.ipamOpts.GetAll()}, nil
}

// subnetsHolding returns the subnets that data (as subnetContains takes
// it) is in, in order; none is docker's "no matching subnet for <what>".
func subnetsHolding(subnets []string, data, what string) ([]string, error) {
	var holding []string
	for _, s := range subnets {
		in, err := subnetContains(s, data)
		if err != nil {
			return nil, err
		}
		if in {
			holding = append(holding, s)
		}
	}
	if len(holding) == 0 {
		return nil, fmt.Errorf("no matching subnet for %s %s", what, data)
	}
	return holding, nil
}

// subnetContains reports whether data, an address or a CIDR (whose
// address counts), is in subnet; docker's subnetMatches.
func subnetContains(subnet, data string) (bool, error) {
	_, s, err := net.ParseCIDR(subnet)
	if err != nil {
		return false, fmt.Errorf("invalid subnet: %w", err)
	}
	var ip net.IP
	if strings.Contains(data, "/") {
		ip, _, err = net.ParseCIDR(data)
		if err != nil {
			return false, err
		}
	} else {
		ip = net.ParseIP(data)
	}
	return s.Contains(ip), nil
}

// parseNetIP converts an address net.ParseIP accepted.
func parseNetIP(s string) netip.Addr {
	a, _ := netip.ParseAddr(s)
	return a
}

func ipNetPrefix(n *net.IPNet) netip.Prefix {
	addr, _ := netip.AddrFromSlice(n.IP)
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(addr.Unmap(), ones)
}

type networkListOptions struct {
	quiet   bool
	noTrunc bool
	format  string
	filter  *filterFlag
}

func newNetworkListCommand(c *CLI) *cobra.Command {
	opts := networkListOptions{filter: newFilterFlag()}
	cmd := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Aliases: []string{"list"},
		Short:   "List networks",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := c.Client()
			if err != nil {
				return err
			}
			res, err := cl.NetworkList(cmd.Context(), client.NetworkListOptions{Filters: opts.filter.Value()})
			if err != nil {
				return err
			}
			sort.SliceStable(res.Items, func(i, j int) bool { return naturalLess(res.Items[i].Name, res.Items[j].Name) })
			format := opts.format
			if format == "" {
				format = formatter.TableFormatKey
			}
			return formatter.NetworkWrite(formatter.Context{
				Output: c.Out,
				Format: formatter.NewNetworkFormat(format, opts.quiet),
				Trunc:  !opts.noTrunc,
			}, res.Items)
		},
	}
	flags := cmd.Flags()
	flags.BoolVarP(&opts.quiet, "quiet", "q", false, "Only display network IDs")
	flags.BoolVar(&opts.noTrunc, "no-trunc", false, "Do not truncate the output")
	flags.StringVar(&opts.format, "format", "", formatHelp)
	flags.VarP(opts.filter, "filter", "f", `Provide filter values (e.g. "driver=bridge")`)
	return cmd
}

func newNetworkInspectCommand(c *CLI) *cobra.Command {
	var format string
	var verbose bool
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] NETWORK [NETWORK...]",
		Short: "Display detailed information on one or more networks",
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.Client()
			if err != nil {
				return err
			}
			return inspectAll(c.Out, args, format, inspectNetwork(cmd, cl, verbose))
		},
	}
	flags := cmd.Flags()
	flags.StringVarP(&format, "format", "f", "", inspectFormatHelp)
	flags.BoolVarP(&verbose, "verbose", "v", false, "Verbose output for diagnostics")
	return cmd
}

const ingressRemoveWarning = "WARNING! Before removing the routing-mesh network, " +
	"make sure all the nodes in your swarm run the same docker engine version. " +
	"Otherwise, removal may not be effective and functionality of newly create " +
	"ingress networks will be impaired.\nAre you sure you want to continue?"

func newNetworkRemoveCommand(c *CLI) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:     "rm NETWORK [NETWORK...]",
		Aliases: []string{"remove"},
		Short:   "Remove one or more networks",
		Args:    requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.Client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			failed := false
			for _, name := range args {
				// Removing the swarm routing mesh asks first, as docker does.
				if res, err := cl.NetworkInspect(ctx, name, client.NetworkInspectOptions{}); err == nil && res.Network.Ingress {
					ok, err := confirm(ctx, c.In, c.Out, ingressRemoveWarning)
					if err != nil {
						return err
					}
					if !ok {
						continue
					}
				}
				if _, err := cl.NetworkRemove(ctx, name, client.NetworkRemoveOptions{}); err != nil {
					if force && errdefs.IsNotFound(err) {
						continue
					}
					fmt.Fprintln(c.Err, err)
					failed = true
					continue
				}
				fmt.Fprintln(c.Out, name)
			}
			if failed {
				return StatusError{StatusCode: 1, Status: "exit status 1"}
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not error if the network does not exist")
	return cmd
}

const networkPruneWarning = `WARNING! This will remove all custom networks not used by at least one container.
Are you sure you want to continue?`

func newNetworkPruneCommand(c *CLI) *cobra.Command {
	opts := pruneOptions{filter: newFilterFlag()}
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove all unused networks",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := confirmAndPrune(cmd.Context(), c, &opts, networkPruneWarning, "network prune", pruneNetworks)
			return err
		},
	}
	flags := cmd.Flags()
	flags.BoolVarP(&opts.force, "force", "f", false, "Do not prompt for confirmation")
	flags.Var(opts.filter, "filter", `Provide filter values (e.g. "until=<timestamp>")`)
	return cmd
}

type networkConnectOptions struct {
	ip, ip6      string
	links        listOpts
	aliases      []string
	linkLocalIPs []string
	driverOpts   []string
	gwPriority   int
}

func newNetworkConnectCommand(c *CLI) *cobra.Command {
	opts := networkConnectOptions{links: newListOpts(validateLink)}
	cmd := &cobra.Command{
		Use:   "connect [OPTIONS] NETWORK CONTAINER",
		Short: "Connect a container to a network",
		Args:  exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			settings, err := opts.endpointSettings()
			if err != nil {
				return err
			}
			cl, err := c.Client()
			if err != nil {
				return err
			}
			_, err = cl.NetworkConnect(cmd.Context(), args[0], client.NetworkConnectOptions{Container: args[1], EndpointConfig: settings})
			return err
		},
	}
	flags := cmd.Flags()
	flags.StringVar(&opts.ip, "ip", "", `IPv4 address (e.g., "172.30.100.104")`)
	flags.StringVar(&opts.ip6, "ip6", "", `IPv6 address (e.g., "2001:db8::33")`)
	flags.Var(&opts.links, "link", "Add link to another container")
	flags.StringSliceVar(&opts.aliases, "alias", []string{}, "Add network-scoped alias for the container")
	flags.StringSliceVar(&opts.linkLocalIPs, "link-local-ip", []string{}, "Add a link-local address for the container")
	flags.StringSliceVar(&opts.driverOpts, "driver-opt", []string{}, "driver options for the network")
	flags.IntVar(&opts.gwPriority, "gw-priority", 0, "Highest gw-priority provides the default gateway. Accepts positive and negative values.")
	return cmd
}

func (o *networkConnectOptions) endpointSettings() (*network.EndpointSettings, error) {
	driverOpts := map[string]string{}
	for _, opt := range o.driverOpts {
		k, v, ok := strings.Cut(opt, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, errors.New("invalid key/value pair format in driver options")
		}
		driverOpts[k] = strings.TrimSpace(v)
	}
	ipam := &network.EndpointIPAMConfig{}
	var err error
	if ipam.IPv4Address, err = parseEndpointIP(o.ip, "IPv4"); err != nil {
		return nil, err
	}
	if ipam.IPv6Address, err = parseEndpointIP(o.ip6, "IPv6"); err != nil {
		return nil, err
	}
	for _, s := range o.linkLocalIPs {
		a, err := parseEndpointIP(s, "")
		if err != nil {
			return nil, err
		}
		ipam.LinkLocalIPs = append(ipam.LinkLocalIPs, a)
	}
	return &network.EndpointSettings{
		IPAMConfig: ipam,
		Links:      o.links.GetSlice(),
		Aliases:    o.aliases,
		DriverOpts: driverOpts,
		GwPriority: o.gwPriority,
	}, nil
}

// parseEndpointIP parses --ip, --ip6 and --link-local-ip; docker's CLI
// sends them as typed and the daemon rejects a bad one, while the typed
// API client needs a valid address, so the check happens here, in the
// daemon's words.
func parseEndpointIP(s, family string) (netip.Addr, error) {
	if s == "" {
		return netip.Addr{}, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || family == "IPv4" && !a.Unmap().Is4() || family == "IPv6" && !a.Is6() {
		if family == "" {
			return netip.Addr{}, fmt.Errorf("invalid link-local IP address: %s", s)
		}
		return netip.Addr{}, fmt.Errorf("invalid %s address: %s", family, s)
	}
	return a.Unmap(), nil
}

func newNetworkDisconnectCommand(c *CLI) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "disconnect [OPTIONS] NETWORK CONTAINER",
		Short: "Disconnect a container from a network",
		Args:  exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.Client()
			if err != nil {
				return err
			}
			_, err = cl.NetworkDisconnect(cmd.Context(), args[0], client.NetworkDisconnectOptions{Container: args[1], Force: force})
			return err
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Force the container to disconnect from a network")
	return cmd
}
