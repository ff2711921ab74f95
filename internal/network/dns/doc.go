// Package dns is the embedded DNS server of user-defined networks: one
// server per container network namespace, listening on 127.0.0.11:53
// (UDP and TCP) inside it, answering the names of the containers that
// share a network with the querying container and forwarding everything
// else to the host's resolvers.
package dns
