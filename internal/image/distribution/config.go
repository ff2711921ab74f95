package distribution

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/moby/moby/api/types/registry"
)

const (
	// dockerHub is the domain references without a registry name.
	dockerHub = "docker.io"
	// hubRegistry is where Docker pulls Docker Hub images from.
	hubRegistry = "registry-1.docker.io"
	// hubIndex serves Docker Hub's v1 search.
	hubIndex = "index.docker.io"
	// IndexServer is the key Docker Hub credentials are stored under.
	IndexServer = "https://index.docker.io/v1/"
)

// Config is the daemon's registry configuration (daemon.json's
// insecure-registries and registry-mirrors).
type Config struct {
	// InsecureRegistries are "host[:port]" names or CIDRs whose registries
	// may be reached over plain HTTP or HTTPS without certificate checks.
	// 127.0.0.0/8 and ::1 are always insecure, as in Docker.
	InsecureRegistries []string
	// Mirrors are URLs ("https://mirror.example:5000") tried, in order,
	// before Docker Hub for pulls of Docker Hub images.
	Mirrors []string
	// UserAgent is sent with every request.
	UserAgent string
	// IdleTimeout ends a blob download that receives nothing for this long
	// (a registry that stalls mid-blob); the download is then resumed.
	// Zero means one minute.
	IdleTimeout time.Duration
	// CertsDir holds per-registry certificates as Docker's certs.d
	// (DefaultCertsDir); "" reads none.
	CertsDir string
}

// Service resolves registries to endpoints and opens repositories on them.
type Service struct {
	insecureCIDRs []netip.Prefix
	insecureHosts map[string]bool
	mirrors       []*url.URL
	userAgent     string
	idleTimeout   time.Duration

	secure, skipVerify *http.Transport
	certsDir           string
	hosts              hostTransports
	// lookupIP resolves registry host names for the CIDR check; tests
	// replace it.
	lookupIP func(ctx context.Context, host string) ([]net.IP, error)
}

// New validates cfg as Docker validates daemon.json.
func New(cfg Config) (*Service, error) {
	s := &Service{
		insecureHosts: map[string]bool{},
		userAgent:     cfg.UserAgent,
		idleTimeout:   cfg.IdleTimeout,
		certsDir:      cfg.CertsDir,
		insecureCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")},
		lookupIP: func(ctx context.Context, host string) ([]net.IP, error) {
			return net.DefaultResolver.LookupIP(ctx, "ip", host)
		},
	}
	if s.idleTimeout <= 0 {
		s.idleTimeout = time.Minute
	}
	if s.userAgent == "" {
		s.userAgent = "berth"
	}
	for _, r := range cfg.InsecureRegistries {
		if strings.Contains(r, "://") {
			u, err := url.Parse(r)
			if err != nil || u.Host == "" {
				return nil, fmt.Errorf("insecure registry %s is not valid: %w", r, errdefs.ErrInvalidArgument)
			}
			r = u.Host
		}
		r = strings.TrimSuffix(r, "/")
		if p, err := netip.ParsePrefix(r); err == nil {
			s.insecureCIDRs = append(s.insecureCIDRs, p.Masked())
			continue
		}
		if r == "" || strings.ContainsAny(r, "/ ") {
			return nil, fmt.Errorf("insecure registry %s is not valid: %w", r, errdefs.ErrInvalidArgument)
		}
		s.insecureHosts[strings.ToLower(r)] = true
	}
	for _, m := range cfg.Mirrors {
		u, err := validateMirror(m)
		if err != nil {
			return nil, err
		}
		s.mirrors = append(s.mirrors, u)
	}
	s.secure = newTransport(&tls.Config{MinVersion: tls.VersionTLS12})
	s.skipVerify = newTransport(&tls.Config{InsecureSkipVerify: true}) //nolint:gosec // insecure registries are the user's choice
	return s, nil
}

// validateMirror checks a mirror URL as Docker's ValidateMirror does.
func validateMirror(v string) (*url.URL, error) {
	u, err := url.Parse(v)
	if err != nil {
		return nil, fmt.Errorf("invalid mirror: %q is not a valid URI: %w", v, errdefs.ErrInvalidArgument)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("invalid mirror: unsupported scheme %q in %q: %w", u.Scheme, u, errdefs.ErrInvalidArgument)
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("invalid mirror: path, query, or fragment at end of the URI %q: %w", u, errdefs.ErrInvalidArgument)
	}
	if u.User != nil {
		return nil, fmt.Errorf("invalid mirror: username/password not allowed in URI %q: %w", u, errdefs.ErrInvalidArgument)
	}
	u.Path = ""
	return u, nil
}

func newTransport(cfg *tls.Config) *http.Transport {
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           d.DialContext,
		TLSHandshakeTimeout:   10 * time.Second,
		TLSClientConfig:       cfg,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
		// Blobs are compressed already; transparent gzip would only
		// hide Content-Length.
		DisableCompression: true,
	}
}

// Insecure reports whether a registry ("host[:port]") may be reached over
// plain HTTP: listed by name, or resolving into an insecure CIDR
// (loopback always), as Docker's isSecureIndex decides.
func (s *Service) Insecure(ctx context.Context, host string) bool {
	host = strings.ToLower(host)
	if s.insecureHosts[host] {
		return true
	}
	name := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		name = h
	}
	name = strings.Trim(name, "[]")
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(name); err == nil {
		addrs = append(addrs, a)
	} else if name == "localhost" {
		addrs = append(addrs, netip.MustParseAddr("127.0.0.1"))
	} else {
		lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		ips, _ := s.lookupIP(lctx, name)
		cancel()
		for _, ip := range ips {
			if a, ok := netip.AddrFromSlice(ip); ok {
				addrs = append(addrs, a.Unmap())
			}
		}
	}
	for _, a := range addrs {
		for _, p := range s.insecureCIDRs {
			if p.Contains(a.Unmap()) {
				return true
			}
		}
	}
	return false
}

// Endpoint is one place a repository can be reached.
type Endpoint struct {
	// Host is "host[:port]" as used in URLs.
	Host string
	// Scheme is "https" or "http" when fixed (mirrors, Docker Hub); ""
	// lets Open choose: HTTPS, then plain HTTP for insecure registries.
	Scheme string
	// Insecure allows plain HTTP and HTTPS without certificate checks.
	Insecure bool
	// Mirror is set for registry mirrors: failures there fall back to the
	// next endpoint.
	Mirror bool
}

// Endpoints lists where to pull or push the repository of ref, in the
// order to try: mirrors first for Docker Hub pulls, then the registry.
func (s *Service) Endpoints(ctx context.Context, ref reference.Named, push bool) []Endpoint {
	domain := reference.Domain(ref)
	if domain != dockerHub {
		return []Endpoint{{Host: domain, Insecure: s.Insecure(ctx, domain)}}
	}
	var out []Endpoint
	if !push {
		for _, m := range s.mirrors {
			out = append(out, Endpoint{Host: m.Host, Scheme: m.Scheme, Insecure: m.Scheme == "http" || s.Insecure(ctx, m.Host), Mirror: true})
		}
	}
	return append(out, Endpoint{Host: hubRegistry, Scheme: "https"})
}

// transportFor is the base transport for requests to ep: certificate
// checks off for insecure registries, else with the CAs and client
// certificates of the registry's certs.d directory (read here, once per
// repository opened, as Docker reads it per endpoint); and the scheme not
// chosen refused for the registry's own host, so that
// go-containerregistry's ping (which tries both schemes for loopback and
// private addresses) settles on the scheme this package decided.
// Redirects (to blob storage) keep the registry's TLS settings, as
// Docker's per-endpoint transport does.
func (s *Service) transportFor(ep Endpoint, scheme string) http.RoundTripper {
	g := &schemeGuard{host: ep.Host, scheme: scheme, inner: s.skipVerify}
	if !ep.Insecure {
		g.inner, g.err = s.secureTransport(ep.Host)
	}
	return g
}

type schemeGuard struct {
	host, scheme string
	inner        http.RoundTripper
	err          error // the registry's certificates could not be read
}

func (g *schemeGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	if g.err != nil {
		return nil, g.err
	}
	if req.URL.Host == g.host && req.URL.Scheme != g.scheme {
		return nil, fmt.Errorf("%s %q: registry %s is only reached over %s", req.Method, req.URL.Redacted(), g.host, g.scheme)
	}
	return g.inner.RoundTrip(req)
}

// ServiceConfig is the registry configuration as GET /info reports it
// (RegistryConfig): insecure CIDRs (loopback included), index configs for
// Docker Hub and the registries named insecure, and the mirrors.
func (s *Service) ServiceConfig() *registry.ServiceConfig {
	cfg := &registry.ServiceConfig{
		InsecureRegistryCIDRs: slices.Clone(s.insecureCIDRs),
		IndexConfigs:          map[string]*registry.IndexInfo{},
		Mirrors:               []string{},
	}
	slices.SortFunc(cfg.InsecureRegistryCIDRs, func(a, b netip.Prefix) int { return strings.Compare(a.String(), b.String()) })
	for _, m := range s.mirrors {
		cfg.Mirrors = append(cfg.Mirrors, m.String()+"/")
	}
	cfg.IndexConfigs[dockerHub] = &registry.IndexInfo{Name: dockerHub, Mirrors: slices.Clone(cfg.Mirrors), Secure: true, Official: true}
	for h := range s.insecureHosts {
		cfg.IndexConfigs[h] = &registry.IndexInfo{Name: h, Mirrors: []string{}, Secure: false}
	}
	return cfg
}
