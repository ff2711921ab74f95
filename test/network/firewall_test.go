package network

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/berth-dev/berth/internal/network/netns"
	"github.com/berth-dev/berth/internal/network/netns/netnstest"
	"github.com/berth-dev/berth/test/internal/e2e"
)

// firewalledHost is a network namespace that plays a host of its own, so
// that a test may run daemons there that change its firewall (a dockerd
// with its iptables on sets the FORWARD policy to DROP) without touching
// the real host's, which other engines here use. A second namespace,
// outside, sits on a link to it and answers TCP on port 8080 with
// "other <client address>".
type firewalledHost struct {
	ns, outside   string
	addr, outAddr string // the host's and outside's addresses on the link
}

func newFirewalledHost(t *testing.T) *firewalledHost {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "netns")
	if err := netns.PrepareDir(dir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { netns.ReleaseDir(dir) })
	sub := freeSubnet(t)
	h := &firewalledHost{ns: filepath.Join(dir, "host"), outside: filepath.Join(dir, "outside"), addr: host(sub, 1), outAddr: host(sub, 2)}
	for _, p := range []string{h.ns, h.outside} {
		if err := netns.Create(p, nil); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { netns.Delete(p) })
	}
	var suffix [3]byte
	rand.Read(suffix[:])
	name := fmt.Sprintf("e2efw%x", suffix)
	if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name}, PeerName: name + "p"}); err != nil {
		t.Fatal(err)
	}
	for _, end := range []struct{ link, ns, addr string }{{name, h.ns, h.addr}, {name + "p", h.outside, h.outAddr}} {
		l, err := netlink.LinkByName(end.link)
		if err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(end.ns)
		if err != nil {
			t.Fatal(err)
		}
		err = netlink.LinkSetNsFd(l, int(f.Fd()))
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		netnstest.Do(t, end.ns, func() error {
			for _, n := range []string{"lo", end.link} {
				l, err := netlink.LinkByName(n)
				if err != nil {
					return err
				}
				if err := netlink.LinkSetUp(l); err != nil {
					return err
				}
			}
			l, _ := netlink.LinkByName(end.link)
			a, _ := netlink.ParseAddr(end.addr + "/24")
			return netlink.AddrAdd(l, a)
		})
	}
	// Forwarding off, as on a fresh host (a new namespace inherits the
	// real host's setting).
	netnstest.Do(t, h.ns, func() error { return os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("0\n"), 0o644) })
	netnstest.Serve(t, h.outside, "tcp", ":8080", "other ")
	return h
}

// iptables runs the iptables command in the host's namespace.
func (h *firewalledHost) iptables(t *testing.T, args ...string) string {
	t.Helper()
	var out []byte
	netnstest.Do(t, h.ns, func() error {
		var err error
		out, err = exec.Command("iptables", args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("iptables %v: %v: %s", args, err, out)
		}
		return nil
	})
	return string(out)
}

// eventually retries check until it returns "" (the daemons react to one
// another's changes in the background) and fails with its last answer.
func eventually(t *testing.T, what string, check func() string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		msg := check()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s", what, msg)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func importBusybox(t *testing.T, c e2e.CLI) {
	t.Helper()
	tar, err := e2e.BusyboxTar()
	if err != nil {
		t.Fatal(err)
	}
	c.RunWith(t, e2e.RunOpts{Stdin: bytes.NewReader(tar)}, "import", "-", "busybox").OK(t)
}

// TestBesideDockerdFirewall: berth runs on a host where a reference
// dockerd with its iptables on starts after it. dockerd turns forwarding
// on and sets the FORWARD policy to DROP, and makes DOCKER-USER; berth
// puts its accept rules there (its watcher sees the chain appear), so its
// containers still reach the outside and their published ports are still
// reached from it, and Docker's containers work as before. A firewall
// reload that flushes DOCKER-USER gets the rules back; berth takes them
// out when its networks have no container left, and after a crash at its
// next start. The reference dockerd is needed; the test skips without it.
func TestBesideDockerdFirewall(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.BerthOnly(t)
	if _, err := exec.LookPath("iptables"); err != nil {
		t.Skip("no iptables command for the reference dockerd")
	}
	if _, err := os.Stat("/usr/sbin/dockerd"); err != nil && os.Getenv("E2E_DOCKERD") == "" {
		t.Skip("no reference dockerd")
	}
	h := newFirewalledHost(t)
	outside := h.outAddr + ":8080"

	// berth first, leaving forwarding off as a host's default is.
	b := e2e.StartBerthDaemon(t, e2e.DaemonOptions{Args: []string{"--ip-forward=false"}, NetNS: h.ns})
	bc := e.Docker().WithEnv("DOCKER_HOST=unix://" + b.Socket)
	importBusybox(t, bc)
	t.Cleanup(func() {
		if b.Running() {
			for _, id := range bc.Run(t, "ps", "-aq").Lines() {
				bc.Run(t, "rm", "-f", id)
			}
			bc.Run(t, "network", "prune", "-f")
		}
	})
	bport := e2e.FreePort(t)
	bc.Run(t, "network", "create", "--subnet", freeSubnet(t).String(), "bnet").OK(t)
	bc.Run(t, "run", "-d", "--name", "bweb", "-p", fmt.Sprintf("%d:80", bport), "busybox", "sh", "-c",
		"echo hi-berth > /tmp/i; nc -ll -p 80 -e cat /tmp/i").OK(t)
	bc.Run(t, "run", "-d", "--name", "bcli", "--network", "bnet", "busybox", "sleep", "1d").OK(t)

	// Then dockerd, with its iptables on.
	d := e2e.StartDockerd(t, e2e.DaemonOptions{Args: []string{"--iptables=true", "--ip-masq=true"}, NetNS: h.ns})
	dc := e.Docker().WithEnv("DOCKER_HOST=unix://" + d.Socket)
	importBusybox(t, dc)
	t.Cleanup(func() {
		for _, id := range dc.Run(t, "ps", "-aq").Lines() {
			dc.Run(t, "rm", "-f", id)
		}
	})
	dport := e2e.FreePort(t)
	dc.Run(t, "run", "-d", "--name", "dweb", "-p", fmt.Sprintf("%d:80", dport), "busybox", "sh", "-c",
		"echo hi-docker > /tmp/i; nc -ll -p 80 -e cat /tmp/i").OK(t)
	dc.Run(t, "run", "-d", "--name", "dcli", "busybox", "sleep", "1d").OK(t)
	if out := h.iptables(t, "-S", "FORWARD"); !strings.Contains(out, "-P FORWARD DROP") || !strings.Contains(out, "-j DOCKER-USER") {
		t.Fatalf("dockerd's FORWARD chain is not what this test is about:\n%s", out)
	}

	reachable := func() string {
		var bad []string
		for _, ctr := range []struct {
			c    e2e.CLI
			name string
		}{{bc, "bweb"}, {bc, "bcli"}, {dc, "dcli"}} {
			if got := ask(t, ctr.c, ctr.name, outside); got != "other "+h.addr {
				bad = append(bad, fmt.Sprintf("%s to the outside: %q", ctr.name, got))
			}
		}
		for _, p := range []struct {
			port int
			want string
		}{{bport, "hi-berth"}, {dport, "hi-docker"}} {
			got, err := netnstest.Ask(h.outside, "tcp", fmt.Sprintf("%s:%d", h.addr, p.port), 3*time.Second)
			if strings.TrimSpace(got) != p.want {
				bad = append(bad, fmt.Sprintf("the outside to port %d: %q %v", p.port, got, err))
			}
		}
		return strings.Join(bad, "; ")
	}
	eventually(t, "with dockerd's firewall", reachable)
	out := h.iptables(t, "-S", "DOCKER-USER")
	if !strings.Contains(out, `-m comment --comment "berth `) {
		t.Fatalf("berth's rules are not in DOCKER-USER:\n%s", out)
	}

	// A firewall reload flushes DOCKER-USER: the rules come back.
	h.iptables(t, "-F", "DOCKER-USER")
	h.iptables(t, "-A", "DOCKER-USER", "-j", "RETURN")
	eventually(t, "after DOCKER-USER was flushed", reachable)

	noRules := func() string {
		for _, chain := range []string{"DOCKER-USER", "FORWARD"} {
			if out := h.iptables(t, "-S", chain); strings.Contains(out, "berth") {
				return "berth's rules are still in " + chain + ":\n" + out
			}
		}
		return ""
	}
	// Unused: no container on berth's networks, no rules.
	bc.Run(t, "rm", "-f", "bweb", "bcli").OK(t)
	eventually(t, "with no container left", noRules)

	// A crash: the daemon is killed while a container runs, the container
	// dies while the daemon is down, and the next start takes the rules out.
	bc.Run(t, "run", "-d", "--name", "again", "--network", "bnet", "busybox", "sleep", "1d").OK(t)
	eventually(t, "a container again", func() string {
		if got := ask(t, bc, "again", outside); got != "other "+h.addr {
			return fmt.Sprintf("again to the outside: %q", got)
		}
		return ""
	})
	pid := bc.Run(t, "inspect", "--format", "{{.State.Pid}}", "again").OK(t).Out()
	if err := b.Kill(); err != nil {
		t.Fatal(err)
	}
	var p int
	fmt.Sscan(pid, &p)
	if p <= 0 || syscall.Kill(p, syscall.SIGKILL) != nil {
		t.Fatalf("cannot kill the container's process %q", pid)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, "after a crash and a restart", noRules)
	// Docker's containers never noticed.
	if got := ask(t, dc, "dcli", outside); got != "other "+h.addr {
		t.Fatalf("dcli to the outside at the end: %q", got)
	}
}
