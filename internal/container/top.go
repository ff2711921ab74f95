package container

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"
	containertypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
)

// psArgsPID catches "-o x=PID" style renames of the PID column, which
// would break finding it, as Docker refuses them.
var psArgsPID = regexp.MustCompile(`\s+([^\s]*)=\s*(PID[^\s]*)`)

// Top runs ps on the host (default -ef) and keeps the rows of the
// container's processes, as Docker does.
func (s *Service) Top(ctx context.Context, ref, psArgs string) (*containertypes.TopResponse, error) {
	if psArgs == "" {
		psArgs = "-ef"
	}
	for _, g := range psArgsPID.FindAllStringSubmatch(psArgs, -1) {
		if g[1] != "pid" {
			return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf(`specifying "%s=%s" is not allowed`, g[1], g[2]))
		}
	}
	c, err := s.idx.get(ref)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	sh, running, restarting := c.shim, c.State.Running, c.State.Restarting
	c.mu.Unlock()
	switch {
	case restarting:
		return nil, errRestarting(c.ID)
	case !running || sh == nil:
		return nil, errNotRunning(c.ID)
	}
	pids, err := sh.Pids(ctx)
	if err != nil {
		return nil, fmt.Errorf("list container processes: %w", err)
	}
	args := strings.Fields(psArgs)
	q := make([]string, len(pids))
	for i, p := range pids {
		q[i] = strconv.Itoa(p)
	}
	out, err := exec.CommandContext(ctx, "ps", append(args, "-q", strings.Join(q, ","))...).Output()
	if err != nil {
		// Some ps options (f) do not combine with -q.
		out, err = exec.CommandContext(ctx, "ps", args...).Output()
		if err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				if line, _, _ := bytes.Cut(ee.Stderr, []byte{'\n'}); len(line) > 0 {
					err = errors.New(string(line))
				}
			}
			return nil, fmt.Errorf("ps: %w", err)
		}
	}
	resp, err := parsePS(out, pids)
	if err != nil {
		return nil, err
	}
	s.publish(c, events.ActionTop, nil)
	return resp, nil
}

// parsePS keeps the rows of ps output whose PID is one of pids; thread
// rows ("-" PID, with -m) follow their process.
func parsePS(out []byte, pids []int) (*containertypes.TopResponse, error) {
	want := make(map[int]bool, len(pids))
	for _, p := range pids {
		want[p] = true
	}
	lines := strings.Split(string(out), "\n")
	resp := &containertypes.TopResponse{Titles: fieldsASCII(lines[0]), Processes: [][]string{}}
	pidCol := -1
	for i, t := range resp.Titles {
		if t == "PID" {
			pidCol = i
			break
		}
	}
	if pidCol < 0 {
		return nil, errors.New("Couldn't find PID field in ps output")
	}
	add := func(fields []string) {
		n := len(resp.Titles)
		if len(fields) < n {
			resp.Processes = append(resp.Processes, fields)
			return
		}
		row := append(fields[:n-1:n-1], strings.Join(fields[n-1:], " "))
		resp.Processes = append(resp.Processes, row)
	}
	inProc := false
	for _, line := range lines[1:] {
		fields := fieldsASCII(line)
		if len(fields) <= pidCol {
			continue
		}
		if fields[pidCol] == "-" {
			if inProc {
				add(fields)
			}
			continue
		}
		p, err := strconv.Atoi(fields[pidCol])
		if err != nil {
			return nil, fmt.Errorf("Unexpected pid '%s': %s", fields[pidCol], err)
		}
		inProc = want[p]
		if inProc {
			add(fields)
		}
	}
	return resp, nil
}

// fieldsASCII splits on ASCII whitespace only (ps output may hold other
// Unicode spaces inside commands).
func fieldsASCII(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool {
		switch r {
		case '\t', '\n', '\f', '\r', ' ':
			return true
		}
		return false
	})
}
