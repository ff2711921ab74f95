// Package netnstest serves and dials from inside network namespaces, for
// the tests of the network packages: a server in a container's namespace
// that answers with the address it sees its client at (what NAT and port
// publishing change), and a client that reads that answer.
package netnstest
