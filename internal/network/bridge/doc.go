// Package bridge owns the kernel side of the default network: the Linux
// bridge and its address, the choice of a free subnet, the veth pair that
// plugs a container namespace into the bridge, and the addresses and routes
// inside that namespace. Everything goes through netlink in-process; the
// veth pair is made in one request (host end on the bridge and up, the
// peer created inside the container's namespace as eth0, up, with its MAC)
// to keep the container start path short.
package bridge
