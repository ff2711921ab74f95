package network

import (
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/berth-dev/berth/internal/network/nat"
	"github.com/berth-dev/berth/test/internal/e2e"
)

// TestNoDefaultBridge: "bridge": "none" in daemon.json (dockerd's
// --bridge none) means no default bridge at all. network ls shows host
// and none; a container whose network mode is the default, or "bridge",
// runs with lo only and no address; -p is accepted and publishes nothing;
// the "bridge" network cannot be inspected or created; user-defined
// networks work, embedded DNS included. dockerd 20.10's answers.
func TestNoDefaultBridge(t *testing.T) {
	t.Parallel()
	_, noneLinkBefore := netlink.LinkByName("none")
	e := e2e.StartPrivate(t, e2e.PrivateOptions{DaemonJSON: `{"bridge": "none"}`})
	checkNoDefaultBridge(t, e, e.Docker())
	if e.Kind == e2e.KindBerth {
		// Nothing in the kernel for a bridge called "none".
		if _, err := netlink.LinkByName("none"); noneLinkBefore != nil && err == nil {
			t.Error(`a link named "none" was created`)
		}
		tables, _ := nat.Tables()
		for _, tab := range tables {
			if strings.HasPrefix(tab.Owner.Root, e.DataRoot+"/") && tab.Bridge == "none" {
				t.Errorf("table %s made for no bridge", nat.TableName(tab.Bridge))
			}
		}
	}
}

// TestNoDefaultBridgeFlag: --bridge none on the command line, the same.
func TestNoDefaultBridgeFlag(t *testing.T) {
	t.Parallel()
	_, c := startDaemon(t, "{}", "--bridge", "none")
	checkNoDefaultBridge(t, nil, c)
	c.Run(t, "info", "--format", "{{.ID}}").OK(t)
}

// checkNoDefaultBridge asserts what a daemon without a default bridge
// shows through the CLI c (e, when given, is the engine behind it).
func checkNoDefaultBridge(t *testing.T, e *e2e.Engine, c e2e.CLI) {
	t.Helper()
	if got := c.Run(t, "network", "ls", "--format", "{{.Name}}").OK(t).Lines(); !slices.Equal(got, []string{"host", "none"}) {
		t.Fatalf("network ls: %q, want host and none", got)
	}
	c.Run(t, "network", "inspect", "bridge").Assert(t, 1, "network bridge not found")
	c.Run(t, "network", "create", "bridge").Assert(t, 1, "operation is not permitted on predefined bridge network")
	for _, mode := range [][]string{nil, {"--network", "bridge"}, {"--network", "default"}} {
		args := append(append([]string{"run", "--rm"}, mode...), "busybox", "ip", "-o", "link")
		r := c.Run(t, args...).OK(t)
		if got := e2e.IfaceNames(r.Stdout); !slices.Equal(got, []string{"lo"}) {
			t.Errorf("run %v: interfaces %q, want lo only", mode, got)
		}
	}
	// -p is accepted and publishes nothing: the host port stays free.
	port := e2e.FreePort(t)
	c.Run(t, "run", "-d", "--name", "pub", "-p", fmt.Sprintf("%d:80", port), "busybox", "httpd", "-f", "-p", "80", "-h", "/var/www").OK(t)
	t.Cleanup(func() { c.Run(t, "rm", "-f", "pub") })
	if out := c.Run(t, "port", "pub").OK(t).Out(); out != "" {
		t.Errorf("docker port: %q", out)
	}
	if l, err := net.Listen("tcp", fmt.Sprintf(":%d", port)); err != nil {
		t.Errorf("host port %d taken: %v", port, err)
	} else {
		l.Close()
	}
	c.Run(t, "inspect", "--format", `{{range $k, $v := .NetworkSettings.Networks}}{{$k}}={{$v.IPAddress}};{{end}}`, "pub").Assert(t, 0, "bridge=;")
	// A legacy link to it runs: the name variable, no address.
	r := c.Run(t, "run", "--rm", "--link", "pub:web", "busybox", "sh", "-c", "env; cat /etc/hosts").OK(t)
	if !strings.Contains(r.Stdout, "WEB_NAME=/") || strings.Contains(r.Stdout, "invalid IP") {
		t.Errorf("link without a default bridge:\n%s", r.Stdout)
	}

	// A user-defined network works, with its DNS.
	n := "nobr-" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-"))
	sub := freeSubnet(t)
	c.Run(t, "network", "create", "--subnet", sub.String(), n).OK(t)
	t.Cleanup(func() { c.Run(t, "network", "rm", n) })
	c.Run(t, "run", "-d", "--name", "udb", "--network", n, "busybox", "sleep", "1d").OK(t)
	t.Cleanup(func() { c.Run(t, "rm", "-f", "udb") })
	c.Run(t, "run", "--rm", "--network", n, "busybox", "ping", "-c1", "-W5", "udb").Assert(t, 0, "1 packets received", host(sub, 2))
	if e != nil {
		if got := addrOn(t, e, "udb", n); got != host(sub, 2) {
			t.Errorf("address on %s: %s", n, got)
		}
	}
}
