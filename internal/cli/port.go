package cli

import (
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

func newPortCommand(c *CLI) *cobra.Command {
	return &cobra.Command{
		Use:   "port CONTAINER [PRIVATE_PORT[/PROTO]]",
		Short: "List port mappings or a specific mapping for the container",
		Args:  requiresRangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			port := ""
			if len(args) > 1 {
				port = args[1]
			}
			return runPort(cmd, c, args[0], port)
		},
		Annotations: map[string]string{"aliases": "berth container port, berth port"},
	}
}

// runPort prints "80/tcp -> 0.0.0.0:8080" lines, or for one port only the
// host addresses, in natural sort order.
func runPort(cmd *cobra.Command, c *CLI, name, portArg string) error {
	cl, err := c.Client()
	if err != nil {
		return err
	}
	res, err := cl.ContainerInspect(cmd.Context(), name, client.ContainerInspectOptions{})
	if err != nil {
		return err
	}
	var ports network.PortMap
	if res.Container.NetworkSettings != nil {
		ports = res.Container.NetworkSettings.Ports
	}
	var out []string
	if portArg != "" {
		port, proto, _ := strings.Cut(portArg, "/")
		if proto == "" {
			proto = "tcp"
		}
		if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			return fmt.Errorf("Error: invalid port (%s): %w", port, err) //nolint:staticcheck // docker's wording
		}
		// Compared as text, as docker does: "80/TCP" is not "80/tcp".
		var frontends []network.PortBinding
		found := false
		for p, fe := range ports {
			if p.String() == port+"/"+proto && fe != nil {
				frontends, found = fe, true
			}
		}
		if !found {
			return fmt.Errorf("Error: No public port '%s' published for %s", portArg, name) //nolint:staticcheck // docker's wording
		}
		for _, fe := range frontends {
			out = append(out, net.JoinHostPort(hostIPString(fe), fe.HostPort))
		}
	} else {
		for from, frontends := range ports {
			for _, fe := range frontends {
				out = append(out, fmt.Sprintf("%s -> %s", from, net.JoinHostPort(hostIPString(fe), fe.HostPort)))
			}
		}
	}
	if len(out) > 0 {
		sort.Slice(out, func(i, j int) bool { return naturalLess(out[i], out[j]) })
		fmt.Fprintln(c.Out, strings.Join(out, "\n"))
	}
	return nil
}

func hostIPString(b network.PortBinding) string {
	if !b.HostIP.IsValid() {
		return ""
	}
	return b.HostIP.String()
}

// naturalLess compares strings with digit runs compared as numbers, so
// that "9000/tcp" sorts before "10000/tcp" (fvbommel/sortorder, as docker).
func naturalLess(str1, str2 string) bool {
	idx1, idx2 := 0, 0
	for idx1 < len(str1) && idx2 < len(str2) {
		c1, c2 := str1[idx1], str2[idx2]
		dig1, dig2 := isDigit(c1), isDigit(c2)
		switch {
		case dig1 != dig2:
			return dig1
		case !dig1:
			idx1++
			idx2++
			if c1 != c2 {
				return c1 < c2
			}
		default:
			// Skip leading zeros, compare lengths, then digits.
			for ; idx1 < len(str1) && str1[idx1] == '0'; idx1++ {
			}
			for ; idx2 < len(str2) && str2[idx2] == '0'; idx2++ {
			}
			nz1, nz2 := idx1, idx2
			for ; idx1 < len(str1) && isDigit(str1[idx1]); idx1++ {
			}
			for ; idx2 < len(str2) && isDigit(str2[idx2]); idx2++ {
			}
			if l1, l2 := idx1-nz1, idx2-nz2; l1 != l2 {
				return l1 < l2
			}
			if nr1, nr2 := str1[nz1:idx1], str2[nz2:idx2]; nr1 != nr2 {
				return nr1 < nr2
			}
			if nz1 != nz2 {
				return nz1 < nz2
			}
		}
	}
	return len(str1) < len(str2)
}

func isDigit(b byte) bool { return '0' <= b && b <= '9' }
