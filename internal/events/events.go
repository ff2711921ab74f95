// Package events is the daemon's event bus: services publish container,
// image, network and volume events; /events subscribers receive the recent
// past (for --since) and then live events.
package events

import (
	"sync"
	"time"

	"github.com/moby/moby/api/types/events"
)

// history is how many past events are kept for --since, as in Docker.
const history = 256

// Bus fans events out to subscribers. Publishing never blocks: a
// subscriber that cannot keep up is dropped, its channel closed.
type Bus struct {
	mu     sync.Mutex
	past   []events.Message
	subs   map[chan events.Message]struct{}
	nowFor func() time.Time
}

// New makes an empty bus.
func New() *Bus {
	return &Bus{subs: map[chan events.Message]struct{}{}, nowFor: time.Now}
}

// Publish records and delivers one event. Time fields are filled in.
func (b *Bus) Publish(typ events.Type, action events.Action, id string, attrs map[string]string) {
	now := b.nowFor()
	if attrs == nil {
		attrs = map[string]string{}
	}
	m := events.Message{
		Type:     typ,
		Action:   action,
		Actor:    events.Actor{ID: id, Attributes: attrs},
		Scope:    "local",
		Time:     now.Unix(),
		TimeNano: now.UnixNano(),
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.past) == history {
		copy(b.past, b.past[1:])
		b.past = b.past[:history-1]
	}
	b.past = append(b.past, m)
	for ch := range b.subs {
		select {
		case ch <- m:
		default:
			delete(b.subs, ch)
			close(ch)
		}
	}
}

// Subscribe returns the recorded events at or after since (zero: none)
// and a channel of the events that follow. Call the cancel function when
// done.
func (b *Bus) Subscribe(since time.Time) ([]events.Message, <-chan events.Message, func()) {
	ch := make(chan events.Message, 1024)
	b.mu.Lock()
	var past []events.Message
	if !since.IsZero() {
		for _, m := range b.past {
			if m.TimeNano >= since.UnixNano() {
				past = append(past, m)
			}
		}
	}
	b.subs[ch] = struct{}{}
	b.mu.Unlock()
	cancel := func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		if _, ok := b.subs[ch]; ok {
			delete(b.subs, ch)
			close(ch)
		}
	}
	return past, ch, cancel
}
