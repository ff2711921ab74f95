package cli

// -p and --expose parsing. docker 28 vends go-connections v0.5's nat
// package, whose order of checks and whose messages differ from later
// versions; this is that parser, producing the API's network types.

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/network"
)

// parsePorts reads -p (short and long syntax) and --expose into the
// exposed ports and the port bindings.
func parsePorts(publish, expose []string) (network.PortSet, network.PortMap, error) {
	converted, err := convertToStandardNotation(publish)
	if err != nil {
		return nil, nil, err
	}
	exposed := network.PortSet{}
	bindings := network.PortMap{}
	for _, spec := range converted {
		mappings, err := parsePortSpec(spec)
		if err != nil {
			return nil, nil, err
		}
		for _, m := range mappings {
			exposed[m.port] = struct{}{}
			bindings[m.port] = append(bindings[m.port], m.binding)
		}
	}

	// --expose takes <port>[/<proto>] or <start>-<end>[/<proto>].
	for _, e := range expose {
		if strings.Contains(e, ":") {
			return nil, nil, fmt.Errorf("invalid port format for --expose: %s", e)
		}
		proto, port := splitProtoPort(e)
		start, end, err := parsePortRange(port)
		if err != nil {
			return nil, nil, fmt.Errorf("invalid range format for --expose: %s, error: %s", e, err)
		}
		for i := start; i <= end; i++ {
			p, err := network.ParsePort(strconv.FormatUint(i, 10) + "/" + proto)
			if err != nil {
				return nil, nil, err
			}
			exposed[p] = struct{}{}
		}
	}
	return exposed, bindings, nil
}

// convertToStandardNotation rewrites the long -p syntax
// (published=8080,target=80,protocol=udp) to 8080:80/udp.
func convertToStandardNotation(ports []string) ([]string, error) {
	optsList := []string{}
	for _, publish := range ports {
		if !strings.Contains(publish, "=") {
			optsList = append(optsList, publish)
			continue
		}
		params := map[string]string{"protocol": "tcp"}
		for param := range strings.SplitSeq(publish, ",") {
			k, v, ok := strings.Cut(param, "=")
			if !ok || k == "" {
				return optsList, fmt.Errorf("invalid publish opts format (should be name=value but got '%s')", param)
			}
			params[k] = v
		}
		optsList = append(optsList, fmt.Sprintf("%s:%s/%s", params["published"], params["target"], params["protocol"]))
	}
	return optsList, nil
}

type portMapping struct {
	port    network.Port
	binding network.PortBinding
}

// parsePortSpec reads [ip:][hostPort:]containerPort[/proto], where ip may
// be a bracketed IPv6 address and either port a range.
func parsePortSpec(rawPort string) ([]portMapping, error) {
	ip, hostPort, containerPort := splitPortParts(rawPort)
	proto, containerPort := splitProtoPort(containerPort)
	if containerPort == "" {
		return nil, fmt.Errorf("no port specified: %s<empty>", rawPort)
	}
	proto = strings.ToLower(proto)
	switch proto {
	case "tcp", "udp", "sctp":
	default:
		return nil, errors.New("invalid proto: " + proto)
	}

	if ip != "" && ip[0] == '[' {
		rawIP, _, err := net.SplitHostPort(ip + ":")
		if err != nil {
			return nil, fmt.Errorf("invalid IP address %v: %w", ip, err)
		}
		ip = rawIP
	}
	if ip != "" && net.ParseIP(ip) == nil {
		return nil, errors.New("invalid IP address: " + ip)
	}
	startPort, endPort, err := parsePortRange(containerPort)
	if err != nil {
		return nil, errors.New("invalid containerPort: " + containerPort)
	}
	var startHostPort, endHostPort uint64
	if hostPort != "" {
		startHostPort, endHostPort, err = parsePortRange(hostPort)
		if err != nil {
			return nil, errors.New("invalid hostPort: " + hostPort)
		}
		// A host range with a single container port is a range to
		// allocate one port from.
		if endPort-startPort != endHostPort-startHostPort && endPort != startPort {
			return nil, fmt.Errorf("invalid ranges specified for container and host Ports: %s and %s", containerPort, hostPort)
		}
	}

	var hostIP netip.Addr
	if ip != "" {
		if hostIP, err = netip.ParseAddr(ip); err != nil {
			return nil, errors.New("invalid IP address: " + ip)
		}
	}

	count := endPort - startPort + 1
	ports := make([]portMapping, 0, count)
	for i := range count {
		hPort := ""
		if hostPort != "" {
			hPort = strconv.FormatUint(startHostPort+i, 10)
			if count == 1 && startHostPort != endHostPort {
				hPort += "-" + strconv.FormatUint(endHostPort, 10)
			}
		}
		p, ok := network.PortFrom(uint16(startPort+i), network.IPProtocol(proto))
		if !ok {
			return nil, errors.New("invalid containerPort: " + containerPort)
		}
		ports = append(ports, portMapping{port: p, binding: network.PortBinding{HostIP: hostIP, HostPort: hPort}})
	}
	return ports, nil
}

func splitPortParts(rawport string) (hostIP, hostPort, containerPort string) {
	parts := strings.Split(rawport, ":")
	switch len(parts) {
	case 1:
		return "", "", parts[0]
	case 2:
		return "", parts[0], parts[1]
	case 3:
		return parts[0], parts[1], parts[2]
	default:
		n := len(parts)
		return strings.Join(parts[:n-2], ":"), parts[n-2], parts[n-1]
	}
}

// splitProtoPort splits "80/udp"; the protocol defaults to tcp.
func splitProtoPort(rawPort string) (proto, port string) {
	parts := strings.Split(rawPort, "/")
	if rawPort == "" || parts[0] == "" {
		return "", ""
	}
	if len(parts) == 1 || parts[1] == "" {
		return "tcp", parts[0]
	}
	return parts[1], parts[0]
}

// parsePortRange reads "8000" or "8000-9000". Its errors are strconv's,
// which docker prints for --expose.
func parsePortRange(ports string) (start, end uint64, _ error) {
	if ports == "" {
		return 0, 0, errors.New("empty string specified for ports")
	}
	if !strings.Contains(ports, "-") {
		start, err := strconv.ParseUint(ports, 10, 16)
		return start, start, err
	}
	parts := strings.Split(ports, "-")
	start, err := strconv.ParseUint(parts[0], 10, 16)
	if err != nil {
		return 0, 0, err
	}
	end, err = strconv.ParseUint(parts[1], 10, 16)
	if err != nil {
		return 0, 0, err
	}
	if end < start {
		return 0, 0, errors.New("invalid range specified for port: " + ports)
	}
	return start, end, nil
}
