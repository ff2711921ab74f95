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
//     may reach them only on replies and published ports;
//   - an "owner" chain no rule jumps to, whose one rule's comment names the
//     daemon that programs the table (Owner: its state directory, pid and
//     process start time), so that a daemon can tell stale tables (its own
//     for networks that are gone, a dead daemon's whose bridge is gone)
//     from another live daemon's, which it never touches.
//
// Coexistence with an iptables firewall: an nftables packet passes a hook
// only if every base chain there accepts it, so berth's own accept cannot
// outvote a FORWARD policy of DROP (dockerd sets one when it turns
// forwarding on), and berth therefore inserts `-i <bridge> -j ACCEPT` and
// `-o <bridge> -j ACCEPT`, written as iptables-nft writes them with the
// comment "berth <bridge>", at the top of DOCKER-USER (else FORWARD) of the
// "ip filter" table while the bridge has containers, putting them back
// whenever a watcher sees that table change (a dockerd starting after
// berth, a firewall reload). The precise filtering stays in berth's own
// forward chain, and the accept rules go when the bridge has no container
// left, with its table, or at the next start after a crash.
package nat
