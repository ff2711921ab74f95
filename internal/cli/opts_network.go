package cli

// --network, simple ("bridge") or advanced ("name=n,alias=a,ip=...")
// syntax, and the EndpointsConfig of the create request built from it and
// the per-container network flags, after the docker CLI (Apache-2.0).

import (
	"encoding/csv"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
)

// networkAttachment is one --network value.
type networkAttachment struct {
	Target       string
	Aliases      []string
	DriverOpts   map[string]string
	Links        []string
	IPv4Address  string
	IPv6Address  string
	LinkLocalIPs []string
	MacAddress   string
	GwPriority   int
}

type networkOpt struct {
	options []networkAttachment
}

var networkLongSyntax = regexp.MustCompile(`\w+=\w+(,\w+=\w+)*`)

func (n *networkOpt) Set(value string) error {
	var netOpt networkAttachment
	if !networkLongSyntax.MatchString(value) {
		netOpt.Target = value
		n.options = append(n.options, netOpt)
		return nil
	}
	fields, err := csv.NewReader(strings.NewReader(value)).Read()
	if err != nil {
		return err
	}
	netOpt.Aliases = []string{}
	for _, field := range fields {
		// docker lower-cases the whole field, values included.
		key, val, ok := strings.Cut(strings.ToLower(field), "=")
		if !ok || key == "" {
			return fmt.Errorf("invalid field %s", field)
		}
		key = strings.TrimSpace(key)
		val = strings.TrimSpace(val)
		switch key {
		case "name":
			netOpt.Target = val
		case "alias":
			netOpt.Aliases = append(netOpt.Aliases, val)
		case "ip":
			netOpt.IPv4Address = val
		case "ip6":
			netOpt.IPv6Address = val
		case "mac-address":
			netOpt.MacAddress = val
		case "link-local-ip":
			netOpt.LinkLocalIPs = append(netOpt.LinkLocalIPs, val)
		case "driver-opt":
			k, v, ok := strings.Cut(val, "=")
			if !ok || k == "" {
				return errors.New("invalid key value pair format in driver options")
			}
			if netOpt.DriverOpts == nil {
				netOpt.DriverOpts = map[string]string{}
			}
			netOpt.DriverOpts[strings.TrimSpace(k)] = strings.TrimSpace(v)
		case "gw-priority":
			netOpt.GwPriority, err = strconv.Atoi(val)
			if err != nil {
				var numErr *strconv.NumError
				if errors.As(err, &numErr) {
					err = numErr.Err
				}
				return fmt.Errorf("invalid gw-priority (%s): %w", val, err)
			}
		default:
			return errors.New("invalid field key " + key)
		}
	}
	if netOpt.Target == "" {
		return errors.New("network name/id is not specified")
	}
	n.options = append(n.options, netOpt)
	return nil
}

func (*networkOpt) Type() string                 { return "network" }
func (*networkOpt) String() string               { return "" }
func (n *networkOpt) Value() []networkAttachment { return n.options }

// NetworkMode is the first network, or "default".
func (n *networkOpt) NetworkMode() string {
	if len(n.options) > 0 {
		return n.options[0].Target
	}
	return "default"
}

// parseNetworkOpts builds EndpointsConfig from --network (simple or
// advanced syntax) plus --network-alias, --link, --ip, --ip6, --mac-address
// and --link-local-ip, which apply to the first network.
func parseNetworkOpts(copts *containerOptions) (map[string]*network.EndpointSettings, error) {
	var (
		endpoints                         = make(map[string]*network.EndpointSettings, len(copts.netMode.Value()))
		hasUserDefined, hasNonUserDefined bool
	)
	if len(copts.netMode.Value()) == 0 {
		n := networkAttachment{Target: "default"}
		if err := applyContainerNetworkOptions(&n, copts); err != nil {
			return nil, err
		}
		ep, err := parseNetworkAttachment(n)
		if err != nil {
			return nil, err
		}
		endpoints["default"] = ep
	}
	for i, n := range copts.netMode.Value() {
		if container.NetworkMode(n.Target).IsUserDefined() {
			hasUserDefined = true
		} else {
			hasNonUserDefined = true
		}
		if i == 0 {
			if err := applyContainerNetworkOptions(&n, copts); err != nil {
				return nil, err
			}
		}
		ep, err := parseNetworkAttachment(n)
		if err != nil {
			return nil, err
		}
		if _, ok := endpoints[n.Target]; ok {
			return nil, fmt.Errorf("network %q is specified multiple times", n.Target)
		}
		// A single network without options gets no endpoint config; the
		// daemon makes one, as it did before multi-network create.
		if i == 0 && len(copts.netMode.Value()) == 1 && (ep == nil || reflect.ValueOf(*ep).IsZero()) {
			continue
		}
		endpoints[n.Target] = ep
	}
	if hasUserDefined && hasNonUserDefined {
		return nil, errors.New("conflicting options: cannot attach both user-defined and non-user-defined network-modes")
	}
	return endpoints, nil
}

func applyContainerNetworkOptions(n *networkAttachment, copts *containerOptions) error {
	switch {
	case len(n.Aliases) > 0 && copts.aliases.Len() > 0:
		return errors.New("conflicting options: cannot specify both --network-alias and per-network alias")
	case len(n.Links) > 0 && copts.links.Len() > 0:
		return errors.New("conflicting options: cannot specify both --link and per-network links")
	case n.IPv4Address != "" && copts.ipv4Address != "":
		return errors.New("conflicting options: cannot specify both --ip and per-network IPv4 address")
	case n.IPv6Address != "" && copts.ipv6Address != "":
		return errors.New("conflicting options: cannot specify both --ip6 and per-network IPv6 address")
	case n.MacAddress != "" && copts.macAddress != "":
		return errors.New("conflicting options: cannot specify both --mac-address and per-network MAC address")
	case len(n.LinkLocalIPs) > 0 && copts.linkLocalIPs.Len() > 0:
		return errors.New("conflicting options: cannot specify both --link-local-ip and per-network link-local IP addresses")
	}
	if copts.aliases.Len() > 0 {
		n.Aliases = slices.Clone(copts.aliases.GetSlice())
	}
	// On a user-defined network --link is an endpoint alias; on the
	// default bridge it is a legacy link (HostConfig.Links).
	if container.NetworkMode(n.Target).IsUserDefined() && copts.links.Len() > 0 {
		n.Links = slices.Clone(copts.links.GetSlice())
	}
	if copts.ipv4Address != "" {
		n.IPv4Address = copts.ipv4Address
	}
	if copts.ipv6Address != "" {
		n.IPv6Address = copts.ipv6Address
	}
	if copts.macAddress != "" {
		n.MacAddress = copts.macAddress
	}
	if copts.linkLocalIPs.Len() > 0 {
		n.LinkLocalIPs = slices.Clone(copts.linkLocalIPs.GetSlice())
	}
	return nil
}

func parseNetworkAttachment(ep networkAttachment) (*network.EndpointSettings, error) {
	if strings.TrimSpace(ep.Target) == "" {
		return nil, errors.New("no name set for network")
	}
	if !container.NetworkMode(ep.Target).IsUserDefined() {
		if len(ep.Aliases) > 0 {
			return nil, errors.New("network-scoped aliases are only supported for user-defined networks")
		}
		if len(ep.Links) > 0 {
			return nil, errors.New("links are only supported for user-defined networks")
		}
	}
	epConfig := &network.EndpointSettings{GwPriority: ep.GwPriority}
	epConfig.Aliases = append(epConfig.Aliases, ep.Aliases...)
	if len(ep.DriverOpts) > 0 {
		epConfig.DriverOpts = ep.DriverOpts
	}
	if len(ep.Links) > 0 {
		epConfig.Links = ep.Links
	}
	if ep.IPv4Address != "" || ep.IPv6Address != "" || len(ep.LinkLocalIPs) > 0 {
		ipam := &network.EndpointIPAMConfig{}
		var err error
		// docker 28 leaves these to the daemon; the API types now hold
		// parsed addresses, so they are checked here, with its words.
		if ep.IPv4Address != "" {
			if ipam.IPv4Address, err = netip.ParseAddr(ep.IPv4Address); err != nil || !ipam.IPv4Address.Is4() {
				return nil, fmt.Errorf("invalid IPv4 address: %s", ep.IPv4Address)
			}
		}
		if ep.IPv6Address != "" {
			if ipam.IPv6Address, err = netip.ParseAddr(ep.IPv6Address); err != nil || !ipam.IPv6Address.Is6() {
				return nil, fmt.Errorf("invalid IPv6 address: %s", ep.IPv6Address)
			}
		}
		// As docker 29 does (API types hold addresses now), unparsable
		// link-local addresses are dropped; docker 28 left them to the
		// daemon, which ignored them on the default bridge.
		for _, a := range ep.LinkLocalIPs {
			if addr, err := netip.ParseAddr(strings.TrimSpace(a)); err == nil {
				ipam.LinkLocalIPs = append(ipam.LinkLocalIPs, addr)
			}
		}
		epConfig.IPAMConfig = ipam
	}
	if ep.MacAddress != "" {
		ma, err := net.ParseMAC(strings.TrimSpace(ep.MacAddress))
		if err != nil {
			return nil, fmt.Errorf("%s is not a valid mac address", ep.MacAddress)
		}
		epConfig.MacAddress = network.HardwareAddr(ma)
	}
	return epConfig, nil
}
