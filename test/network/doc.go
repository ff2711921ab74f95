// Package network holds the end-to-end tests of networking (issue 4):
// the four archetypes (none, bridge, container:, host) and macvlan,
// user-defined networks and their options, connect and disconnect,
// embedded DNS and its scoping, published ports seen from another host,
// inter-container policy, legacy links, bad input, and what the engine
// leaves behind (interfaces, namespaces, nftables tables).
//
// The tests are in _test.go files; run them as root with
//
//	go test ./test/network                     # a private berth daemon
//	E2E_TARGET=docker go test ./test/network   # a private reference dockerd
//
// The reference dockerd runs with --iptables=false (it must not touch the
// host's firewall, which other engines here use): tests of what its
// iptables rules do (isolation, icc, --internal) skip there and say so.
// TestBesideDockerdFirewall runs a berth daemon and a reference dockerd
// with its iptables on side by side in a network namespace of their own
// (whose firewall they may change); it skips where dockerd is not
// installed.
package network
