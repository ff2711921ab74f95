package network

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/berth-dev/berth/internal/atomicfile"
)

// syncRecords is false: the state files are replaced atomically but not
// synced. Everything they describe (veths, namespaces, rules) lives in
// the kernel and is gone after a power loss anyway, and a process crash
// loses nothing the page cache holds. That keeps disk syncs off the
// container start path.
const syncRecords = false

func (s *Service) statePath() string { return filepath.Join(s.cfg.Root, "network.json") }

func (s *Service) endpointPath(id string) string {
	return filepath.Join(s.cfg.Root, "endpoints", id+".json")
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
	b, err := json.Marshal(state{Bridge: s.br.Name, Address: s.br.Addr, Created: s.created, IPAM: s.pool})
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
	if err := atomicfile.WriteFile(s.endpointPath(ep.ContainerID), b, 0o600, syncRecords); err != nil {
		return fmt.Errorf("save endpoint: %w", err)
	}
	return nil
}

func (s *Service) removeEndpointRecord(id string) {
	if err := os.Remove(s.endpointPath(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		slog.Warn("remove endpoint record", "container", id, "err", err)
	}
}

// loadEndpoints reads the records a previous run left and marks their
// addresses used, so that nothing is handed out twice before Restore.
// Pool entries without a record (a crash before the record was written)
// are freed.
func (s *Service) loadEndpoints() error {
	dir := filepath.Join(s.cfg.Root, "endpoints")
	names, err := readDirNames(dir)
	if err != nil {
		return fmt.Errorf("network: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range names {
		if strings.HasPrefix(n, ".") {
			_ = os.Remove(filepath.Join(dir, n)) // a temporary file from a crash
			continue
		}
		id, ok := strings.CutSuffix(n, ".json")
		if !ok {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			return fmt.Errorf("network: %w", err)
		}
		var ep Endpoint
		if err := json.Unmarshal(b, &ep); err != nil || ep.ContainerID != id {
			slog.Warn("ignoring damaged endpoint record", "path", filepath.Join(dir, n), "err", err)
			continue
		}
		if ep.Mode == "bridge" && ep.IPAddress.IsValid() {
			if err := s.pool.Reserve(ep.IPAddress, ep.ContainerID); err != nil {
				slog.Warn("endpoint address not in the bridge's subnet", "container", id, "err", err)
			}
		}
		s.endpoints[id] = &ep
	}
	for a, owner := range s.pool.Allocated() {
		if _, ok := s.endpoints[owner]; !ok {
			s.pool.Release(a)
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
