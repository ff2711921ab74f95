package cli

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/api/types/volume"
)

// dfEngine answers GET /system/df with body.
func dfEngine(t *testing.T, apiVersion string, body []byte) string {
	t.Helper()
	return startFakeEngine(t, apiVersion, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/system/df") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
}

// The golden files are docker 28.2.2's output for testdata/system_df/
// legacy.json, an API 1.50 answer with shared layers, an image of unknown
// use, running, exited and restarting containers, volumes in use, unused
// and unmeasured, and build cache records in use and shared.
func TestDiskUsageLegacyAnswer(t *testing.T) {
	body, err := os.ReadFile(filepath.Join("testdata", "system_df", "legacy.json"))
	if err != nil {
		t.Fatal(err)
	}
	host := dfEngine(t, "1.50", body)
	norm := func(s string) string { return spaceRuns.ReplaceAllString(clockWords.ReplaceAllString(s, "<T>"), "  ") }
	for golden, args := range map[string][]string{
		"df.golden":      {"system", "df"},
		"df-v.golden":    {"system", "df", "-v"},
		"df-json.golden": {"system", "df", "--format", "json"},
		"df-raw.golden":  {"system", "df", "--format", "raw"},
	} {
		want, err := os.ReadFile(filepath.Join("testdata", "system_df", golden))
		if err != nil {
			t.Fatal(err)
		}
		stdout, stderr, code := runCLI(t, nil, append([]string{"-H", host}, args...)...)
		if code != 0 || stderr != "" || norm(stdout) != norm(string(want)) {
			t.Errorf("berth %s: exit %d, stderr %q\n--- got\n%s--- want (docker)\n%s", strings.Join(args, " "), code, stderr, stdout, want)
		}
	}

	for _, tc := range []struct {
		args           []string
		stdout, stderr string
		code           int
	}{
		{[]string{"--format", "{{.Type}}: {{.Size}}"}, "Images: 5MB\nContainers: 12.45kB\nLocal Volumes: 5.096kB\nBuild Cache: 5.7kB\n", "", 0},
		{[]string{"-v", "--format", "{{range .Volumes}}{{.Name}}={{.Links}} {{end}}"}, "data=1 " + strings.Repeat("f", 64) + "=0 unknown=-1 ", "", 0},
		{[]string{"-v", "--format", "{{range .BuildCache}}{{.ID}} {{end}}"}, strings.Repeat("j", 25) + "* " + strings.Repeat("m", 25) + " " + strings.Repeat("k", 25) + " ", "", 0},
		{[]string{"--format", "{{.Nope}}"}, "", "template parsing error: template: :1:2: executing \"\" at <.Nope>: can't evaluate field Nope in type *formatter.diskUsageImagesContext\n", 1},
		{[]string{"-v", "--format", "{{.Nope}}"}, "", "template: :1:2: executing \"\" at <.Nope>: can't evaluate field Nope in type *formatter.diskUsageContext\n", 1},
		{[]string{"-v", "--format", "{{"}, "", "template parsing error: template: :1: unclosed action\n", 1},
	} {
		stdout, stderr, code := runCLI(t, nil, append([]string{"-H", host, "system", "df"}, tc.args...)...)
		if stdout != tc.stdout || stderr != tc.stderr || code != tc.code {
			t.Errorf("system df %s: exit %d\n stdout %q\n want   %q\n stderr %q\n want   %q", strings.Join(tc.args, " "), code, stdout, tc.stdout, stderr, tc.stderr)
		}
	}
}

// From API 1.52 the daemon sends totals, and the lists only for -v: the
// summary shows the daemon's totals.
func TestDiskUsageTotalsAnswer(t *testing.T) {
	body, err := json.Marshal(system.DiskUsage{
		ImageUsage:      &image.DiskUsage{TotalCount: 4, ActiveCount: 1, TotalSize: 4000, Reclaimable: 1000},
		ContainerUsage:  &container.DiskUsage{TotalCount: 2, ActiveCount: 2, TotalSize: 0, Reclaimable: 0},
		VolumeUsage:     &volume.DiskUsage{},
		BuildCacheUsage: &build.DiskUsage{TotalCount: 1, TotalSize: 2000, Reclaimable: 2000},
	})
	if err != nil {
		t.Fatal(err)
	}
	host := dfEngine(t, "1.52", body)
	stdout, stderr, code := runCLI(t, nil, "-H", host, "system", "df")
	want := `TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE
Images          4         1         4kB       1kB (25%)
Containers      2         2         0B        0B
Local Volumes   0         0         0B        0B
Build Cache     1         0         2kB       2kB
`
	if code != 0 || stderr != "" || stdout != want {
		t.Errorf("exit %d, stderr %q\n--- got\n%s--- want\n%s", code, stderr, stdout, want)
	}
}
