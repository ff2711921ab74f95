package container

import (
	"context"
	"net/http"

	containertypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"

	"github.com/berth-dev/berth/internal/server/httputils"
)

func (r *Router) inspect(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	resp, err := r.b.Inspect(ctx, vars["name"], httputils.BoolValue(req, "size"))
	if err != nil {
		return err
	}
	if httputils.VersionLessThan(ctx, "1.48") {
		resp.ImageManifestDescriptor = nil
	}
	if httputils.VersionLessThan(ctx, "1.52") {
		return httputils.WriteJSON(w, http.StatusOK, legacyInspect{
			InspectResponse: resp,
			NetworkSettings: legacyNetworkSettings(resp.NetworkSettings),
		})
	}
	return httputils.WriteJSON(w, http.StatusOK, resp)
}

// legacyInspect is the inspect response of API versions before 1.52,
// whose NetworkSettings still carries the pre-1.21 top-level fields
// (IPAddress, Gateway, MacAddress, ...) that the docker CLI's templates
// and many scripts read.
type legacyInspect struct {
	*containertypes.InspectResponse
	NetworkSettings *legacyNetwork
}

type legacyNetwork struct {
	Bridge                 string
	SandboxID              string
	HairpinMode            bool
	LinkLocalIPv6Address   string
	LinkLocalIPv6PrefixLen int
	Ports                  network.PortMap
	SandboxKey             string
	SecondaryIPAddresses   []address
	SecondaryIPv6Addresses []address
	EndpointID             string
	Gateway                string
	GlobalIPv6Address      string
	GlobalIPv6PrefixLen    int
	IPAddress              string
	IPPrefixLen            int
	IPv6Gateway            string
	MacAddress             string
	Networks               map[string]*network.EndpointSettings
}

// address is the element type of the (always empty) secondary address lists.
type address struct {
	Addr      string
	PrefixLen int
}

// legacyNetworkSettings fills the top-level fields from the default
// bridge network's endpoint, as Docker did.
func legacyNetworkSettings(ns *containertypes.NetworkSettings) *legacyNetwork {
	if ns == nil {
		return nil
	}
	l := &legacyNetwork{
		SandboxID:  ns.SandboxID,
		SandboxKey: ns.SandboxKey,
		Ports:      ns.Ports,
		Networks:   ns.Networks,
	}
	if ep := ns.Networks[network.NetworkBridge]; ep != nil {
		l.EndpointID = ep.EndpointID
		l.Gateway = addr(ep.Gateway)
		l.GlobalIPv6Address = addr(ep.GlobalIPv6Address)
		l.GlobalIPv6PrefixLen = ep.GlobalIPv6PrefixLen
		l.IPAddress = addr(ep.IPAddress)
		l.IPPrefixLen = ep.IPPrefixLen
		l.IPv6Gateway = addr(ep.IPv6Gateway)
		if len(ep.MacAddress) > 0 {
			l.MacAddress = ep.MacAddress.String()
		}
	}
	return l
}

func addr(a interface {
	IsValid() bool
	String() string
}) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}
