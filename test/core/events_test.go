package core

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/test/internal/e2e"
)

// TestEventsHistory reads past events with --since/--until and filters.
func TestEventsHistory(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		name := e.Name(t)
		since := time.Now().Add(-time.Second)
		c.Run(t, "run", "--rm", "--name", name, "busybox", "sh", "-c", "exit 2").Assert(t, 2)
		until := time.Now().Add(time.Second)

		r := c.RunWith(t, e2e.RunOpts{Timeout: 30 * time.Second}, "events",
			"--since", e2e.UnixArg(since), "--until", e2e.UnixArg(until),
			"--filter", "container="+name, "--filter", "type=container",
			"--format", "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}").OK(t)
		assertOrder(t, r.Lines(), []string{
			"container create " + name,
			"container start " + name,
			"container die " + name,
			"container destroy " + name,
		})
		for _, l := range r.Lines() {
			if !strings.Contains(l, " "+name) {
				t.Errorf("filtered events include another container: %q", l)
			}
		}

		r = c.RunWith(t, e2e.RunOpts{Timeout: 30 * time.Second}, "events",
			"--since", e2e.UnixArg(since), "--until", e2e.UnixArg(until),
			"--filter", "container="+name, "--filter", "event=die", "--format", "{{.Action}} {{.Actor.Attributes.exitCode}}").OK(t)
		if got := r.Lines(); len(got) != 1 || got[0] != "die 2" {
			t.Errorf("event=die filter: %q", got)
		}

		// --until in the past ends at once, before anything of ours.
		r = c.RunWith(t, e2e.RunOpts{Timeout: 30 * time.Second}, "events",
			"--since", e2e.UnixArg(since.Add(-time.Hour)), "--until", e2e.UnixArg(since),
			"--filter", "container="+name).OK(t)
		if r.Out() != "" {
			t.Errorf("events before the container existed: %q", r.Stdout)
		}

		// JSON, as scripts read it.
		r = c.RunWith(t, e2e.RunOpts{Timeout: 30 * time.Second}, "events",
			"--since", e2e.UnixArg(since), "--until", e2e.UnixArg(until),
			"--filter", "container="+name, "--filter", "event=start", "--format", "{{json .}}").OK(t)
		for _, k := range []string{`"Type":"container"`, `"Action":"start"`, `"time":`, `"timeNano":`, `"name":"` + name + `"`, `"image":"busybox"`} {
			if !strings.Contains(r.Stdout, k) {
				t.Errorf("events json lacks %s: %s", k, r.Stdout)
			}
		}
	})
}

// TestEventsLive follows events while a container goes through its life.
func TestEventsLive(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		name := e.Name(t)
		nu := e.Name(t, "renamed")
		// --since replays what happened before the stream was open, so the
		// create below is seen even if it wins the race with the subscription.
		since := strconv.FormatInt(time.Now().Add(-time.Second).Unix(), 10)
		ev := c.Start(t, "events", "--since", since, "--filter", "container="+name, "--filter", "container="+nu,
			"--filter", "type=container", "--format", "{{.Action}} {{.Actor.Attributes.name}}")
		c.Run(t, "create", "--name", name, "busybox", "sleep", "1000").OK(t)
		ev.Stdout.Expect(t, "create "+name+"\n", 20*time.Second)
		c.Run(t, "start", name).OK(t)
		ev.Stdout.Expect(t, "start "+name+"\n", 20*time.Second)
		c.Run(t, "pause", name).OK(t)
		ev.Stdout.Expect(t, "pause "+name+"\n", 20*time.Second)
		c.Run(t, "unpause", name).OK(t)
		ev.Stdout.Expect(t, "unpause "+name+"\n", 20*time.Second)
		c.Run(t, "exec", name, "true").OK(t)
		ev.Stdout.Expect(t, `exec_create: true\s+`+name+"\n", 20*time.Second)
		ev.Stdout.Expect(t, `exec_start: true\s+`+name+"\n", 20*time.Second)
		ev.Stdout.Expect(t, "exec_die "+name+"\n", 20*time.Second)
		c.Run(t, "rename", name, nu).OK(t)
		ev.Stdout.Expect(t, "rename "+nu+"\n", 20*time.Second)
		c.Run(t, "restart", "-t", "0", nu).OK(t)
		for _, action := range []string{"kill", "die", "stop", "start", "restart"} {
			ev.Stdout.Expect(t, action+" "+nu+"\n", 20*time.Second)
		}
		c.Run(t, "kill", "-s", "KILL", nu).OK(t)
		ev.Stdout.Expect(t, "kill "+nu+"\n", 20*time.Second)
		ev.Stdout.Expect(t, "die "+nu+"\n", 20*time.Second)
		c.Run(t, "rm", nu).OK(t)
		ev.Stdout.Expect(t, "destroy "+nu+"\n", 20*time.Second)
		ev.Kill()
	})
}

func TestEventsStop(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	name := e.Name(t)
	c := e.Docker()
	since := time.Now().Add(-time.Second)
	c.Run(t, "run", "-d", "--name", name, "busybox", "sleep", "1000").OK(t)
	e.WaitRunning(t, name)
	c.Run(t, "stop", "-t", "1", name).OK(t)
	got := e.Events(t, name, since, time.Now().Add(time.Second))
	var actions []string
	for _, m := range got {
		actions = append(actions, string(m.Action))
	}
	// docker stop: SIGTERM kill, then SIGKILL kill, die, stop.
	assertOrder(t, actions, []string{"create", "start", "kill", "kill", "die", "stop"})
	for _, m := range got {
		if m.Action == "kill" && m.Actor.Attributes["signal"] == "" {
			t.Errorf("kill event without signal attribute: %+v", m)
		}
		if m.Actor.ID == "" || m.TimeNano == 0 {
			t.Errorf("event without actor ID or time: %+v", m)
		}
	}
}

// assertOrder checks want appears in got as a subsequence.
func assertOrder(t *testing.T, got, want []string) {
	t.Helper()
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	if i < len(want) {
		t.Fatalf("events: want %q in this order, got:\n  %s", want, strings.Join(got, "\n  "))
	}
}
