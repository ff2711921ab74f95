// Package nat programs berth's nftables rules for one bridge, through
// netlink (github.com/google/nftables), never the nft or iptables binaries.
//
// Each bridge gets its own table, "ip berth-<bridge>", so daemons with
// different bridges never touch each other's rules and removing the table
// removes everything berth did for that bridge. The table holds:
//
//   - two maps of published ports, "ports" (proto . port, for bindings on
//     every host address) and "hostports" (addr . proto . port, for a
//     specific host address), each mapping to container addr . port. A
//     container start adds elements and a stop removes them: one small
//     batch, no rule churn;
//   - prerouting and output NAT chains that DNAT through those maps traffic
//     to the host's local addresses (127.0.0.1 included: the bridge has
//     route_localnet set, and the postrouting chain masquerades 127.0.0.0/8
//     sources going out the bridge, as Docker does without its proxy);
//   - a postrouting chain masquerading the subnet's traffic leaving through
//     other interfaces, and DNATed traffic from a container back to the
//     bridge (hairpin), so replies come back through the host;
//   - a forward filter chain: containers may go anywhere, and the outside
//     may reach them only on replies and published ports.
//
// Coexistence with an iptables firewall (the reference dockerd sets the
// FORWARD policy to DROP): an nftables packet is accepted only if every
// base chain at its hook accepts it, so berth's own accept is not enough.
// When an "ip filter" table (iptables-nft) has a DOCKER-USER chain (or,
// failing that, a FORWARD chain), EnsureForwardAccept inserts two rules at
// its top, written exactly as iptables-nft writes
// `-i <bridge> -j ACCEPT` and `-o <bridge> -j ACCEPT` with a comment, so
// iptables and dockerd can still list and edit the table. The precise
// filtering stays in berth's own forward chain.
package nat
