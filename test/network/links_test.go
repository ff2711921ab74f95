package network

import (
	"strings"
	"testing"

	"github.com/berth-dev/berth/test/internal/e2e"
)

// TestLegacyLinks: --link name:alias on the default bridge gives the
// linked container's ports, name and environment as variables and an
// /etc/hosts entry, as Docker in Action describes them; it needs a
// running container on the default bridge. On a user-defined network a
// link is an alias the embedded DNS server answers for the linking
// container only.
func TestLegacyLinks(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		db := e.Name(t, "db")
		c.Run(t, "run", "-d", "--name", db, "-e", "FOO=bar", "--expose", "5432", "--expose", "8080/udp", "busybox", "sleep", "1d").OK(t)
		ip := addrOn(t, e, db, "bridge")
		hostname := e.Inspect(t, db).Config.Hostname
		client := e.Name(t, "client")
		r := c.Run(t, "run", "--name", client, "--link", db+":dbalias", "busybox", "sh", "-c", "env; cat /etc/hosts").OK(t)
		for _, want := range []string{
			"DBALIAS_PORT=tcp://" + ip + ":5432\n",
			"DBALIAS_PORT_5432_TCP=tcp://" + ip + ":5432\n",
			"DBALIAS_PORT_5432_TCP_ADDR=" + ip + "\n",
			"DBALIAS_PORT_5432_TCP_PORT=5432\n",
			"DBALIAS_PORT_5432_TCP_PROTO=tcp\n",
			"DBALIAS_PORT_8080_UDP=udp://" + ip + ":8080\n",
			"DBALIAS_PORT_8080_UDP_PROTO=udp\n",
			"DBALIAS_NAME=/" + client + "/dbalias\n",
			"DBALIAS_ENV_FOO=bar\n",
			ip + "\tdbalias " + hostname + " " + db + "\n",
		} {
			if !strings.Contains(r.Stdout, want) {
				t.Errorf("no %q in\n%s", want, r.Stdout)
			}
		}
		// Without an alias the name is the alias.
		prefix := strings.ToUpper(strings.ReplaceAll(db, "-", "_"))
		c.Run(t, "run", "--rm", "--link", db, "busybox", "env").Assert(t, 0, prefix+"_PORT_5432_TCP_ADDR="+ip)
		c.Run(t, "inspect", "--format", "{{json .HostConfig.Links}}", client).Assert(t, 0, `"/`+db+`:/`+client+`/dbalias"`)

		// Refusals: a container that is not on the default bridge, not
		// running, not there.
		n := netName(t, e)
		c.Run(t, "network", "create", n).OK(t)
		away, stopped := e.Name(t, "away"), e.Name(t, "stopped")
		c.Run(t, "run", "-d", "--name", away, "--network", n, "busybox", "sleep", "1d").OK(t)
		c.Run(t, "run", "--rm", "--link", away+":x", "busybox", "true").
			Assert(t, 125, "Cannot link to /"+away+", as it does not belong to the default network")
		c.Run(t, "create", "--name", stopped, "busybox", "true").OK(t)
		c.Run(t, "run", "--rm", "--link", stopped+":x", "busybox", "true").Assert(t, 125, "Cannot link to a non running container: /"+stopped+" AS /")
		c.Run(t, "run", "--rm", "--link", "nosuch-"+db+":x", "busybox", "true").Assert(t, 125, "could not get container for nosuch-"+db)

		// On a user-defined network: a DNS alias, no variables.
		r = c.Run(t, "run", "--rm", "--network", n, "--link", away+":linked", "busybox", "sh", "-c", "env; ping -c1 -W5 linked").OK(t)
		if !strings.Contains(r.Stdout, addrOn(t, e, away, n)) || strings.Contains(r.Stdout, "LINKED_") {
			t.Errorf("link on a user-defined network:\n%s", r.Stdout)
		}
		// Only for the container that links.
		if got := resolve(t, c, away, "linked"); len(got) != 0 {
			t.Errorf("the link alias resolves for another container: %v", got)
		}
	})
}
