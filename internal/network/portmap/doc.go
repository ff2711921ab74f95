// Package portmap allocates host ports for published container ports and
// reserves each one by holding a bound socket (a TCP listener, a bound UDP
// socket), as dockerd does when it runs without its userland proxy: the
// kernel then refuses the port to other programs, and a port another
// program already holds is refused to berth with the kernel's own error.
// Traffic mostly never reaches these sockets: nftables DNATs it to the
// container first. Where nftables cannot (an IPv6 host address for an
// IPv4 container, or a daemon with --iptables=false), Proxy turns the
// socket into a relay to the container, as Docker's userland proxy.
package portmap
