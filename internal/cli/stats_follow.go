package cli

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/berth-dev/berth/internal/cli/formatter"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// statsTimeout is how long a container may send no sample before its row
// shows "--".
const statsTimeout = 2 * time.Second

// containerUsage is one row of "stats": the latest sample of a container,
// or the error that stopped it.
type containerUsage struct {
	key  string // the name or ID the user gave, or the short ID
	stop func() // ends the follower when the row goes

	mu    sync.Mutex
	entry formatter.StatsEntry
	err   error
}

func (u *containerUsage) set(e formatter.StatsEntry) {
	u.mu.Lock()
	defer u.mu.Unlock()
	e.Container = u.key
	u.entry, u.err = e, nil
}

// fail keeps the row, its numbers shown as "--".
func (u *containerUsage) fail(err error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.entry.IsInvalid, u.err = true, err
}

func (u *containerUsage) get() (formatter.StatsEntry, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.entry, u.err
}

// follow reads the container's samples, one or (stream) one a second,
// until the stream ends or ctx is done. first is called once, when the
// first sample came, failed or was too long in coming.
func (u *containerUsage) follow(ctx context.Context, cl *client.Client, stream bool, first func()) {
	var once sync.Once
	firstDone := func() { once.Do(first) }
	defer firstDone()

	res, err := cl.ContainerStats(ctx, u.key, client.ContainerStatsOptions{
		Stream: stream,
		// A single sample carries the one before it, for the CPU delta.
		IncludePreviousSample: !stream,
	})
	if err != nil {
		u.fail(err)
		return
	}
	// The decoder reports each sample (nil) or its end (an error); the
	// buffer lets it finish when nobody waits any more.
	samples := make(chan error, 1)
	go func() {
		defer res.Body.Close()
		dec := json.NewDecoder(res.Body)
		for {
			var v container.StatsResponse
			err := dec.Decode(&v)
			if err == nil {
				u.set(usageEntry(v))
			}
			select {
			case samples <- err:
			case <-ctx.Done():
				return
			}
			if err != nil || !stream {
				return
			}
		}
	}()
	for {
		select {
		case <-time.After(statsTimeout):
			u.fail(errors.New("timeout waiting for stats"))
		case err := <-samples:
			if err != nil {
				u.fail(err)
				return
			}
		case <-ctx.Done():
			u.fail(ctx.Err())
			return
		}
		firstDone()
		if !stream {
			return
		}
	}
}

// usageList is the table's rows, in the order containers were added.
type usageList struct {
	mu   sync.Mutex
	rows []*containerUsage
}

// add makes a row for key, which stop ends; nil if there is one already.
func (l *usageList) add(key string, stop func()) *containerUsage {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, u := range l.rows {
		if u.key == key {
			return nil
		}
	}
	u := &containerUsage{key: key, stop: stop, entry: formatter.StatsEntry{Container: key}}
	l.rows = append(l.rows, u)
	return u
}

// remove drops key's row and ends its follower.
func (l *usageList) remove(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, u := range l.rows {
		if u.key == key {
			u.stop()
			l.rows = append(l.rows[:i], l.rows[i+1:]...)
			return
		}
	}
}

func (l *usageList) entries() []formatter.StatsEntry {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]formatter.StatsEntry, 0, len(l.rows))
	for _, u := range l.rows {
		e, _ := u.get()
		out = append(out, e)
	}
	return out
}

// errors joins the rows' errors, one a line.
func (l *usageList) errors() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var errs []error
	for _, u := range l.rows {
		if _, err := u.get(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
