package network

import (
	"slices"
	"strings"
	"testing"

	"github.com/berth-dev/berth/test/internal/e2e"
)

// TestConnectRunning: connect with --ip and --alias adds an interface to
// a running container, with the address asked for; disconnect takes it
// away; a container disconnected from everything keeps only lo and can
// be connected again.
func TestConnectRunning(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		n := netName(t, e)
		sub := freeSubnet(t)
		c.Run(t, "network", "create", "--subnet", sub.String(), n).OK(t)
		ctr, peer := e.Name(t), e.Name(t, "peer")
		c.Run(t, "run", "-d", "--name", peer, "--network", n, "busybox", "sleep", "1d").OK(t)
		c.Run(t, "run", "-d", "--name", ctr, "busybox", "sleep", "1d").OK(t)
		bridgeAddr := addrOn(t, e, ctr, "bridge")

		c.Run(t, "network", "connect", "--ip", host(sub, 77), "--alias", "seventy-seven", n, ctr).OK(t)
		r := c.Run(t, "exec", ctr, "ip", "-o", "-4", "addr").OK(t)
		if !strings.Contains(r.Stdout, host(sub, 77)+"/24") || !strings.Contains(r.Stdout, bridgeAddr+"/") {
			t.Fatalf("addresses after connect:\n%s", r.Stdout)
		}
		es := e.Inspect(t, ctr).NetworkSettings.Networks[n]
		if es == nil || es.IPAddress.String() != host(sub, 77) || es.IPAMConfig == nil || es.IPAMConfig.IPv4Address.String() != host(sub, 77) ||
			!slices.Contains(es.Aliases, "seventy-seven") {
			t.Fatalf("inspect after connect: %+v", es)
		}
		if got := resolve(t, c, peer, "seventy-seven"); !slices.Equal(got, []string{host(sub, 77)}) {
			t.Fatalf("alias resolves to %v", got)
		}
		// Started on the default bridge, it now has the embedded DNS too.
		c.Run(t, "exec", ctr, "cat", "/etc/resolv.conf").Assert(t, 0, "nameserver 127.0.0.11")
		if got := resolve(t, c, ctr, peer); !slices.Equal(got, []string{addrOn(t, e, peer, n)}) {
			t.Fatalf("from the connected container, %s resolves to %v", peer, got)
		}
		c.Run(t, "exec", peer, "ping", "-c1", "-W5", host(sub, 77)).Assert(t, 0, "1 packets received")
		// Twice: Docker's error, nothing changes.
		c.Run(t, "network", "connect", n, ctr).Assert(t, 1, "endpoint with name "+ctr+" already exists in network "+n)

		// Disconnect both: lo only; then back on the default bridge.
		c.Run(t, "network", "disconnect", n, ctr).OK(t)
		c.Run(t, "network", "disconnect", n, ctr).Assert(t, 1, "is not connected to")
		c.Run(t, "network", "disconnect", "bridge", ctr).OK(t)
		r = c.Run(t, "exec", ctr, "ip", "-o", "link").OK(t)
		if got := e2e.IfaceNames(r.Stdout); !slices.Equal(got, []string{"lo"}) {
			t.Fatalf("after disconnecting everything: %v", got)
		}
		c.Run(t, "network", "connect", "bridge", ctr).OK(t)
		addr := addrOn(t, e, ctr, "bridge")
		c.Run(t, "exec", ctr, "ip", "-o", "-4", "addr").Assert(t, 0, addr+"/")
		c.Run(t, "exec", ctr, "ip", "route").Assert(t, 0, "default via ")
	})
}

// TestConnectStopped: a stopped container's networks are recorded and
// joined at start; the network it uses for its default route is the one
// Docker picks (names in order).
func TestConnectStopped(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		n := netName(t, e)
		sub := freeSubnet(t)
		c.Run(t, "network", "create", "--subnet", sub.String(), n).OK(t)
		ctr := e.Name(t)
		c.Run(t, "create", "--name", ctr, "busybox", "sleep", "1d").OK(t)
		c.Run(t, "network", "connect", "--alias", "later", n, ctr).OK(t)
		c.Run(t, "start", ctr).OK(t)
		ns := e.Inspect(t, ctr).NetworkSettings
		if ns.Networks["bridge"] == nil || ns.Networks[n] == nil || !sub.Contains(ns.Networks[n].IPAddress) {
			t.Fatalf("networks after start: %+v", ns.Networks)
		}
		r := c.Run(t, "exec", ctr, "ip", "-o", "-4", "addr").OK(t)
		if !strings.Contains(r.Stdout, ns.Networks[n].IPAddress.String()+"/24") || !strings.Contains(r.Stdout, ns.Networks["bridge"].IPAddress.String()+"/") {
			t.Fatalf("addresses:\n%s", r.Stdout)
		}
		// "bridge" sorts before n ("n-..."): the default bridge routes.
		c.Run(t, "exec", ctr, "ip", "route").Assert(t, 0, "default via "+ns.Networks["bridge"].Gateway.String()+" ")
		c.Run(t, "exec", ctr, "nslookup", "later").Assert(t, 0, ns.Networks[n].IPAddress.String())
		// Stopped, disconnected, started again: the default bridge only.
		c.Run(t, "stop", "-t", "0", ctr).OK(t)
		c.Run(t, "network", "disconnect", n, ctr).OK(t)
		c.Run(t, "start", ctr).OK(t)
		if nets := e.Inspect(t, ctr).NetworkSettings.Networks; len(nets) != 1 || nets["bridge"] == nil {
			t.Fatalf("networks: %v", nets)
		}
	})
}

// TestRunStaticAddressAndMAC: run --ip and --mac-address on a
// user-defined network; several --network flags.
func TestRunStaticAddressAndMAC(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		a, b := netName(t, e, "a"), netName(t, e, "b")
		suba, subb := freeSubnet(t), freeSubnet(t)
		c.Run(t, "network", "create", "--subnet", suba.String(), a).OK(t)
		c.Run(t, "network", "create", "--subnet", subb.String(), b).OK(t)
		ctr := e.Name(t)
		// The CLI sends a MAC per network from API 1.44 on; Docker 20.10
		// speaks 1.41.
		withMAC := !e.DockerOlderThan(t, 24)
		args := []string{"run", "-d", "--name", ctr, "--network", a, "--ip", host(suba, 50)}
		if withMAC {
			args = append(args, "--mac-address", "02:42:de:ad:be:ef")
		}
		c.Run(t, append(args, "busybox", "sleep", "1d")...).OK(t)
		c.Run(t, "exec", ctr, "ip", "-o", "-4", "addr", "show", "eth0").Assert(t, 0, host(suba, 50)+"/24")
		es := e.Inspect(t, ctr).NetworkSettings.Networks[a]
		if es.IPAddress.String() != host(suba, 50) {
			t.Fatalf("inspect: %+v", es)
		}
		if withMAC {
			c.Run(t, "exec", ctr, "ip", "-o", "link", "show", "eth0").Assert(t, 0, "02:42:de:ad:be:ef")
			if es.MacAddress.String() != "02:42:de:ad:be:ef" {
				t.Fatalf("inspect MAC: %+v", es)
			}
		}
		// The same address again: Docker's error at start.
		c.Run(t, "run", "--rm", "--network", a, "--ip", host(suba, 50), "busybox", "true").Assert(t, 125, "Address already in use")
		c.Run(t, "run", "--rm", "--network", a, "--ip", host(subb, 5), "busybox", "true").
			Assert(t, 125, "Invalid address "+host(subb, 5)+": It does not belong to any of this network's subnets")
		c.Run(t, "run", "--rm", "--ip", "172.17.9.9", "busybox", "true").Assert(t, 125, "user specified IP address is supported on user defined networks only")

		// Two --network flags: both networks (API 1.44+; Docker 20.10
		// speaks 1.41 and takes one).
		if e.DockerOlderThan(t, 24) {
			return
		}
		two := e.Name(t, "two")
		c.Run(t, "run", "-d", "--name", two, "--network", a, "--network", b, "busybox", "sleep", "1d").OK(t)
		r := c.Run(t, "exec", two, "ip", "-o", "-4", "addr").OK(t)
		if !strings.Contains(r.Stdout, addrOn(t, e, two, a)+"/") || !strings.Contains(r.Stdout, addrOn(t, e, two, b)+"/") {
			t.Fatalf("two networks:\n%s", r.Stdout)
		}
	})
}
