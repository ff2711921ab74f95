package network

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"

	"github.com/containerd/errdefs"

	"github.com/berth-dev/berth/internal/network/nat"
)

// Tables outlive their daemon on purpose (containers keep running across
// a daemon restart), so a daemon that crashed and never came back, or
// whose networks were removed while it was down, leaves tables behind.
// One whose bridge is gone still masquerades its subnet on every other
// interface and DNATs its published ports: another network given the same
// subnet, or a container publishing the same port, would be caught by it.
// Each table carries its owner (nat.Owner), which tells what may go.

// removeStaleTables removes the tables (and their iptables accept rules)
// that no daemon can use any more:
//   - this service's own (its state directory) for bridges none of its
//     networks has: networks removed while it was down, or left by a
//     crash halfway through;
//   - a dead daemon's whose bridge is gone, or whose state directory is:
//     a restart of that daemon would make them again, or cannot happen;
//   - unmarked ones (from berth before the mark) whose bridge is gone;
//
// and accept rules whose table is gone. Another live daemon's are never
// touched. With --iptables=false none of this service's own tables is
// wanted. Errors are logged: stale state is no reason not to start.
func (s *Service) removeStaleTables() {
	tables, err := nat.Tables()
	if err != nil {
		if s.iptables() {
			slog.Warn("cannot look for stale nftables tables", "err", err)
		}
		return
	}
	var mine []string
	if s.iptables() {
		mine = s.bridgeNames()
	}
	var left []string
	for _, t := range tables {
		if stale, why := s.staleTable(t, mine); stale {
			if err := nat.DestroyTable(t.Bridge); err != nil {
				slog.Warn("cannot remove a stale nftables table", "table", nat.TableName(t.Bridge), "err", err)
				left = append(left, t.Bridge)
				continue
			}
			slog.Info("removed a stale nftables table", "table", nat.TableName(t.Bridge), "reason", why)
			continue
		}
		left = append(left, t.Bridge)
	}
	rules, err := nat.AcceptRuleBridges()
	if err != nil {
		slog.Warn("cannot look for stale iptables accept rules", "err", err)
		return
	}
	for _, br := range rules {
		// A live daemon makes its table before its accept rules and
		// removes them before the table: rules without one are stale.
		if slices.Contains(left, br) {
			continue
		}
		if err := nat.DestroyTable(br); err != nil {
			slog.Warn("cannot remove stale iptables accept rules", "bridge", br, "err", err)
			continue
		}
		slog.Info("removed stale iptables accept rules", "bridge", br)
	}
}

// staleTable decides about one table; why says what made it stale.
func (s *Service) staleTable(t nat.TableInfo, mine []string) (stale bool, why string) {
	if slices.Contains(mine, t.Bridge) {
		return false, ""
	}
	if t.Owner.Marked() && t.Owner.Root == s.cfg.Root {
		return true, "none of this daemon's networks has the bridge"
	}
	if t.Owner.Alive() {
		return false, ""
	}
	if !s.nl.LinkExists(t.Bridge) {
		return true, "its bridge is gone and its daemon is not running"
	}
	if t.Owner.Marked() && t.Owner.Root != "" {
		if _, err := os.Stat(t.Owner.Root); errors.Is(err, os.ErrNotExist) {
			return true, "its daemon is not running and its state directory is gone"
		}
	}
	return false, ""
}

// bridgeNames are the Linux bridges of this service's networks, also of
// those that could not be brought up.
func (s *Service) bridgeNames() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, n := range s.nets {
		if n.rec.Driver == "bridge" && n.rec.Bridge != "" {
			out = append(out, n.rec.Bridge)
		}
	}
	return out
}

// checkTableOwner refuses a bridge whose table another live daemon
// programs: setting it up here would rewrite that daemon's rules.
func (s *Service) checkTableOwner(bridge string) error {
	if !s.iptables() {
		return nil
	}
	tables := s.startTables
	if tables == nil {
		var err error
		if tables, err = nat.Tables(); err != nil {
			return err
		}
	}
	for _, t := range tables {
		if t.Bridge == bridge && t.Owner.Marked() && t.Owner.Root != s.cfg.Root && t.Owner.Alive() {
			return errdefs.ErrConflict.WithMessage(fmt.Sprintf(
				"bridge %s is in use by another berth daemon (%s)", bridge, t.Owner))
		}
	}
	return nil
}
