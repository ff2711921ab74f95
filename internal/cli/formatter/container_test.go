package formatter

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
)

func containerRows(id, name, image, state string) []container.Summary {
	return []container.Summary{{
		ID:      id,
		Names:   []string{name},
		Image:   image,
		ImageID: "sha256:11732dffc2391b9f49a9463552ffef842f235818e85d82e7db9e83e3440a851d",
		State:   container.ContainerState(state),
	}}
}

func TestDisplayablePorts(t *testing.T) {
	ip := netip.MustParseAddr
	for _, tc := range []struct {
		ports []container.PortSummary
		want  string
	}{
		{[]container.PortSummary{{PrivatePort: 9988, Type: "tcp"}}, "9988/tcp"},
		{[]container.PortSummary{{PrivatePort: 9988, PublicPort: 8899, Type: "tcp"}}, "9988/tcp"},
		{[]container.PortSummary{{IP: ip("0.0.0.0"), PrivatePort: 9988, Type: "tcp"}}, "0.0.0.0:0->9988/tcp"},
		{[]container.PortSummary{{IP: ip("::"), PrivatePort: 9988, Type: "tcp"}}, "[::]:0->9988/tcp"},
		{[]container.PortSummary{{IP: ip("4.3.2.1"), PrivatePort: 9988, PublicPort: 8899, Type: "tcp"}}, "4.3.2.1:8899->9988/tcp"},
		{[]container.PortSummary{{IP: ip("::1"), PrivatePort: 9988, PublicPort: 9988, Type: "tcp"}}, "[::1]:9988->9988/tcp"},
		{[]container.PortSummary{{PrivatePort: 9988, Type: "udp"}, {PrivatePort: 9988, Type: "udp"}}, "9988/udp, 9988/udp"},
		{[]container.PortSummary{
			{IP: ip("1.2.3.4"), PublicPort: 9998, PrivatePort: 9998, Type: "udp"},
			{IP: ip("1.2.3.4"), PublicPort: 9999, PrivatePort: 9999, Type: "udp"},
		}, "1.2.3.4:9998-9999->9998-9999/udp"},
		{[]container.PortSummary{
			{IP: ip("1.2.3.4"), PublicPort: 8887, PrivatePort: 9998, Type: "udp"},
			{IP: ip("1.2.3.4"), PublicPort: 8888, PrivatePort: 9999, Type: "udp"},
		}, "1.2.3.4:8887->9998/udp, 1.2.3.4:8888->9999/udp"},
		{[]container.PortSummary{
			{PrivatePort: 6677, Type: "tcp"}, {PrivatePort: 9998, Type: "udp"}, {PrivatePort: 9999, Type: "udp"},
			{PrivatePort: 4000, Type: "udp"}, {PrivatePort: 3999, Type: "udp"}, {PrivatePort: 4001, Type: "tcp"},
		}, "4001/tcp, 3999-4000/udp, 9998-9999/udp, 6677/tcp"},
		// The container seen by docker 28.2.2 as
		// -p 8080:80 -p 127.0.0.1:9000-9002:9000-9002 -p 5353:53/udp --expose 7000-7003
		{[]container.PortSummary{
			{IP: ip("0.0.0.0"), PrivatePort: 80, PublicPort: 8080, Type: "tcp"},
			{IP: ip("::"), PrivatePort: 80, PublicPort: 8080, Type: "tcp"},
			{IP: ip("0.0.0.0"), PrivatePort: 53, PublicPort: 5353, Type: "udp"},
			{IP: ip("::"), PrivatePort: 53, PublicPort: 5353, Type: "udp"},
			{IP: ip("127.0.0.1"), PrivatePort: 9000, PublicPort: 9000, Type: "tcp"},
			{IP: ip("127.0.0.1"), PrivatePort: 9001, PublicPort: 9001, Type: "tcp"},
			{IP: ip("127.0.0.1"), PrivatePort: 9002, PublicPort: 9002, Type: "tcp"},
			{PrivatePort: 7000, Type: "tcp"}, {PrivatePort: 7001, Type: "tcp"},
			{PrivatePort: 7002, Type: "tcp"}, {PrivatePort: 7003, Type: "tcp"},
		}, "7000-7003/tcp, 127.0.0.1:9000-9002->9000-9002/tcp, 0.0.0.0:5353->53/udp, [::]:5353->53/udp, 0.0.0.0:8080->80/tcp, [::]:8080->80/tcp"},
		{nil, ""},
	} {
		if got := DisplayablePorts(tc.ports); got != tc.want {
			t.Errorf("DisplayablePorts(%v)\n got %q\nwant %q", tc.ports, got, tc.want)
		}
	}
}

func TestContainerFields(t *testing.T) {
	created := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	s := container.Summary{
		ID:         "8d433b4d2823e807c31860c591a8106bf5ac6566129640b6e00292eb63f32479",
		Names:      []string{"/web", "/other/alias"},
		Image:      "busybox",
		ImageID:    "sha256:11732dffc2391b9f49a9463552ffef842f235818e85d82e7db9e83e3440a851d",
		Command:    "sh -c 'echo out; echo err >&2; exit 3'",
		Created:    created.Unix(),
		Labels:     map[string]string{"c": "d", "a": "b"},
		SizeRw:     12,
		SizeRootFs: 1984241,
		Mounts:     []container.MountPoint{{Name: "0123456789abcdef0123", Driver: "local"}, {Source: "/host/path"}},
	}
	c := &ContainerContext{trunc: true, c: s, now: created.Add(2 * time.Minute)}
	for name, tc := range map[string]struct{ got, want string }{
		"ID":           {c.ID(), "8d433b4d2823"},
		"Names":        {c.Names(), "web"},
		"Command":      {c.Command(), `"sh -c 'echo out; ec…"`},
		"RunningFor":   {c.RunningFor(), "2 minutes ago"},
		"Size":         {c.Size(), "12B (virtual 1.98MB)"},
		"Labels":       {c.Labels(), "a=b,c=d"},
		"Label":        {c.Label("c"), "d"},
		"Mounts":       {c.Mounts(), "0123456789abcd…,/host/path"},
		"LocalVolumes": {c.LocalVolumes(), "1"},
		"Image":        {c.Image(), "busybox"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %q, want %q", name, tc.got, tc.want)
		}
	}
	full := &ContainerContext{trunc: false, c: s}
	if got := full.Names(); got != "web,other/alias" {
		t.Errorf("untruncated Names = %q", got)
	}
	if got := full.Command(); got != `"sh -c 'echo out; echo err >&2; exit 3'"` {
		t.Errorf("untruncated Command = %q", got)
	}
	s.SizeRootFs = 0
	if got := (&ContainerContext{c: s}).Size(); got != "12B" {
		t.Errorf("Size without rootfs = %q", got)
	}
}

func TestContainerImage(t *testing.T) {
	id := "sha256:11732dffc2391b9f49a9463552ffef842f235818e85d82e7db9e83e3440a851d"
	other := "4997720c1d8db437de926c39ec9e25b291886dad7197e2437b5334d092b190e9"
	for image, want := range map[string]string{
		"":                               "<no image>",
		"busybox":                        "busybox",
		"busybox:latest":                 "busybox:latest",
		"docker.io/library/busybox:1.36": "busybox:1.36",
		"localhost:5000/foo/bar:x":       "localhost:5000/foo/bar:x",
		id:                               "11732dffc239",
		"busybox@sha256:" + other:        "busybox",
		"busybox:1.36@sha256:" + other:   "busybox:1.36",
	} {
		c := &ContainerContext{trunc: true, c: container.Summary{Image: image, ImageID: id}}
		if got := c.Image(); got != want {
			t.Errorf("Image(%q) = %q, want %q", image, got, want)
		}
	}
}

// The default table, as docker prints it: columns padded to the widest
// cell plus three spaces.
func TestContainerTable(t *testing.T) {
	now := time.Now()
	rows := []container.Summary{
		{ID: "fec276706613be1cd9d22c874a35c8ac4cb1f4846c42f9919f029882524edbac", Names: []string{"/tty"}, Image: "busybox",
			Command: "sh -c 'echo tty-out; sleep 100000'", Created: now.Add(-6 * time.Minute).Unix(), Status: "Up 6 minutes"},
		{ID: "f7aac45767dd94a770852acca06b01e6bf927d70acd1014fc297b417e2d689c2", Names: []string{"/web"}, Image: "busybox",
			Command: "httpd -f -p 80", Created: now.Add(-7 * time.Minute).Unix(), Status: "Exited (3) 5 minutes ago",
			Ports: []container.PortSummary{{IP: netip.MustParseAddr("0.0.0.0"), PrivatePort: 80, PublicPort: 8080, Type: "tcp"}}},
	}
	var b bytes.Buffer
	if err := ContainerWrite(Context{Output: &b, Format: NewContainerFormat("", false, false), Trunc: true}, rows); err != nil {
		t.Fatal(err)
	}
	want := `CONTAINER ID   IMAGE     COMMAND                  CREATED         STATUS                     PORTS                  NAMES
fec276706613   busybox   "sh -c 'echo tty-out…"   6 minutes ago   Up 6 minutes                                      tty
f7aac45767dd   busybox   "httpd -f -p 80"         7 minutes ago   Exited (3) 5 minutes ago   0.0.0.0:8080->80/tcp   web
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}

	b.Reset()
	if err := ContainerWrite(Context{Output: &b, Format: NewContainerFormat("", true, false), Trunc: true}, rows); err != nil {
		t.Fatal(err)
	}
	if b.String() != "fec276706613\nf7aac45767dd\n" {
		t.Errorf("quiet: %q", b.String())
	}
	b.Reset()
	if err := ContainerWrite(Context{Output: &b, Format: NewContainerFormat("", false, false)}, nil); err != nil {
		t.Fatal(err)
	}
	if b.String() != "CONTAINER ID   IMAGE     COMMAND   CREATED   STATUS    PORTS     NAMES\n" {
		t.Errorf("empty table: %q", b.String())
	}
}

// {{json .}} has one key per field, as docker 28.2.2 prints them.
func TestContainerJSON(t *testing.T) {
	var b bytes.Buffer
	rows := containerRows("0123456789abcdef", "/web", "busybox", "running")
	if err := ContainerWrite(Context{Output: &b, Format: "json", Trunc: true}, rows); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b.Bytes(), &m); err != nil {
		t.Fatalf("%v: %s", err, b.String())
	}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	want := "Command CreatedAt ID Image Labels LocalVolumes Mounts Names Networks Platform Ports RunningFor Size State Status"
	if got := strings.Join(sortedStrings(keys), " "); got != want {
		t.Errorf("keys = %s\nwant   %s", got, want)
	}
	if m["Platform"] != nil || m["ID"] != "0123456789ab" || m["Command"] != `""` {
		t.Errorf("values: %v", m)
	}
}

func TestSizeProbe(t *testing.T) {
	for format, want := range map[string]bool{
		"{{.ID}}":                      false,
		"table {{.Size}}":              true,
		"{{json .}}":                   true,
		"{{if false}}{{.Size}}{{end}}": false,
	} {
		probe := NewContainerContext()
		tmpl, err := ParseTemplate(Format(format).templateString())
		if err != nil {
			t.Fatal(err)
		}
		if err := tmpl.Execute(&bytes.Buffer{}, probe); err != nil {
			t.Fatal(err)
		}
		if _, got := probe.FieldsUsed["Size"]; got != want {
			t.Errorf("%s: size used = %v", format, got)
		}
	}
}

func sortedStrings(s []string) []string {
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s
}
