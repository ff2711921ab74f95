package container

import (
	"context"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	containertypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestNetworksAtCreateAndStart: the network mode and the other
// EndpointsConfig entries become the container's networks; every start
// connects them, the mode's first, with what the user asked.
func TestNetworksAtCreateAndStart(t *testing.T) {
	h := newHarness(t)
	h.net.addNetwork("front", "frontid")
	h.net.addNetwork("back", "backid")
	ip := netip.MustParseAddr("10.1.2.3")
	id := h.createWith(CreateOptions{Name: "multi", Config: cfgWith("sleep", "1d"),
		HostConfig: &containertypes.HostConfig{NetworkMode: "front", DNS: []netip.Addr{netip.MustParseAddr("10.9.9.9")}},
		NetworkingConfig: &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
			"front": {Aliases: []string{"web"}, IPAMConfig: &network.EndpointIPAMConfig{IPv4Address: ip}},
			"back":  {},
		}}})
	r := h.inspect(id).snapshot()
	if len(r.Networks) != 2 || !r.Networks["front"].Primary || r.Networks["back"].Primary ||
		r.Networks["front"].IPv4Address != ip || !slices.Equal(r.Networks["front"].Aliases, []string{"web"}) {
		t.Fatalf("attachments %+v", r.Networks)
	}
	h.start(id)
	eps := h.net.endpoints(id)
	if len(eps) != 2 || eps[0].Network != "front" || eps[1].Network != "back" {
		t.Fatalf("endpoints %+v", eps)
	}
	// On a user-defined network: resolv.conf points at the embedded DNS.
	r = h.inspect(id).snapshot()
	if b, _ := os.ReadFile(r.ResolvConfPath); !strings.Contains(string(b), "127.0.0.11") {
		t.Fatalf("resolv.conf %q", b)
	}
	ns := networkSettings(r)
	if len(ns.Networks) != 2 || ns.Networks["front"].EndpointID == "" || !slices.Contains(ns.Networks["front"].DNSNames, "multi") {
		t.Fatalf("NetworkSettings %+v", ns.Networks)
	}

	// Bad combinations, with Docker's errors.
	for _, tc := range []struct {
		hc   *containertypes.HostConfig
		nc   *network.NetworkingConfig
		want string
	}{
		{&containertypes.HostConfig{NetworkMode: "bridge"}, &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
			"bridge": {Aliases: []string{"x"}}}}, "network-scoped alias is supported only for containers in user defined networks"},
		{&containertypes.HostConfig{NetworkMode: "bridge"}, &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
			"bridge": {IPAMConfig: &network.EndpointIPAMConfig{IPv4Address: ip}}}}, "user specified IP address is supported on user defined networks only"},
		{&containertypes.HostConfig{NetworkMode: "none"}, &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
			"back": {}}}, "container cannot be connected to multiple networks with one of the networks in private (none) mode"},
		{&containertypes.HostConfig{NetworkMode: "host"}, &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
			"back": {}}}, "container sharing network namespace with another container or host cannot be connected to any other network"},
		{&containertypes.HostConfig{NetworkMode: "container:multi", PortBindings: network.PortMap{network.MustParsePort("80/tcp"): {{}}}}, nil,
			"conflicting options: port publishing and the container type network mode"},
		{&containertypes.HostConfig{NetworkMode: "nosuch"}, nil, "network nosuch not found"},
	} {
		_, err := h.s.Create(context.Background(), CreateOptions{Config: cfgWith("true"), HostConfig: tc.hc, NetworkingConfig: tc.nc})
		if !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.hc, err, tc.want)
		}
	}
}

// TestConnectDisconnectLive: connecting a running container adds an
// endpoint now; disconnecting its last network keeps its namespace with a
// placeholder, which the next connect replaces.
func TestConnectDisconnectLive(t *testing.T) {
	h := newHarness(t)
	h.net.addNetwork("front", "frontid")
	ctx := context.Background()
	id := h.create("live", "sleep", "1d")
	h.start(id)
	if err := h.s.ConnectNetwork(ctx, "live", "front", &network.EndpointSettings{Aliases: []string{"a"}}); err != nil {
		t.Fatal(err)
	}
	if eps := h.net.endpoints(id); len(eps) != 2 || eps[1].Network != "front" || !slices.Equal(eps[1].Aliases, []string{"a"}) {
		t.Fatalf("after connect: %+v", eps)
	}
	if err := h.s.ConnectNetwork(ctx, "live", "front", nil); !errdefs.IsPermissionDenied(err) ||
		err.Error() != "endpoint with name live already exists in network front" {
		t.Fatalf("connect twice: %v", err)
	}
	if err := h.s.ConnectNetwork(ctx, "live", "nosuch", nil); !errdefs.IsNotFound(err) {
		t.Fatalf("connect to a missing network: %v", err)
	}
	for _, n := range []string{"front", "bridge"} {
		if err := h.s.DisconnectNetwork(ctx, "live", n, false); err != nil {
			t.Fatal(err)
		}
	}
	eps := h.net.endpoints(id)
	if len(eps) != 1 || eps[0].Mode != "none" {
		t.Fatalf("after disconnecting everything: %+v", eps)
	}
	if nets := h.inspect(id).snapshot().Networks; len(nets) != 0 {
		t.Fatalf("attachments left: %v", nets)
	}
	if err := h.s.DisconnectNetwork(ctx, "live", "bridge", false); !errdefs.IsInvalidArgument(err) ||
		!strings.Contains(err.Error(), "is not connected to network bridge") {
		t.Fatalf("disconnect twice: %v", err)
	}
	if err := h.s.ConnectNetwork(ctx, "live", "bridge", nil); err != nil {
		t.Fatal(err)
	}
	if eps := h.net.endpoints(id); len(eps) != 1 || eps[0].Network != "bridge" {
		t.Fatalf("the placeholder stayed: %+v", eps)
	}
	// Events: connect and disconnect of the user-defined network.
	acts := strings.Join(h.events.actions("frontid"), ",")
	if acts != "connect,disconnect" {
		t.Errorf("network events %q", acts)
	}
}

// TestDisconnectFailure: when the network cannot let go of the
// container's last endpoint, the container stays on the network, and
// the placeholder made for its namespace goes again.
func TestDisconnectFailure(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	id := h.create("live", "sleep", "1d")
	h.start(id)
	h.net.mu.Lock()
	h.net.failDisconnectOf = "bridge"
	h.net.mu.Unlock()
	if err := h.s.DisconnectNetwork(ctx, "live", "bridge", false); err == nil || !strings.Contains(err.Error(), "failed to leave network bridge") {
		t.Fatalf("disconnect: %v", err)
	}
	if eps := h.net.endpoints(id); len(eps) != 1 || eps[0].Network != "bridge" {
		t.Errorf("endpoints after a failed disconnect: %+v", eps)
	}
	if _, ok := h.inspect(id).snapshot().Networks["bridge"]; !ok {
		t.Errorf("the container left the network in its config")
	}
}

// TestConnectStoppedAndLinks: a stopped container's networks change for
// its next start; links give variables and hosts entries on the default
// bridge only.
func TestConnectStoppedAndLinks(t *testing.T) {
	h := newHarness(t)
	h.net.addNetwork("front", "frontid")
	ctx := context.Background()
	db := h.createWith(CreateOptions{Name: "db", Config: &containertypes.Config{Image: "busybox", Cmd: []string{"sleep", "1d"},
		Env: []string{"PASSWORD=x"}, ExposedPorts: network.PortSet{network.MustParsePort("5432/tcp"): {}}}})
	h.start(db)
	id := h.createWith(CreateOptions{Name: "app", Config: cfgWith("sleep", "1d"), HostConfig: &containertypes.HostConfig{Links: []string{"db:dbalias"}}})
	if links := h.inspect(id).snapshot().HostConfig.Links; !slices.Equal(links, []string{"/db:/app/dbalias"}) {
		t.Fatalf("links recorded as %v", links)
	}
	if err := h.s.ConnectNetwork(ctx, "app", "front", nil); err != nil {
		t.Fatal(err)
	}
	if len(h.net.endpoints(id)) != 0 {
		t.Fatal("a stopped container was connected")
	}
	h.start(id)
	r := h.inspect(id).snapshot()
	if eps := h.net.endpoints(id); len(eps) != 2 {
		t.Fatalf("endpoints at start: %+v", eps)
	}
	hosts, _ := os.ReadFile(r.HostsPath)
	dbAddr := h.net.endpoints(db)[0].IPAddress.String()
	if !strings.Contains(string(hosts), dbAddr+"\tdbalias ") {
		t.Fatalf("hosts:\n%s", hosts)
	}
	env := strings.Join(specEnv(t, h, id), "\n")
	for _, want := range []string{"DBALIAS_PORT=tcp://" + dbAddr + ":5432", "DBALIAS_NAME=/app/dbalias", "DBALIAS_ENV_PASSWORD=x"} {
		if !strings.Contains(env, want) {
			t.Errorf("no %q in the environment:\n%s", want, env)
		}
	}
	// Linking to a container that is not on the default bridge fails.
	h.net.addNetwork("only", "onlyid")
	away := h.createWith(CreateOptions{Name: "away", Config: cfgWith("sleep", "1d"), HostConfig: &containertypes.HostConfig{NetworkMode: "only"}})
	h.start(away)
	linker := h.createWith(CreateOptions{Name: "linker", Config: cfgWith("true"), HostConfig: &containertypes.HostConfig{Links: []string{"away:x"}}})
	if err := h.s.Start(ctx, linker); err == nil || !strings.Contains(err.Error(), "Cannot link to /away, as it does not belong to the default network") {
		t.Fatalf("link to a container off the default bridge: %v", err)
	}
}

// specEnv is the environment of a running container's process, from the
// runtime spec its start wrote.
func specEnv(t *testing.T, h *harness, id string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(h.cfg.bundleDir(id), "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var spec specs.Spec
	if err := json.Unmarshal(data, &spec); err != nil {
		t.Fatal(err)
	}
	return spec.Process.Env
}
