package network

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/berth-dev/berth/internal/atomicfile"
	"github.com/berth-dev/berth/internal/network/ipam"
)

// syncRecords is false: the endpoint records are replaced atomically but
// not synced. Everything they describe (veths, namespaces, rules) lives
// in the kernel and is gone after a power loss anyway, and a process
// crash loses nothing the page cache holds. That keeps disk syncs off the
// container start path. Network records, written rarely and describing
// what must outlive a reboot, are synced.
const syncRecords = false

func (s *Service) statePath() string { return filepath.Join(s.cfg.Root, "network.json") }

func (s *Service) endpointsDir() string { return filepath.Join(s.cfg.Root, "endpoints") }

// endpointPath is <root>/endpoints/<container>.<network>.json: one record
// per endpoint.
func (s *Service) endpointPath(ep *Endpoint) string {
	return filepath.Join(s.endpointsDir(), ep.ContainerID+"."+ep.NetworkID+".json")
}

func (s *Service) networksDir() string { return filepath.Join(s.cfg.Root, "networks") }

func (s *Service) netRecordPath(id string) string {
	return filepath.Join(s.networksDir(), id+".json")
}

func newNetworkID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (s *Service) loadState() (state, error) {
	var st state
	b, err := os.ReadFile(s.statePath())
	if errors.Is(err, os.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("network state: %w", err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		// A damaged file costs the address pool, which the endpoint
		// records rebuild; not a reason to refuse to start.
		slog.Warn("ignoring damaged network state", "path", s.statePath(), "err", err)
		return state{}, nil
	}
	return st, nil
}

func (s *Service) saveStateLocked() error {
	if s.def == nil {
		// NoBridge: keep what a run with the bridge recorded, for the
		// next one.
		return nil
	}
	br := s.def.br
	b, err := json.Marshal(state{Bridge: br.Name, Address: br.Addr, Created: s.created, IPAM: s.def.pools[0]})
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(s.statePath(), b, 0o600, syncRecords); err != nil {
		return fmt.Errorf("save network state: %w", err)
	}
	return nil
}

func (s *Service) saveState() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.saveStateLocked()
}

func (s *Service) writeEndpoint(ep *Endpoint) error {
	b, err := json.Marshal(ep)
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(s.endpointPath(ep), b, 0o600, syncRecords); err != nil {
		return fmt.Errorf("save endpoint: %w", err)
	}
	return nil
}

func (s *Service) removeEndpointRecord(ep *Endpoint) {
	if err := os.Remove(s.endpointPath(ep)); err != nil && !errors.Is(err, os.ErrNotExist) {
		slog.Warn("remove endpoint record", "container", ep.ContainerID, "err", err)
	}
}

func (s *Service) writeNetRecord(r *netRecord) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(s.netRecordPath(r.ID), b, 0o600, true); err != nil {
		return fmt.Errorf("save network: %w", err)
	}
	return nil
}

// loadNetworks brings back the user-defined networks: records read,
// bridges and rules ensured (they survive a daemon restart, but not a
// reboot). A network that cannot be brought up is kept, so that it can
// still be removed, and refuses endpoints with the reason.
func (s *Service) loadNetworks() error {
	if err := os.MkdirAll(s.networksDir(), 0o700); err != nil {
		return fmt.Errorf("network: %w", err)
	}
	names, err := readDirNames(s.networksDir())
	if err != nil {
		return fmt.Errorf("network: %w", err)
	}
	for _, fn := range names {
		path := filepath.Join(s.networksDir(), fn)
		if strings.HasPrefix(fn, ".") {
			_ = os.Remove(path) // a temporary file from a crash
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("network: %w", err)
		}
		var r netRecord
		if err := json.Unmarshal(b, &r); err != nil || r.ID+".json" != fn || r.Name == "" {
			slog.Warn("ignoring damaged network record", "path", path, "err", err)
			continue
		}
		n, err := s.bringUp(&r, false)
		if err != nil {
			slog.Warn("network cannot be brought up", "network", r.Name, "err", err)
			n = &netw{rec: r, err: err, eps: map[string]*Endpoint{}}
		}
		s.nets[r.ID] = n
	}
	return nil
}

// loadEndpoints reads the records a previous run left: the sandboxes of
// the containers, and the addresses they hold (marked used, so that
// nothing is handed out twice before Restore). Pool entries without a
// record (a crash before the record was written) are freed. Records from
// before several networks (<container>.json) are renamed.
func (s *Service) loadEndpoints() error {
	dir := s.endpointsDir()
	names, err := readDirNames(dir)
	if err != nil {
		return fmt.Errorf("network: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, fn := range names {
		path := filepath.Join(dir, fn)
		if strings.HasPrefix(fn, ".") {
			_ = os.Remove(path) // a temporary file from a crash
			continue
		}
		if !strings.HasSuffix(fn, ".json") {
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("network: %w", err)
		}
		var ep Endpoint
		if err := json.Unmarshal(b, &ep); err != nil || !validID(ep.ContainerID) || !strings.HasPrefix(fn, ep.ContainerID+".") {
			slog.Warn("ignoring damaged endpoint record", "path", path, "err", err)
			continue
		}
		n := s.networkOfLocked(&ep)
		if n == nil {
			slog.Warn("endpoint record of a network that is gone", "path", path, "network", ep.NetworkID)
			_ = os.Remove(path)
			continue
		}
		ep.NetworkID, ep.Network = n.id(), n.name()
		if ep.Driver == "" {
			ep.Driver = n.driver()
		}
		if fn != filepath.Base(s.endpointPath(&ep)) {
			if err := os.Rename(path, s.endpointPath(&ep)); err != nil {
				return fmt.Errorf("network: %w", err)
			}
		}
		for _, a := range []netip.Addr{ep.IPAddress, ep.IPv6Address} {
			if !a.IsValid() {
				continue
			}
			if p := n.poolFor(a); p == nil || p.Reserve(a, ep.ContainerID) != nil {
				slog.Warn("endpoint address not free in its network", "container", ep.ContainerID, "network", n.name(), "address", a)
			}
		}
		sb := s.sandboxes[ep.ContainerID]
		if sb == nil {
			sb = &sandbox{id: ep.ContainerID, path: ep.NetNSPath}
			s.sandboxes[ep.ContainerID] = sb
		}
		e := ep
		sb.eps = append(sb.eps, &e)
		n.eps[ep.ContainerID] = &e
	}
	for _, sb := range s.sandboxes {
		sb.gw = s.chooseGatewayLocked(sb)
	}
	for _, n := range s.nets {
		for _, p := range append(append([]*ipam.Pool(nil), n.pools...), n.pool6) {
			if p == nil {
				continue
			}
			for a, owner := range p.Allocated() {
				if owner == auxOwner {
					continue
				}
				if _, ok := n.eps[owner]; !ok {
					p.Release(a)
				}
			}
		}
	}
	return nil
}

func readDirNames(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(ents))
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names, nil
}
