package image

import (
	"context"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
)

// References are stored in full and shown in the familiar form, exactly
// as Docker normalises them.
func TestParseTag(t *testing.T) {
	cases := []struct {
		repo, tag    string
		full, shown  string
		errorMessage string
	}{
		{"busybox", "", "docker.io/library/busybox:latest", "busybox:latest", ""},
		{"busybox", "1.36", "docker.io/library/busybox:1.36", "busybox:1.36", ""},
		{"busybox:musl", "", "docker.io/library/busybox:musl", "busybox:musl", ""},
		{"busybox:musl", "glibc", "docker.io/library/busybox:glibc", "busybox:glibc", ""},
		{"docker.io/busybox", "", "docker.io/library/busybox:latest", "busybox:latest", ""},
		{"index.docker.io/library/busybox", "", "docker.io/library/busybox:latest", "busybox:latest", ""},
		{"team/app", "v1", "docker.io/team/app:v1", "team/app:v1", ""},
		{"localhost:5000/app", "", "localhost:5000/app:latest", "localhost:5000/app:latest", ""},
		{"example.com/a/b/c", "x", "example.com/a/b/c:x", "example.com/a/b/c:x", ""},
		{"", "", "", "", "repository name must have at least one component"},
		{"Busybox", "", "", "", "invalid reference format: repository name (library/Busybox) must be lowercase"},
		{"busybox", "bad tag", "", "", "invalid tag format"},
		{"busybox@sha256:" + strings.Repeat("1", 64), "", "", "", "cannot import digest reference"},
		{"sha256", "x", "", "", "refusing to create an ambiguous tag using digest algorithm as name"},
	}
	for _, c := range cases {
		ref, err := ParseTag(c.repo, c.tag)
		if c.errorMessage != "" {
			if err == nil || err.Error() != c.errorMessage || !errdefs.IsInvalidArgument(err) {
				t.Errorf("ParseTag(%q, %q) error = %v, want %q", c.repo, c.tag, err, c.errorMessage)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseTag(%q, %q): %v", c.repo, c.tag, err)
			continue
		}
		if ref.String() != c.full || reference.FamiliarString(ref) != c.shown {
			t.Errorf("ParseTag(%q, %q) = %s (%s), want %s (%s)", c.repo, c.tag, ref, reference.FamiliarString(ref), c.full, c.shown)
		}
	}
}

// Get finds images by every name Docker accepts and says "No such image"
// the way Docker does.
func TestGetResolution(t *testing.T) {
	s, _, _ := newService(t)
	ctx := context.Background()
	loadFile(t, s, fixtureArchive)
	hex := strings.TrimPrefix(fixtureID, "sha256:")
	for _, name := range []string{
		"busybox", "busybox:latest", "library/busybox", "docker.io/library/busybox:latest", "index.docker.io/library/busybox",
		"example.com/team/busybox:v1", fixtureID, hex, hex[:12], hex[:4], "sha256:" + hex[:12],
	} {
		im, err := s.Get(ctx, name)
		if err != nil || im.ID != fixtureID {
			t.Errorf("Get(%q) = %v, %v", name, im, err)
		}
	}
	for name, msg := range map[string]string{
		"nope":                              "No such image: nope:latest",
		"busybox:1.0":                       "No such image: busybox:1.0",
		"example.com/team/busybox":          "No such image: example.com/team/busybox:latest",
		"sha256:" + strings.Repeat("0", 64): "No such image: sha256:" + strings.Repeat("0", 64),
		"abcdef0123":                        "No such image: abcdef0123:latest",
	} {
		_, err := s.Get(ctx, name)
		if !errdefs.IsNotFound(err) || err.Error() != msg {
			t.Errorf("Get(%q) error = %v, want not found %q", name, err, msg)
		}
	}
	if _, err := s.Get(ctx, "Bad Name"); !errdefs.IsInvalidArgument(err) {
		t.Errorf("invalid reference: %v", err)
	}
}

func TestTagMovesAndNormalises(t *testing.T) {
	s, bus, _ := newService(t)
	ctx := context.Background()
	loadFile(t, s, fixtureArchive)
	other := importTar(t, s, busyboxTar(t), ImportOptions{Message: "other"})
	if err := s.Tag(ctx, fixtureID[7:19], "docker.io/library/alias", ""); err != nil {
		t.Fatal(err)
	}
	if err := s.Tag(ctx, other, "busybox", "latest"); err != nil {
		t.Fatal(err)
	}
	im, _ := s.Get(ctx, "busybox")
	if im.ID != other {
		t.Errorf("busybox:latest not moved to %s", other)
	}
	old, _ := s.Get(ctx, fixtureID)
	if strings.Join(old.RepoTags, ",") != "alias:latest,example.com/team/busybox:v1" {
		t.Errorf("old image tags %v", old.RepoTags)
	}
	if old.LastTagTime.IsZero() {
		t.Error("LastTagTime not set")
	}
	if err := s.Tag(ctx, "nope", "x", ""); !errdefs.IsNotFound(err) {
		t.Errorf("tag of missing image: %v", err)
	}
	found := 0
	for _, e := range eventsOf(bus) {
		if e == "tag" {
			found++
		}
	}
	if found < 4 { // two from the load, two here
		t.Errorf("%d tag events", found)
	}
}
