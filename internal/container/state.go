package container

import (
	"fmt"
	"time"

	units "github.com/docker/go-units"
	containertypes "github.com/moby/moby/api/types/container"
)

// State is a container's run state, with Docker's semantics: Running
// stays true while the container is paused or restarting, and Status is
// derived from the flags (see StateString).
type State struct {
	Status            containertypes.ContainerState
	Running           bool
	Paused            bool
	Restarting        bool
	OOMKilled         bool
	RemovalInProgress bool
	Dead              bool
	Pid               int
	ExitCode          int
	Error             string
	StartedAt         time.Time
	FinishedAt        time.Time
	// Health is the health check's state, for a container with one.
	Health *containertypes.Health `json:",omitempty"`
}

// StateString is the state's one-word status, as `docker ps --format
// {{.State}}` and the status filter see it.
func (s *State) StateString() containertypes.ContainerState {
	if s.Running {
		switch {
		case s.Paused:
			return containertypes.StatePaused
		case s.Restarting:
			return containertypes.StateRestarting
		}
		return containertypes.StateRunning
	}
	switch {
	case s.RemovalInProgress:
		return containertypes.StateRemoving
	case s.Dead:
		return containertypes.StateDead
	case s.StartedAt.IsZero():
		return containertypes.StateCreated
	}
	return containertypes.StateExited
}

// HumanString is the STATUS column of `docker ps`: "Up 3 seconds",
// "Exited (0) 2 minutes ago", "Created", "Up 2 minutes (Paused)",
// "Restarting (1) 5 seconds ago".
func (s *State) HumanString(now time.Time) string {
	if s.Running {
		switch {
		case s.Paused:
			return fmt.Sprintf("Up %s (Paused)", units.HumanDuration(now.Sub(s.StartedAt)))
		case s.Restarting:
			return fmt.Sprintf("Restarting (%d) %s ago", s.ExitCode, units.HumanDuration(now.Sub(s.FinishedAt)))
		}
		up := "Up " + units.HumanDuration(now.Sub(s.StartedAt))
		if s.Health != nil {
			return up + " (" + healthString(s.Health.Status) + ")"
		}
		return up
	}
	switch {
	case s.RemovalInProgress:
		return "Removal In Progress"
	case s.Dead:
		return "Dead"
	case s.StartedAt.IsZero():
		return "Created"
	case s.FinishedAt.IsZero():
		return ""
	}
	return fmt.Sprintf("Exited (%d) %s ago", s.ExitCode, units.HumanDuration(now.Sub(s.FinishedAt)))
}

// setRunning records a successful start.
func (s *State) setRunning(pid int, now time.Time) {
	s.Running = true
	s.Paused = false
	s.Restarting = false
	s.OOMKilled = false
	s.Error = ""
	s.ExitCode = 0
	s.Pid = pid
	s.StartedAt = now
}

// setStopped records an exit after which the container stays down.
func (s *State) setStopped(e Exit) {
	s.Running = false
	s.Paused = false
	s.Restarting = false
	s.Pid = 0
	s.ExitCode = e.Code
	s.OOMKilled = e.OOMKilled
	s.FinishedAt = e.ExitedAt
	if s.FinishedAt.IsZero() {
		s.FinishedAt = time.Now().UTC()
	}
}

// setRestarting records an exit after which the restart policy brings
// the container back; Docker keeps Running true in between.
func (s *State) setRestarting(e Exit) {
	s.setStopped(e)
	s.Running = true
	s.Restarting = true
}

// setStartFailed records why a start failed. The exit code says how
// (126 cannot invoke, 127 not found); unknown failures get 128.
func (s *State) setStartFailed(msg string, code int) {
	s.Error = msg
	if code == 0 {
		code = exitUnknown
	}
	s.ExitCode = code
}

// Exit codes Docker reports for a process that could not be started.
const (
	exitEaccess     = 126
	exitCmdNotFound = 127
	exitUnknown     = 128
)

// apiTime formats a state time as the Engine API does; the zero time is
// "0001-01-01T00:00:00Z".
func apiTime(t time.Time) string {
	return t.UTC().Format(time.RFC3339Nano)
}

// api converts to the wire type.
func (s *State) api() *containertypes.State {
	return &containertypes.State{
		Status:     s.StateString(),
		Running:    s.Running,
		Paused:     s.Paused,
		Restarting: s.Restarting,
		OOMKilled:  s.OOMKilled,
		Dead:       s.Dead,
		Pid:        s.Pid,
		ExitCode:   s.ExitCode,
		Error:      s.Error,
		StartedAt:  apiTime(s.StartedAt),
		FinishedAt: apiTime(s.FinishedAt),
		Health:     cloneHealth(s.Health),
	}
}

// healthString is a health status as `docker ps` shows it.
func healthString(st containertypes.HealthStatus) string {
	if st == containertypes.Starting {
		return "health: starting"
	}
	return string(st)
}

// healthStatus is the status the health filter matches: "none" without
// a health check.
func (s *State) healthStatus() containertypes.HealthStatus {
	if s.Health == nil {
		return containertypes.NoHealthcheck
	}
	return s.Health.Status
}

func cloneHealth(h *containertypes.Health) *containertypes.Health {
	if h == nil {
		return nil
	}
	c := *h
	c.Log = make([]*containertypes.HealthcheckResult, len(h.Log))
	for i, r := range h.Log {
		rc := *r
		c.Log[i] = &rc
	}
	return &c
}
