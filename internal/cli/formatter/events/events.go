package events

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	apievents "github.com/moby/moby/api/types/events"
)

// Message is docker 28's events.Message.
type Message struct {
	Status string `json:"status,omitempty"`
	ID     string `json:"id,omitempty"`
	From   string `json:"from,omitempty"`

	Type   apievents.Type
	Action apievents.Action
	Actor  apievents.Actor
	Scope  string `json:"scope,omitempty"`

	Time     int64 `json:"time,omitempty"`
	TimeNano int64 `json:"timeNano,omitempty"`
}

// FromAPI fills in the deprecated fields the way daemons do for API 1.51
// and older: for container and image events.
func FromAPI(m apievents.Message) Message {
	ev := Message{Type: m.Type, Action: m.Action, Actor: m.Actor, Scope: m.Scope, Time: m.Time, TimeNano: m.TimeNano}
	switch m.Type {
	case apievents.ContainerEventType:
		ev.ID, ev.Status, ev.From = m.Actor.ID, string(m.Action), m.Actor.Attributes["image"]
	case apievents.ImageEventType:
		ev.ID, ev.Status = m.Actor.ID, string(m.Action)
	}
	return ev
}

const rfc3339NanoFixed = "2006-01-02T15:04:05.000000000Z07:00"

// PrettyPrint writes docker's default event line:
// "2024-01-01T00:00:00.000000000Z container start <id> (image=busybox, name=web)".
func PrettyPrint(out io.Writer, ev Message) error {
	var b strings.Builder
	if ev.TimeNano != 0 {
		fmt.Fprintf(&b, "%s ", time.Unix(0, ev.TimeNano).Format(rfc3339NanoFixed))
	} else if ev.Time != 0 {
		fmt.Fprintf(&b, "%s ", time.Unix(ev.Time, 0).Format(rfc3339NanoFixed))
	}
	fmt.Fprintf(&b, "%s %s %s", ev.Type, ev.Action, ev.Actor.ID)
	if len(ev.Actor.Attributes) > 0 {
		keys := make([]string, 0, len(ev.Actor.Attributes))
		for k := range ev.Actor.Attributes {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		attrs := make([]string, 0, len(keys))
		for _, k := range keys {
			attrs = append(attrs, k+"="+ev.Actor.Attributes[k])
		}
		fmt.Fprintf(&b, " (%s)", strings.Join(attrs, ", "))
	}
	b.WriteByte('\n')
	_, err := io.WriteString(out, b.String())
	return err
}
