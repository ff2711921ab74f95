package events

import (
	"bytes"
	"testing"
	"time"

	apievents "github.com/moby/moby/api/types/events"
)

func TestPrettyPrint(t *testing.T) {
	ts := time.Date(2024, 1, 1, 0, 0, 0, 5, time.Local)
	for _, tc := range []struct {
		m    apievents.Message
		want string
	}{
		{apievents.Message{Type: "container", Action: "start", Actor: apievents.Actor{ID: "0123", Attributes: map[string]string{"name": "web", "image": "busybox"}}, TimeNano: ts.UnixNano()},
			ts.Format("2006-01-02T15:04:05.000000000Z07:00") + " container start 0123 (image=busybox, name=web)\n"},
		{apievents.Message{Type: "image", Action: "prune", Actor: apievents.Actor{Attributes: map[string]string{"reclaimed": "0"}}, Time: ts.Unix()},
			time.Unix(ts.Unix(), 0).Format("2006-01-02T15:04:05.000000000Z07:00") + " image prune  (reclaimed=0)\n"},
		{apievents.Message{Type: "network", Action: "create", Actor: apievents.Actor{ID: "n1"}},
			"network create n1\n"},
	} {
		var b bytes.Buffer
		if err := PrettyPrint(&b, FromAPI(tc.m)); err != nil {
			t.Fatal(err)
		}
		if b.String() != tc.want {
			t.Errorf("got  %q\nwant %q", b.String(), tc.want)
		}
	}
}

func TestLegacyFields(t *testing.T) {
	actor := apievents.Actor{ID: "abc", Attributes: map[string]string{"image": "busybox"}}
	c := FromAPI(apievents.Message{Type: apievents.ContainerEventType, Action: "die", Actor: actor})
	if c.Status != "die" || c.ID != "abc" || c.From != "busybox" {
		t.Errorf("container: %+v", c)
	}
	i := FromAPI(apievents.Message{Type: apievents.ImageEventType, Action: "tag", Actor: actor})
	if i.Status != "tag" || i.ID != "abc" || i.From != "" {
		t.Errorf("image: %+v", i)
	}
	n := FromAPI(apievents.Message{Type: apievents.NetworkEventType, Action: "create", Actor: actor})
	if n.Status != "" || n.ID != "" || n.From != "" {
		t.Errorf("network: %+v", n)
	}
}
