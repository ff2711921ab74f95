package nat

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"golang.org/x/sys/unix"
)

// iptablesFilter is the table iptables-nft (and so a dockerd using it)
// keeps its filter rules in.
var iptablesFilter = &nftables.Table{Name: "filter", Family: nftables.TableFamilyIPv4}

// forwardChains are where an accept makes the FORWARD hook let berth's
// traffic through, in order of preference: DOCKER-USER is the chain Docker
// leaves to users and jumps to first; FORWARD is the base chain itself.
var forwardChains = []string{"DOCKER-USER", "FORWARD"}

// filterChains are the chains of the iptables filter table we may use. A
// dump, rather than a lookup by name, because the library does not keep
// the kernel's ENOENT recognisable when the table does not exist.
func filterChains(conn *nftables.Conn) (map[string]*nftables.Chain, error) {
	all, err := conn.ListChainsOfTableFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return nil, fmt.Errorf("list ip chains: %w", err)
	}
	out := map[string]*nftables.Chain{}
	for _, c := range all {
		if c.Table != nil && c.Table.Name == iptablesFilter.Name && slices.Contains(forwardChains, c.Name) {
			c.Table = iptablesFilter
			out[c.Name] = c
		}
	}
	return out, nil
}

// forwardComment marks the accept rules of a bridge.
func forwardComment(bridge string) string { return "berth " + bridge }

// EnsureForwardAccept makes sure an iptables FORWARD chain with a DROP
// policy (the reference dockerd's, or any iptables-nft firewall) lets the
// bridge's traffic through: it inserts `-i <bridge> -j ACCEPT` and
// `-o <bridge> -j ACCEPT` at the top of DOCKER-USER, or of FORWARD when
// there is no DOCKER-USER, unless they are there already. Rules of the
// bridge left in FORWARD from before DOCKER-USER existed are removed. It
// returns the chain used, or "" when there is no iptables filter table
// (nothing to do).
func (t *Table) EnsureForwardAccept() (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	chains, err := filterChains(t.conn)
	if err != nil {
		return "", err
	}
	target := ""
	changed := false
	for _, name := range forwardChains {
		ch := chains[name]
		if ch == nil {
			continue
		}
		ours, err := forwardAcceptRules(t.conn, name, ch, t.bridge)
		if err != nil {
			return "", err
		}
		if target != "" {
			// A chain after the one in use: ours there are leftovers.
			for _, r := range ours {
				if err := t.conn.DelRule(r); err != nil {
					return "", err
				}
				changed = true
			}
			continue
		}
		target = name
		var haveIn, haveOut bool
		for _, r := range ours {
			switch ruleIfKey(r) {
			case expr.MetaKeyIIFNAME:
				haveIn = true
			case expr.MetaKeyOIFNAME:
				haveOut = true
			}
		}
		if !haveOut {
			t.conn.InsertRule(iptablesAccept(ch, t.bridge, expr.MetaKeyOIFNAME))
			changed = true
		}
		if !haveIn {
			t.conn.InsertRule(iptablesAccept(ch, t.bridge, expr.MetaKeyIIFNAME))
			changed = true
		}
	}
	if changed {
		if err := t.conn.Flush(); err != nil {
			return "", fmt.Errorf("insert accept rules into ip filter %s: %w", target, err)
		}
	}
	return target, nil
}

// forwardAcceptRules lists the rules of the iptables filter chain ch
// (named name) that EnsureForwardAccept inserted for bridge: they carry
// its comment.
func forwardAcceptRules(conn *nftables.Conn, name string, ch *nftables.Chain, bridge string) ([]*nftables.Rule, error) {
	rules, err := conn.GetRules(iptablesFilter, ch)
	if err != nil {
		return nil, fmt.Errorf("list ip filter %s: %w", name, err)
	}
	var ours []*nftables.Rule
	for _, r := range rules {
		if c, ok := userdata.GetString(r.UserData, userdata.TypeComment); ok && c == forwardComment(bridge) {
			ours = append(ours, r)
		}
	}
	return ours, nil
}

// RemoveForwardAccept deletes the rules EnsureForwardAccept inserted, from
// every chain it may have used. Missing rules and chains are fine.
func (t *Table) RemoveForwardAccept() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return removeForwardAccept(t.conn, t.bridge)
}

func removeForwardAccept(conn *nftables.Conn, bridge string) error {
	chains, err := filterChains(conn)
	if err != nil {
		return err
	}
	n := 0
	for _, name := range forwardChains {
		ch := chains[name]
		if ch == nil {
			continue
		}
		ours, err := forwardAcceptRules(conn, name, ch, bridge)
		if err != nil {
			return err
		}
		for _, r := range ours {
			if err := conn.DelRule(r); err != nil {
				return err
			}
			n++
		}
	}
	if n == 0 {
		return nil
	}
	if err := conn.Flush(); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("remove accept rules from ip filter: %w", err)
	}
	return nil
}

// AcceptRuleBridges lists the bridges that accept rules in the iptables
// filter table are for (every daemon's), so that rules whose table is
// gone can be found.
func AcceptRuleBridges(opts ...Option) ([]string, error) {
	conn, err := dial(opts)
	if err != nil {
		return nil, err
	}
	chains, err := filterChains(conn)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, name := range forwardChains {
		ch := chains[name]
		if ch == nil {
			continue
		}
		rules, err := conn.GetRules(iptablesFilter, ch)
		if err != nil {
			return nil, fmt.Errorf("list ip filter %s: %w", name, err)
		}
		for _, r := range rules {
			c, _ := userdata.GetString(r.UserData, userdata.TypeComment)
			if br, ok := strings.CutPrefix(c, "berth "); ok && !slices.Contains(out, br) {
				out = append(out, br)
			}
		}
	}
	return out, nil
}

// iptablesAccept is `-[io] <bridge> -m comment --comment "berth <bridge>"
// -j ACCEPT` in the expressions iptables-nft itself generates (interface
// name compared with its NUL, no padding; counter before the verdict;
// comment in the rule's user data), so that iptables -S and dockerd parse
// the chain as before.
func iptablesAccept(ch *nftables.Chain, bridge string, key expr.MetaKey) *nftables.Rule {
	return &nftables.Rule{
		Table: iptablesFilter,
		Chain: ch,
		Exprs: []expr.Any{
			&expr.Meta{Key: key, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: append([]byte(bridge), 0)},
			&expr.Counter{},
			&expr.Verdict{Kind: expr.VerdictAccept},
		},
		UserData: userdata.AppendString(nil, userdata.TypeComment, forwardComment(bridge)),
	}
}

func ruleIfKey(r *nftables.Rule) expr.MetaKey {
	for _, e := range r.Exprs {
		if m, ok := e.(*expr.Meta); ok {
			return m.Key
		}
	}
	return 0
}

// WatchFilter calls changed whenever a chain or rule of the iptables
// filter table is added or removed, for instance when a dockerd starts
// after berth and creates DOCKER-USER, or flushes it. Events arrive from
// the kernel (no polling). It returns when stop is closed, or with an
// error if the kernel stopped sending events (the caller may start it
// again).
func WatchFilter(stop <-chan struct{}, changed func(), opts ...Option) error {
	conn, err := dial(opts)
	if err != nil {
		return err
	}
	mon := nftables.NewMonitor(nftables.WithMonitorEventBuffer(64))
	events, err := conn.AddMonitor(mon)
	if err != nil {
		return fmt.Errorf("nftables monitor: %w", err)
	}
	defer mon.Close()
	for {
		select {
		case <-stop:
			return nil
		case ev, ok := <-events:
			if !ok {
				return errors.New("nftables monitor closed")
			}
			if ev.Type == nftables.MonitorEventTypeOOB {
				return fmt.Errorf("nftables monitor: %w", ev.Error)
			}
			if touchesFilter(ev) {
				changed()
			}
		}
	}
}

func touchesFilter(ev *nftables.MonitorEvent) bool {
	var tab *nftables.Table
	switch ev.Type {
	case nftables.MonitorEventTypeNewChain, nftables.MonitorEventTypeDelChain:
		if c, ok := ev.Data.(*nftables.Chain); ok && c != nil {
			tab = c.Table
		}
	case nftables.MonitorEventTypeNewRule, nftables.MonitorEventTypeDelRule:
		if r, ok := ev.Data.(*nftables.Rule); ok && r != nil {
			tab = r.Table
		}
	case nftables.MonitorEventTypeNewTable, nftables.MonitorEventTypeDelTable:
		tab, _ = ev.Data.(*nftables.Table)
	default:
		return false
	}
	if tab == nil {
		// Could not parse (iptables' xt expressions, say): look anyway.
		return true
	}
	return tab.Name == iptablesFilter.Name && tab.Family == iptablesFilter.Family
}
