package nat

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
)

// Owner identifies the daemon that programs a table, so that another
// daemon (or the same one after a crash) can tell a table it may remove
// from one it must leave alone. Setup writes it into the table each time
// it programs it: the comment of the one rule of the "owner" chain, a
// chain no rule jumps to (`nft list table ip berth-<bridge>` shows it).
type Owner struct {
	// Root is the owning network service's state directory (the data
	// root's "network"), the same across restarts of its daemon.
	Root string
	PID  int
	// Start is the process's start time (clock ticks after boot, from
	// /proc/<pid>/stat): a pid reused by another process has another one.
	Start uint64
}

// Self is this process as the owner of tables for the state directory
// root.
func Self(root string) Owner {
	pid := os.Getpid()
	start, _ := procStart(pid)
	return Owner{Root: root, PID: pid, Start: start}
}

// Marked reports whether the table carried an owner (tables written by
// berth before the mark existed do not).
func (o Owner) Marked() bool { return o.PID > 0 }

// Alive reports whether the owning process still runs.
func (o Owner) Alive() bool {
	if o.PID <= 0 {
		return false
	}
	start, err := procStart(o.PID)
	return err == nil && start == o.Start
}

func (o Owner) String() string {
	return fmt.Sprintf("pid %d, state in %s", o.PID, o.Root)
}

// ownerComment is the mark as the rule's comment. The kernel keeps at most
// 256 bytes of user data: a root too long to fit is left out, and such a
// table is then never taken for its daemon's own (only for a dead
// daemon's).
func (o Owner) comment() string {
	s := fmt.Sprintf("berth pid=%d start=%d", o.PID, o.Start)
	if r := " root=" + o.Root; len(s)+len(r) <= 250 {
		s += r
	}
	return s
}

func parseOwner(s string) (Owner, bool) {
	rest, ok := strings.CutPrefix(s, "berth ")
	if !ok {
		return Owner{}, false
	}
	var o Owner
	head, root, _ := strings.Cut(rest, " root=")
	if _, err := fmt.Sscanf(head, "pid=%d start=%d", &o.PID, &o.Start); err != nil || o.PID <= 0 {
		return Owner{}, false
	}
	o.Root = root
	return o, true
}

// procStart reads field 22 of /proc/<pid>/stat, the start time.
func procStart(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// "pid (comm) state ppid ...": comm may hold spaces and parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	return strconv.ParseUint(f[19], 10, 64)
}

const ownerChain = "owner"

// addOwner (re)writes the owner chain in the batch on c.
func addOwner(c *nftables.Conn, t *nftables.Table, o Owner) {
	ch := c.AddChain(&nftables.Chain{Name: ownerChain, Table: t})
	c.FlushChain(ch)
	c.AddRule(&nftables.Rule{Table: t, Chain: ch,
		Exprs:    []expr.Any{&expr.Verdict{Kind: expr.VerdictReturn}},
		UserData: userdata.AppendString(nil, userdata.TypeComment, o.comment())})
}

// TableInfo is one of berth's tables found in the kernel.
type TableInfo struct {
	Bridge string
	Owner  Owner // not Marked for tables written before the mark
}

// Tables lists berth's tables (every daemon's) with their owners.
func Tables(opts ...Option) ([]TableInfo, error) {
	conn, err := dial(opts)
	if err != nil {
		return nil, err
	}
	tables, err := conn.ListTablesOfFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return nil, fmt.Errorf("list nftables tables: %w", err)
	}
	chains, err := conn.ListChainsOfTableFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return nil, fmt.Errorf("list nftables chains: %w", err)
	}
	out := []TableInfo{}
	for _, tab := range tables {
		br, ok := strings.CutPrefix(tab.Name, "berth-")
		if !ok {
			continue
		}
		info := TableInfo{Bridge: br}
		for _, ch := range chains {
			if ch.Name != ownerChain || ch.Table == nil || ch.Table.Name != tab.Name {
				continue
			}
			rules, err := conn.GetRules(tab, ch)
			if err != nil {
				// Removed meanwhile, most likely; no owner to read.
				break
			}
			for _, r := range rules {
				if c, ok := userdata.GetString(r.UserData, userdata.TypeComment); ok {
					if o, ok := parseOwner(c); ok {
						info.Owner = o
					}
				}
			}
		}
		out = append(out, info)
	}
	return out, nil
}

// dial opens a (non-lasting) connection in the namespace the options name.
func dial(opts []Option) (*nftables.Conn, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	var connOpts []nftables.ConnOption
	if o.netnsFD != 0 {
		connOpts = append(connOpts, nftables.WithNetNSFd(o.netnsFD))
	}
	conn, err := nftables.New(connOpts...)
	if err != nil {
		return nil, fmt.Errorf("nftables: %w", err)
	}
	return conn, nil
}
