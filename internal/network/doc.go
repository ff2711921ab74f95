// Package network is berth's network service: the three default networks
// (bridge, host, none), container endpoints on them, published ports, and
// the resolv.conf and hosts files containers get.
//
// The kernel work lives in subpackages: bridge (the Linux bridge, veth
// pairs, addresses and routes over netlink), netns (named network
// namespaces), nat (one nftables table per bridge), portmap (host ports held
// by bound sockets) and ipam (the address pool, pure). This package ties
// them together, keeps the state that must survive a daemon restart under
// Config.Root, and undoes everything a failed Connect did.
//
// State on disk, all replaced atomically (temporary file and rename):
//
//	<root>/network.json          bridge, address and creation time, and a
//	                             snapshot of the address pool (written by
//	                             New and Restore)
//	<root>/endpoints/<id>.json   one record per container endpoint, written
//	                             before any kernel work and removed by
//	                             Disconnect. The pool is rebuilt from these at
//	                             New, so addresses survive a restart without
//	                             rewriting the pool on every Connect; a crash
//	                             mid-Connect leaves a record Restore cleans up
//	<root>/netns/<id>            the container's network namespace (nsfs bind)
package network
