package cli

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// system df, the prunes and diff/export against a reference engine, with
// both CLIs (see compare_test.go).
func TestCompareDiskUsageAndPrune(t *testing.T) {
	r := newReferenceEngine(t)
	const image = "berthcli-test/prune:latest"
	if _, errOut, code := r.berth(busyboxTar(t), "import", "-c", `CMD ["sh"]`, "-", image); code != 0 {
		t.Fatalf("import: %s", errOut)
	}
	t.Cleanup(func() { r.docker(nil, "rmi", "-f", image) })
	const label = "berthcli-prune=1"
	names := []string{"berthcli-prune-running", "berthcli-prune-exited", "berthcli-prune-created"}
	t.Cleanup(func() {
		for _, n := range names {
			r.docker(nil, "rm", "-f", n)
		}
	})
	setUp := func() {
		r.mustDocker("run", "-d", "--label", label, "--name", names[0], image, "sleep", "100000")
		r.mustDocker("run", "--label", label, "--name", names[1], image, "sh", "-c", "echo x > /new; rm /etc/group")
		r.mustDocker("create", "--label", label, "--name", names[2], image, "true")
	}
	setUp()

	for _, args := range [][]string{
		{"system", "df"},
		{"system", "df", "-v"},
		{"system", "df", "--format", "json"},
		{"system", "df", "--format", "raw"},
		{"system", "df", "-v", "--format", "{{range .Containers}}{{.Names}} {{.Size}} {{.State}}\n{{end}}"},
		{"system", "df", "--format", "table {{.Type}}\t{{.Active}}"},
	} {
		r.compare(true, args...)
	}
	for _, args := range [][]string{
		{"system", "df", "--format", "{{.Nope}}"},
		{"system", "df", "-v", "--format", "{{.Nope}}"},
		{"system", "df", "x"},
		{"container", "diff", "berthcli-nope"},
		{"export", "berthcli-nope"},
		{"export", "-o", "/nonexistent/x.tar", names[1]},
		{"container", "prune", "x"},
		{"system", "prune", "--volumes", "--filter", "until=1h"},
	} {
		r.compare(false, args...)
	}
	no := []byte("n\n")
	for _, args := range [][]string{
		{"container", "prune"},
		{"system", "prune"},
		{"system", "prune", "-a", "--volumes", "--filter", "label=" + label, "--filter", "label!=x", "--filter", "until=1h"},
		{"image", "prune", "-a"},
	} {
		r.compareWithInput(no, false, args...)
	}

	// The daemon lists changes in no particular order.
	sorted := func(out, errOut string, code int) string {
		lines := strings.Split(out, "\n")
		sort.Strings(lines)
		return fmt.Sprint(lines, errOut, code)
	}
	if d, b := sorted(r.docker(nil, "diff", names[1])), sorted(r.berth(nil, "diff", names[1])); d != b {
		t.Errorf("diff:\n--- docker\n%s\n--- berth\n%s", d, b)
	}

	// export writes the daemon's archive, to stdout or to -o (an engine
	// without export gives both the same error).
	dir := t.TempDir()
	dOut, dErr, dCode := r.docker(nil, "export", names[1])
	bOut, bErr, bCode := r.berth(nil, "export", names[1])
	if bOut != dOut || bErr != dErr || bCode != dCode {
		t.Errorf("export: docker exit %d %q, %d bytes; berth exit %d %q, %d bytes", dCode, dErr, len(dOut), bCode, bErr, len(bOut))
	}
	r.compare(false, "export", "-o", filepath.Join(dir, "docker.tar"), names[1])
	if dCode == 0 {
		r.mustDocker("export", "-o", filepath.Join(dir, "docker.tar"), names[1])
		if _, errOut, code := r.berth(nil, "export", "-o", filepath.Join(dir, "berth.tar"), names[1]); code != 0 {
			t.Fatalf("berth export -o: %s", errOut)
		}
		a, _ := os.ReadFile(filepath.Join(dir, "docker.tar"))
		b, _ := os.ReadFile(filepath.Join(dir, "berth.tar"))
		if !bytes.Equal(a, b) || len(a) == 0 {
			t.Errorf("export -o: files of %d and %d bytes differ", len(a), len(b))
		}
	}

	// The prunes themselves: the same containers, once per CLI.
	ids := regexp.MustCompile(`[0-9a-f]{64}`)
	prune := func(run func([]byte, ...string) (string, string, int)) string {
		out, errOut, code := run([]byte("y\n"), "container", "prune", "--filter", "label="+label)
		return ids.ReplaceAllString(out+errOut, "<id>") + string(rune('0'+code))
	}
	dPrune := prune(r.docker)
	r.docker(nil, "rm", "-f", names[0])
	setUp()
	if bPrune := prune(r.berth); bPrune != dPrune {
		t.Errorf("container prune:\n--- docker\n%s\n--- berth\n%s", dPrune, bPrune)
	}
	r.docker(nil, "rm", "-f", names[0])
}
