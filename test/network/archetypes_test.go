package network

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/network"

	"github.com/berth-dev/berth/test/internal/e2e"
)

// TestWhatAUserDoes walks the list, in order: the closed (none),
// bridged (a user-defined network with embedded DNS, and the default
// bridge without it), joined (container:) and open (host) archetypes,
// connect and disconnect with an alias, inspect, rm and prune.
func TestWhatAUserDoes(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	hostAddr := e2e.HostAddr(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		// Closed: only lo.
		r := c.Run(t, "run", "--rm", "--network", "none", "busybox", "ip", "-o", "link").OK(t)
		if got := e2e.IfaceNames(r.Stdout); len(got) != 1 || got[0] != "lo" {
			t.Fatalf("--network none: interfaces %q", got)
		}

		appnet := netName(t, e, "appnet")
		sub := freeSubnet(t)
		gw := host(sub, 1)
		c.Run(t, "network", "create", "-d", "bridge", "--subnet", sub.String(), "--gateway", gw, appnet).OK(t)
		db, web, other := e.Name(t, "db"), e.Name(t, "web"), e.Name(t, "other")
		c.Run(t, "run", "-d", "--name", db, "--network", appnet, "--network-alias", "database", "busybox", "sleep", "1d").OK(t)
		dbAddr := addrOn(t, e, db, appnet)
		if !sub.Contains(netip.MustParseAddr(dbAddr)) {
			t.Fatalf("db's address %s is not in %s", dbAddr, sub)
		}

		// Resolved by the embedded DNS server, by alias and by name.
		c.Run(t, "run", "--rm", "--network", appnet, "busybox", "ping", "-c1", "-W5", "database").Assert(t, 0, "1 packets received", dbAddr)
		c.Run(t, "run", "--rm", "--network", appnet, "busybox", "ping", "-c1", "-W5", db).Assert(t, 0, dbAddr)
		// The default bridge has no DNS: the name does not resolve.
		r = c.Run(t, "run", "--rm", "busybox", "ping", "-c1", "-W1", db)
		if r.Code == 0 || !strings.Contains(r.Combined(), "bad address") {
			t.Fatalf("ping db from the default bridge:\n%s", r)
		}

		// Joined: web shares db's namespace, and serves on db's address.
		// (The test image's static busybox wget cannot resolve names, its
		// libc's resolver crashes, and its -T crashes too: addresses and
		// the timeout applet.)
		c.Run(t, "run", "-d", "--name", web, "--network", "container:"+db, "busybox", "httpd", "-f", "-p", "80", "-h", "/var/www").OK(t)
		c.Run(t, "exec", web, "ip", "-o", "-4", "addr").Assert(t, 0, dbAddr+"/")
		r = c.Run(t, "run", "--rm", "--network", appnet, "busybox", "sh", "-c",
			"for i in 1 2 3 4 5 6 7 8 9 10; do timeout 2 wget -q -O - http://"+dbAddr+"/ && exit 0; sleep 0.5; done; exit 1")
		r.Assert(t, 0, strings.TrimSpace(e2e.IndexHTML))

		// Open: the host's interfaces.
		c.Run(t, "run", "--rm", "--network", "host", "busybox", "ip", "-o", "-4", "addr").Assert(t, 0, hostAddr+"/")

		// connect with an alias, then disconnect.
		c.Run(t, "run", "-d", "--name", other, "busybox", "sleep", "1d").OK(t)
		c.Run(t, "network", "connect", "--alias", "cache", appnet, other).OK(t)
		otherAddr := addrOn(t, e, other, appnet)
		if got := resolve(t, c, db, "cache"); len(got) != 1 || got[0] != otherAddr {
			t.Fatalf("cache resolves to %v, want %s", got, otherAddr)
		}
		c.Run(t, "exec", other, "ip", "-o", "-4", "addr").Assert(t, 0, otherAddr+"/")
		r = c.Run(t, "network", "inspect", appnet, "--format", "{{json .Containers}}").OK(t)
		var ctrs map[string]network.EndpointResource
		if err := json.Unmarshal([]byte(r.Out()), &ctrs); err != nil {
			t.Fatalf("inspect .Containers: %v\n%s", err, r.Stdout)
		}
		names := map[string]string{}
		for _, ep := range ctrs {
			names[ep.Name] = ep.IPv4Address.String()
		}
		if len(ctrs) != 2 || names[db] != dbAddr+"/24" || names[other] != otherAddr+"/24" {
			t.Fatalf("inspect .Containers: %s", r.Stdout)
		}
		c.Run(t, "network", "disconnect", appnet, other).OK(t)
		if got := resolve(t, c, db, "cache"); len(got) != 0 {
			t.Fatalf("cache still resolves after disconnect: %v", got)
		}
		if r := c.Run(t, "exec", other, "ip", "-o", "-4", "addr").OK(t); strings.Contains(r.Stdout, otherAddr+"/") {
			t.Fatalf("the address stays after disconnect:\n%s", r.Stdout)
		}
		if _, ok := e.Inspect(t, other).NetworkSettings.Networks[appnet]; ok {
			t.Fatal("inspect still lists the network after disconnect")
		}

		// rm refuses while containers are attached, then works; prune.
		c.Run(t, "network", "rm", appnet).Assert(t, 1, "has active endpoints")
		c.Run(t, "rm", "-f", web, db).OK(t)
		c.Run(t, "network", "rm", appnet).Assert(t, 0, appnet)
		c.Run(t, "network", "inspect", appnet).Assert(t, 1, "network "+appnet+" not found")
		spare := netName(t, e, "spare")
		c.Run(t, "network", "create", "--label", "prune-test="+spare, spare).OK(t)
		c.Run(t, "network", "prune", "-f", "--filter", "label=prune-test="+spare).Assert(t, 0, "Deleted Networks:", spare)
		c.Run(t, "network", "ls", "--filter", "name="+spare, "-q").OK(t)
		if out := c.Run(t, "network", "ls", "--filter", "name="+spare, "-q").Out(); out != "" {
			t.Fatalf("pruned network still listed: %q", out)
		}
	})
}

// TestContainerNetworkMode: joined namespaces share interfaces, hostname
// and files; bad targets are refused with Docker's errors.
func TestContainerNetworkMode(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		owner, stopped := e.Name(t, "owner"), e.Name(t, "stopped")
		c.Run(t, "run", "-d", "--name", owner, "--hostname", "shared", "busybox", "sleep", "1d").OK(t)
		addr := addrOn(t, e, owner, "bridge")
		r := c.Run(t, "run", "--rm", "--network", "container:"+owner, "busybox", "sh", "-c", "hostname; ip -o -4 addr; cat /etc/hosts").OK(t)
		for _, want := range []string{"shared", addr + "/", addr + "\tshared"} {
			if !strings.Contains(r.Stdout, want) {
				t.Errorf("joined container: no %q in\n%s", want, r.Stdout)
			}
		}
		// Not running, or not there: Docker's errors, with 20.10's and
		// 28's wordings.
		c.Run(t, "create", "--name", stopped, "busybox", "true").OK(t)
		c.Run(t, "run", "--rm", "--network", "container:"+stopped, "busybox", "true").Assert(t, 125, "non running container")
		c.Run(t, "run", "--rm", "--network", "container:nosuch-"+owner, "busybox", "true").Assert(t, 125, "No such container: nosuch-"+owner)
		// And nothing else goes with it.
		c.Run(t, "run", "--rm", "--network", "container:"+owner, "-p", "80:80", "busybox", "true").
			Assert(t, 125, "conflicting options: port publishing and the container type network mode")
		c.Run(t, "run", "--rm", "--network", "container:"+owner, "--hostname", "x", "busybox", "true").
			Assert(t, 125, "conflicting options: hostname and the network mode")
		c.Run(t, "network", "connect", "bridge", e.Name(t, "x")).Assert(t, 1, "No such container")
		joined := e.Name(t, "joined")
		c.Run(t, "run", "-d", "--name", joined, "--network", "container:"+owner, "busybox", "sleep", "1d").OK(t)
		c.Run(t, "network", "connect", "bridge", joined).Assert(t, 1,
			"container sharing network namespace with another container or host cannot be connected to any other network")
	})
}

// TestHostNetworkRefusesNetworks: host-mode containers take no other
// network, and no network takes host.
func TestHostNetworkRefusesNetworks(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	c := e.Docker()
	hostCtr := e.Name(t)
	c.Run(t, "run", "-d", "--name", hostCtr, "--network", "host", "busybox", "sleep", "1d").OK(t)
	c.Run(t, "network", "connect", "bridge", hostCtr).Assert(t, 1,
		"container sharing network namespace with another container or host cannot be connected to any other network")
	plain := e.Name(t, "plain")
	c.Run(t, "run", "-d", "--name", plain, "busybox", "sleep", "1d").OK(t)
	c.Run(t, "network", "connect", "host", plain).Assert(t, 1,
		"container cannot be disconnected from host network or connected to host network")
	c.Run(t, "network", "connect", "none", plain).Assert(t, 1,
		"container cannot be connected to multiple networks with one of the networks in private (none) mode")
}
