package network

import (
	"os"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/network/netns/netnstest"
	"github.com/berth-dev/berth/test/internal/e2e"
)

// TestIPForward: a daemon turns IPv4 forwarding on so that containers
// reach the outside, unless --ip-forward=false leaves the host's setting
// alone (dockerd's flag): then the host's forwarding stays off and the
// containers' traffic stops at the host. Each daemon runs on a host of
// its own (a network namespace), whose forwarding starts off.
func TestIPForward(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.BerthOnly(t)
	for _, tc := range []struct {
		name    string
		args    []string
		forward string // the host's ip_forward once a container runs
	}{
		{"default", nil, "1"},
		{"ip-forward=false", []string{"--ip-forward=false"}, "0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newFirewalledHost(t)
			d := e2e.StartBerthDaemon(t, e2e.DaemonOptions{Args: tc.args, NetNS: h.ns})
			c := e.Docker().WithEnv("DOCKER_HOST=unix://" + d.Socket)
			importBusybox(t, c)
			c.Run(t, "run", "-d", "--name", "fwd", "busybox", "sleep", "1d").OK(t)
			t.Cleanup(func() { c.Run(t, "rm", "-f", "fwd") })

			var got []byte
			netnstest.Do(t, h.ns, func() (err error) {
				got, err = os.ReadFile("/proc/sys/net/ipv4/ip_forward")
				return err
			})
			if v := strings.TrimSpace(string(got)); v != tc.forward {
				t.Errorf("the host's ip_forward is %s, want %s", v, tc.forward)
			}
			reply := ask(t, c, "fwd", h.outAddr+":8080")
			if tc.forward == "1" && reply != "other "+h.addr {
				t.Errorf("the container does not reach the outside: %q", reply)
			}
			if tc.forward == "0" && reply != "" {
				t.Errorf("the container reached the outside with forwarding off: %q", reply)
			}
		})
	}
}
