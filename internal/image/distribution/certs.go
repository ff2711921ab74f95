package distribution

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// DefaultCertsDir is where Docker looks for a registry's certificates:
// <dir>/<host[:port]>/ holds *.crt files (CAs trusted beside the
// system's) and *.cert/*.key pairs (client certificates).
const DefaultCertsDir = "/etc/docker/certs.d"

// hostTransports caches, per registry host, the transport built from its
// certificate directory, rebuilt when the directory's files change: as in
// Docker, certificates placed there take effect without a restart.
type hostTransports struct {
	mu      sync.Mutex
	entries map[string]hostTransport
}

type hostTransport struct {
	stamp string
	tr    *http.Transport
}

// secureTransport is the transport for a registry whose certificates are
// checked: the shared one, or one with the CAs and client certificates
// of the host's directory under the certs dir.
func (s *Service) secureTransport(host string) (http.RoundTripper, error) {
	if s.certsDir == "" {
		return s.secure, nil
	}
	dir := filepath.Join(s.certsDir, host)
	if filepath.Dir(dir) != filepath.Clean(s.certsDir) {
		return s.secure, nil // a host name with a path in it has no directory
	}
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return s.secure, nil
	}
	if err != nil {
		return nil, err
	}
	stamp := dirStamp(entries)
	s.hosts.mu.Lock()
	defer s.hosts.mu.Unlock()
	if e, ok := s.hosts.entries[host]; ok && e.stamp == stamp {
		return e.tr, nil
	}
	cfg, err := certsDirTLS(dir, entries)
	if err != nil {
		return nil, err
	}
	tr := newTransport(cfg)
	if e, ok := s.hosts.entries[host]; ok {
		e.tr.CloseIdleConnections()
	}
	if s.hosts.entries == nil {
		s.hosts.entries = map[string]hostTransport{}
	}
	s.hosts.entries[host] = hostTransport{stamp: stamp, tr: tr}
	return tr, nil
}

// dirStamp identifies a directory's certificate files by name, size and
// modification time.
func dirStamp(entries []os.DirEntry) string {
	var b strings.Builder
	for _, e := range entries {
		if info, err := e.Info(); err == nil {
			fmt.Fprintf(&b, "%s/%d/%d;", e.Name(), info.Size(), info.ModTime().UnixNano())
		}
	}
	return b.String()
}

// certsDirTLS reads a host's certificate directory (entries, sorted by
// name as os.ReadDir gives them) as Docker's ReadCertsDirectory does:
// *.crt are CAs added to the system's pool, and each client certificate
// X.cert needs its key X.key (and the reverse).
func certsDirTLS(dir string, entries []os.DirEntry) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	have := map[string]bool{}
	for _, e := range entries {
		have[e.Name()] = true
	}
	for _, e := range entries {
		n := e.Name()
		path := filepath.Join(dir, n)
		switch filepath.Ext(n) {
		case ".crt":
			if cfg.RootCAs == nil {
				pool, err := x509.SystemCertPool()
				if err != nil {
					pool = x509.NewCertPool()
				}
				cfg.RootCAs = pool
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return nil, err
			}
			if !cfg.RootCAs.AppendCertsFromPEM(data) {
				return nil, fmt.Errorf("no certificates found in %s", path)
			}
		case ".cert":
			key := strings.TrimSuffix(n, ".cert") + ".key"
			if !have[key] {
				return nil, fmt.Errorf("missing key %s for client certificate %s. CA certificates must use the extension .crt", key, n)
			}
			pair, err := tls.LoadX509KeyPair(path, filepath.Join(dir, key))
			if err != nil {
				return nil, err
			}
			cfg.Certificates = append(cfg.Certificates, pair)
		case ".key":
			cert := strings.TrimSuffix(n, ".key") + ".cert"
			if !have[cert] {
				return nil, fmt.Errorf("missing client certificate %s for key %s", cert, n)
			}
		}
	}
	return cfg, nil
}
