package network

import (
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/network/netns/netnstest"
	"github.com/berth-dev/berth/test/internal/e2e"
)

// serveOnOtherHost runs a TCP server on the other host that answers
// "other <client address>": what the outside world sees of a container.
func serveOnOtherHost(t *testing.T, h *otherHost) string {
	t.Helper()
	netnstest.Serve(t, h.ns, "tcp", ":8080", "other ")
	return strings.TrimSuffix(h.hostAddr, ".1") + ".2:8080"
}

// ask is a container's view of a TCP server: its first line, or "" when
// it cannot connect.
func ask(t *testing.T, c e2e.CLI, ctr, addr string) string {
	t.Helper()
	host, port, _ := strings.Cut(addr, ":")
	r := c.Run(t, "exec", ctr, "timeout", "3", "nc", host, port)
	if r.Code != 0 {
		return ""
	}
	return r.Out()
}

// TestNetworkPolicy: different networks are isolated from each other; a
// container on both reaches both; --internal cuts a network off the
// outside; enable_icc=false cuts its containers off each other;
// masquerade hides containers behind the host unless turned off.
func TestNetworkPolicy(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	needsFirewall(t, e)
	h := newOtherHost(t)
	outside := serveOnOtherHost(t, h)
	c := e.Docker()
	a, b, internal, noicc, nomasq := netName(t, e, "a"), netName(t, e, "b"), netName(t, e, "int"), netName(t, e, "noicc"), netName(t, e, "nomasq")
	c.Run(t, "network", "create", a).OK(t)
	c.Run(t, "network", "create", b).OK(t)
	c.Run(t, "network", "create", "--internal", internal).OK(t)
	c.Run(t, "network", "create", "-o", "com.docker.network.bridge.enable_icc=false", noicc).OK(t)
	c.Run(t, "network", "create", "-o", "com.docker.network.bridge.enable_ip_masquerade=false", nomasq).OK(t)
	serve := func(name, network string) string {
		c.Run(t, "run", "-d", "--name", name, "--network", network, "busybox", "sh", "-c",
			"echo hi-from-"+network+" > /tmp/i; nc -ll -p 7000 -e cat /tmp/i").OK(t)
		return addrOn(t, e, name, network) + ":7000"
	}
	srvA, srvB := serve(e.Name(t, "srva"), a), serve(e.Name(t, "srvb"), b)
	srvInt, srvNoICC := serve(e.Name(t, "srvint"), internal), serve(e.Name(t, "srvnoicc"), noicc)
	client := func(name string, networks ...string) string {
		c.Run(t, "run", "-d", "--name", name, "--network", networks[0], "busybox", "sleep", "1d").OK(t)
		for _, n := range networks[1:] {
			c.Run(t, "network", "connect", n, name).OK(t)
		}
		return name
	}
	onA, onBoth := client(e.Name(t, "ona"), a), client(e.Name(t, "onboth"), a, b)
	onInt, onNoICC, onNoMasq := client(e.Name(t, "onint"), internal), client(e.Name(t, "onnoicc"), noicc), client(e.Name(t, "onnomasq"), nomasq)

	if got := ask(t, c, onA, srvA); got != "hi-from-"+a {
		t.Errorf("same network: %q", got)
	}
	if got := ask(t, c, onA, srvB); got != "" {
		t.Errorf("another network answered: %q", got)
	}
	if got := ask(t, c, onBoth, srvB); got != "hi-from-"+b {
		t.Errorf("a container on both networks: %q", got)
	}
	// The outside sees the host, not the container.
	if got := ask(t, c, onA, outside); got != "other "+h.hostAddr {
		t.Errorf("outside from a masqueraded network: %q, want other %s", got, h.hostAddr)
	}
	if ip := addrOn(t, e, onNoMasq, nomasq); ask(t, c, onNoMasq, outside) != "other "+ip {
		t.Errorf("outside from a network without masquerade does not see %s", ip)
	}
	// Internal: neighbours yes, outside no.
	if got := ask(t, c, onInt, srvInt); got != "hi-from-"+internal {
		t.Errorf("internal neighbours: %q", got)
	}
	if got := ask(t, c, onInt, outside); got != "" {
		t.Errorf("an internal network reached the outside: %q", got)
	}
	// icc off: not each other, the outside still.
	if got := ask(t, c, onNoICC, srvNoICC); got != "" {
		t.Errorf("containers of an icc=false network talk: %q", got)
	}
	if got := ask(t, c, onNoICC, outside); got == "" {
		t.Error("an icc=false network lost the outside")
	}
}
