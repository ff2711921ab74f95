package events

import (
	"testing"
	"time"

	"github.com/moby/moby/api/types/events"
)

func TestSubscribeGetsPastAndLive(t *testing.T) {
	b := New()
	b.Publish(events.ContainerEventType, events.ActionCreate, "a", nil)
	past, ch, cancel := b.Subscribe(time.Now().Add(-time.Minute))
	defer cancel()
	if len(past) != 1 || past[0].Actor.ID != "a" {
		t.Fatalf("past = %+v", past)
	}
	b.Publish(events.ContainerEventType, events.ActionStart, "a", map[string]string{"name": "x"})
	select {
	case m := <-ch:
		if m.Action != events.ActionStart || m.Actor.Attributes["name"] != "x" || m.TimeNano == 0 {
			t.Fatalf("live = %+v", m)
		}
	case <-time.After(time.Second):
		t.Fatal("no live event")
	}
}

func TestHistoryIsBounded(t *testing.T) {
	b := New()
	for i := 0; i < history+10; i++ {
		b.Publish(events.ImageEventType, events.ActionTag, "i", nil)
	}
	past, _, cancel := b.Subscribe(time.Unix(1, 0))
	cancel()
	if len(past) != history {
		t.Fatalf("kept %d events", len(past))
	}
}
