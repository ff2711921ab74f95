package network

import (
	"bytes"
	"net/netip"
	"os"
	"slices"
	"strings"
)

// Default resolver files, read on every call: the host's may change while
// the daemon runs (DHCP, VPNs), and a container should get the current one.
const (
	hostResolvConf     = "/etc/resolv.conf"
	resolvedResolvConf = "/run/systemd/resolve/resolv.conf"
)

// defaultNameservers are what Docker falls back to when the host has no
// nameserver a container can reach.
var defaultNameservers = []string{"8.8.8.8", "8.8.4.4"}

// ResolvConf is the /etc/resolv.conf for a container on the default
// bridge: the host's, without loopback nameservers (unreachable from the
// container's namespace) and without IPv6 ones (the network has no IPv6),
// with Google's servers if none is left; or built from the daemon's
// dns, dns-search and dns-opts when any is set.
func (s *Service) ResolvConf() []byte {
	return s.ResolvConfWith(nil, nil, nil, false)
}

// ResolvConfWith is ResolvConf with a container's own --dns,
// --dns-search and --dns-option, each of which, when given, wins over the
// daemon's. embedded is for a container on a user-defined network: its
// only nameserver is the embedded DNS server (which forwards to the
// others), with "ndots:0" unless an ndots option is given, as Docker
// writes it.
func (s *Service) ResolvConfWith(dns, search, options []string, embedded bool) []byte {
	if len(dns) == 0 {
		dns = s.cfg.DNS
	}
	if len(search) == 0 {
		search = s.cfg.DNSSearch
	}
	if len(options) == 0 {
		options = s.cfg.DNSOptions
	}
	host := readHostResolvConf(s.resolvConfPath)
	if !embedded {
		return buildResolvConf(host, dns, search, options)
	}
	if len(search) == 0 {
		search = directive(host, "search", "domain")
	}
	if len(options) == 0 {
		options = directive(host, "options")
	}
	if !slices.ContainsFunc(options, func(o string) bool { return strings.HasPrefix(o, "ndots:") }) {
		options = append(slices.Clone(options), "ndots:0")
	}
	return writeResolvConf([]string{embeddedNameserver}, search, options)
}

// embeddedNameserver is where the embedded DNS server answers in every
// container (dns.Address without the port).
const embeddedNameserver = "127.0.0.11"

// readHostResolvConf reads the host's file; when it only points at
// systemd-resolved's stub (127.0.0.53), the upstream servers resolved
// itself uses are what a container needs, as in Docker.
func readHostResolvConf(path string) []byte {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	if path == hostResolvConf {
		ns := nameservers(b)
		if len(ns) == 1 && ns[0] == "127.0.0.53" {
			if up, err := os.ReadFile(resolvedResolvConf); err == nil {
				return up
			}
		}
	}
	return b
}

func buildResolvConf(host []byte, dns, search, options []string) []byte {
	if len(dns) > 0 || len(search) > 0 || len(options) > 0 {
		if len(dns) == 0 {
			dns = usableNameservers(nameservers(host))
		}
		if len(dns) == 0 {
			dns = defaultNameservers
		}
		if len(search) == 0 {
			search = directive(host, "search", "domain")
		}
		if len(options) == 0 {
			options = directive(host, "options")
		}
		return writeResolvConf(dns, search, options)
	}

	var b bytes.Buffer
	kept := 0
	for _, line := range strings.SplitAfter(string(host), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "nameserver" {
			if len(usableNameservers(f[1:2])) == 0 {
				continue
			}
			kept++
		}
		b.WriteString(line)
	}
	if b.Len() > 0 && !bytes.HasSuffix(b.Bytes(), []byte("\n")) {
		b.WriteByte('\n')
	}
	if kept == 0 {
		for _, ns := range defaultNameservers {
			b.WriteString("nameserver " + ns + "\n")
		}
	}
	return b.Bytes()
}

// writeResolvConf lays a resolv.conf out as Docker's resolvconf.Build.
func writeResolvConf(dns, search, options []string) []byte {
	var b bytes.Buffer
	if len(search) > 0 && strings.TrimSpace(strings.Join(search, " ")) != "." {
		b.WriteString("search " + strings.Join(search, " ") + "\n")
	}
	for _, ns := range dns {
		b.WriteString("nameserver " + ns + "\n")
	}
	if len(options) > 0 && strings.TrimSpace(strings.Join(options, " ")) != "" {
		b.WriteString("options " + strings.Join(options, " ") + "\n")
	}
	return b.Bytes()
}

func nameservers(conf []byte) []string {
	var out []string
	for _, line := range strings.Split(string(conf), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "nameserver" {
			out = append(out, f[1])
		}
	}
	return out
}

// usableNameservers drops what a container on the bridge cannot reach:
// loopback addresses (the host's local resolver) and IPv6.
func usableNameservers(ns []string) []string {
	var out []string
	for _, s := range ns {
		a, err := netip.ParseAddr(s)
		if err != nil || a.IsLoopback() || !a.Unmap().Is4() {
			continue
		}
		out = append(out, s)
	}
	return out
}

// directive is the words after the last line starting with one of keys
// (later lines win, as in the resolver).
func directive(conf []byte, keys ...string) []string {
	var out []string
	for _, line := range strings.Split(string(conf), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 {
			for _, k := range keys {
				if f[0] == k {
					out = f[1:]
				}
			}
		}
	}
	return out
}

// Hosts is the /etc/hosts Docker writes for a container: the loopback and
// IPv6 boilerplate, then the container's own address with its hostname
// ("fqdn short" when the hostname has a domain). With no address (network
// none) the last line is left out.
func (s *Service) Hosts(hostname string, ip netip.Addr) []byte {
	var b bytes.Buffer
	b.WriteString("127.0.0.1\tlocalhost\n")
	b.WriteString("::1\tlocalhost ip6-localhost ip6-loopback\n")
	b.WriteString("fe00::0\tip6-localnet\n")
	b.WriteString("ff00::0\tip6-mcastprefix\n")
	b.WriteString("ff02::1\tip6-allnodes\n")
	b.WriteString("ff02::2\tip6-allrouters\n")
	if ip.IsValid() && hostname != "" {
		names := hostname
		if short, _, ok := strings.Cut(hostname, "."); ok && short != "" {
			names = hostname + " " + short
		}
		b.WriteString(ip.String() + "\t" + names + "\n")
	}
	return b.Bytes()
}
