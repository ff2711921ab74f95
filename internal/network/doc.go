// Package network is berth's network service: the three default networks
// (bridge, host, none), the networks users create (bridge and macvlan),
// container endpoints on them, published ports, the embedded DNS server
// of user-defined networks, and the resolv.conf and hosts files
// containers get.
//
// The kernel work lives in subpackages: bridge (Linux bridges, veth pairs,
// macvlan, addresses and routes over netlink), netns (named network
// namespaces), nat (one nftables table per bridge), portmap (host ports
// held by bound sockets), ipam (address pools, pure) and dns (the embedded
// DNS server). This package ties them together, keeps the state that must
// survive a daemon restart under Config.Root, and undoes everything a
// failed Connect did.
//
// With NoBridge ("none", dockerd's --bridge none) there is no default
// bridge: "bridge" is not listed, and containers whose network mode is the
// default get lo only, as dockerd gives them.
//
// Tables outlive the daemon (for the containers that keep running), so a
// start removes the stale ones (stale.go): its own for networks that are
// gone, and those of dead daemons whose bridge or state is gone.
//
// A container's endpoints share one network namespace, its sandbox: the
// first Connect creates it (on the container's start path, before the
// runtime), later ones add eth1, eth2... to it, also while the container
// runs, and the last Disconnect removes it. The default routes go through
// the endpoint Docker would pick (networks that are not internal first,
// then by name); ports are published on the endpoint that asks for them.
// A sandbox with an endpoint on a user-defined network gets a DNS server
// on 127.0.0.11 that answers for the containers of its networks only.
//
// State on disk, all replaced atomically (temporary file and rename):
//
//	<root>/network.json          the default bridge: its address and
//	                             creation time, and a snapshot of its pool
//	<root>/networks/<id>.json    one record per user-defined network,
//	                             synced (networks outlive a reboot); its
//	                             bridge and table are made again at New
//	<root>/endpoints/<container>.<network>.json
//	                             one record per endpoint, written before
//	                             any kernel work and removed by Disconnect.
//	                             The pools are rebuilt from these at New, so
//	                             addresses survive a restart without
//	                             rewriting pools on every Connect; a crash
//	                             mid-Connect leaves a record Restore cleans
//	                             up. Not synced: what they describe lives in
//	                             the kernel and does not survive a reboot
//	<netns dir>/<container>      the container's network namespace (nsfs
//	                             bind), on the exec root
package network
