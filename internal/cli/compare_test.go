package cli

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// The comparison tests run each command with the stock docker CLI and with
// berth against the same reference engine, and expect the same output,
// byte for byte, apart from "docker"/"berth" in usage texts and the clock
// words in CREATED and STATUS columns. They need a running engine:
//
//	BERTH_CLI_REFERENCE_HOST=unix:///path/docker.sock go test ./internal/cli -run Compare
//
// (for instance Debian's dockerd started with --data-root, --exec-root
// and -H in a temporary directory) and docker on PATH.
// BERTH_TEST_REFERENCE_HOST, which the lifecycle comparison reads, works too.
const referenceHostEnv = "BERTH_CLI_REFERENCE_HOST"

type referenceEngine struct {
	t    *testing.T
	host string
}

func newReferenceEngine(t *testing.T) *referenceEngine {
	host := os.Getenv(referenceHostEnv)
	if host == "" {
		host = os.Getenv("BERTH_TEST_REFERENCE_HOST")
	}
	if host == "" {
		t.Skipf("%s not set: no reference engine to compare with", referenceHostEnv)
	}
	if _, err := exec.LookPath("docker"); err != nil {
		t.Skip("docker CLI not on PATH")
	}
	return &referenceEngine{t: t, host: host}
}

// docker runs the stock CLI against the reference engine.
func (r *referenceEngine) docker(stdin []byte, args ...string) (stdout, stderr string, code int) {
	cmd := exec.Command("docker", args...)
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+r.host, "DOCKER_CONFIG="+r.t.TempDir())
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		r.t.Fatalf("docker %v: %v", args, err)
	}
	return out.String(), errOut.String(), code
}

func (r *referenceEngine) mustDocker(args ...string) string {
	out, errOut, code := r.docker(nil, args...)
	if code != 0 {
		r.t.Fatalf("docker %s: %d %s", strings.Join(args, " "), code, errOut)
	}
	return strings.TrimSpace(out)
}

// berth runs berth's CLI in-process against the reference engine.
func (r *referenceEngine) berth(stdin []byte, args ...string) (stdout, stderr string, code int) {
	r.t.Setenv("DOCKER_CONFIG", r.t.TempDir())
	var in io.Reader
	if stdin != nil {
		in = bytes.NewReader(stdin)
	}
	return runCLI(r.t, in, append([]string{"-H", r.host}, args...)...)
}

var clockWords = regexp.MustCompile(`(Less than a second|About a minute|About an hour|\d+ (second|minute|hour|day|week|month|year)s?)`)
var spaceRuns = regexp.MustCompile(` {2,}`)

// compare runs args with both CLIs. With timing set, clock words and the
// column padding around them are not compared.
func (r *referenceEngine) compare(timing bool, args ...string) {
	r.t.Helper()
	r.compareWithInput(nil, timing, args...)
}

// compareWithInput is compare with stdin (a prompt's answer).
func (r *referenceEngine) compareWithInput(stdin []byte, timing bool, args ...string) {
	r.t.Helper()
	dOut, dErr, dCode := r.docker(stdin, args...)
	bOut, bErr, bCode := r.berth(stdin, args...)
	norm := func(s string) string {
		s = strings.NewReplacer("docker", "berth", "Docker", "berth").Replace(s)
		if timing {
			s = spaceRuns.ReplaceAllString(clockWords.ReplaceAllString(s, "<T>"), "  ")
		}
		return s
	}
	if norm(dOut) != norm(bOut) || norm(dErr) != norm(bErr) || dCode != bCode {
		r.t.Errorf("%s:\n--- docker (exit %d)\n%s%s--- berth (exit %d)\n%s%s", strings.Join(args, " "), dCode, dOut, dErr, bCode, bOut, bErr)
	}
}

// busyboxTar is the test image's root filesystem: the static busybox, its
// applet links and a minimal /etc.
func busyboxTar(t *testing.T) []byte {
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Skipf("no static busybox: %v", err)
	}
	out, err := exec.Command("/bin/busybox", "--list").Output()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	add := func(h *tar.Header, data []byte) {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"bin", "etc", "tmp", "var", "var/www"} {
		add(&tar.Header{Name: d + "/", Typeflag: tar.TypeDir, Mode: 0o755}, nil)
	}
	add(&tar.Header{Name: "bin/busybox", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(bb))}, bb)
	for _, applet := range strings.Fields(string(out)) {
		if applet != "busybox" {
			add(&tar.Header{Name: filepath.Join("bin", applet), Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777}, nil)
		}
	}
	passwd := []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n")
	group := []byte("root:x:0:\nnogroup:x:65534:\n")
	add(&tar.Header{Name: "etc/passwd", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(passwd))}, passwd)
	add(&tar.Header{Name: "etc/group", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(group))}, group)
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestCompareWithDocker(t *testing.T) {
	r := newReferenceEngine(t)
	const image = "berthcli-test/busybox:latest"
	rootfs := busyboxTar(t)

	// berth's import creates the image the rest of the test uses.
	out, errOut, code := r.berth(rootfs, "import", "-c", `CMD ["sh"]`, "-m", "berth cli test", "-", image)
	if code != 0 || !strings.HasPrefix(out, "sha256:") || errOut != "" {
		t.Fatalf("berth import: %d %q %q", code, out, errOut)
	}
	t.Cleanup(func() { r.docker(nil, "rmi", "-f", image, "berthcli-test/tagged:1") })
	r.mustDocker("tag", image, "berthcli-test/tagged:1")

	names := []string{"berthcli-sleeper", "berthcli-exited", "berthcli-created", "berthcli-paused", "berthcli-tty", "berthcli-web"}
	t.Cleanup(func() {
		for _, n := range names {
			r.docker(nil, "rm", "-f", n)
		}
		r.docker(nil, "network", "rm", "berthcli-net")
	})
	r.mustDocker("run", "-d", "--name", "berthcli-sleeper", "--label", "a=b", "--label", "com.example.x=y", image, "sleep", "100000")
	r.docker(nil, "run", "--name", "berthcli-exited", image, "sh", "-c", "echo out; echo err >&2; exit 3")
	r.mustDocker("create", "--name", "berthcli-created", image, "true")
	r.mustDocker("run", "-d", "--name", "berthcli-paused", image, "sleep", "100000")
	r.mustDocker("pause", "berthcli-paused")
	r.mustDocker("run", "-d", "-t", "--name", "berthcli-tty", image, "sh", "-c", "echo tty-out; sleep 100000")
	withPorts := false
	if _, _, code := r.docker(nil, "network", "create", "--subnet", "10.233.77.0/24", "-o", "com.docker.network.bridge.name=brberthcli", "berthcli-net"); code == 0 {
		_, _, code := r.docker(nil, "run", "-d", "--name", "berthcli-web", "--network", "berthcli-net",
			"-p", "18080:80", "-p", "127.0.0.1:19000-19002:9000-9002", "-p", "15353:53/udp", "--expose", "7000-7003",
			image, "httpd", "-f", "-p", "80")
		withPorts = code == 0
	}

	// Output without clock words: compared byte for byte.
	exact := [][]string{
		{"ps", "-a", "--format", "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.Ports}}\t{{.Names}}\t{{.State}}", "-f", "name=berthcli-"},
		{"ps", "-aq", "-f", "name=berthcli-"},
		{"ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.Command}} {{.Labels}} {{.Label \"a\"}} {{upper .State}} {{.Networks}}", "-f", "name=berthcli-"},
		{"ps", "-a", "--format", "table {{.Names}}\t{{.Mounts}}\t{{.LocalVolumes}}", "-f", "label=a=b"},
		{"ps", "-a", "-f", "status=created", "--format", "{{.Names}}"},
		{"ps", "-q", "--format", "{{.Names}}", "-f", "name=berthcli-sleeper"},
		{"ps", "--filter", "bad"},
		{"ps", "--filter", "nope=x"},
		{"ps", "--format", "{{.Nope}}"},
		{"container", "ls", "-a", "-f", "name=berthcli-", "--format", "table {{upper .Names}}\t{{json .Image}}\t{{truncate .ID 3}}\t{{pad .State 1 1}}|"},
		{"logs", "berthcli-exited"},
		{"logs", "-t", "berthcli-exited"},
		{"logs", "--tail", "1", "berthcli-exited"},
		{"logs", "berthcli-tty"},
		{"logs", "berthcli-nope"},
		{"top", "berthcli-exited"},
		{"top", "berthcli-nope"},
		{"port", "berthcli-sleeper"},
		{"port", "berthcli-sleeper", "80"},
		{"port", "berthcli-sleeper", "abc"},
		{"inspect", "berthcli-sleeper"},
		{"inspect", image},
		{"inspect", "berthcli-nope"},
		{"inspect", "berthcli-sleeper", "berthcli-nope", image},
		{"inspect", "-f", "{{.Name}} {{.Config.Cmd}} {{.Config.Env}} {{.HostConfig.Binds}} {{.State.Status}} {{json .Config.Labels}}", "berthcli-sleeper", "berthcli-exited"},
		{"inspect", "-f", "{{.Nope}}", "berthcli-sleeper"},
		{"inspect", "-f", "json", "berthcli-sleeper"},
		{"inspect", "--type", "image", "-f", "{{.Id}} {{.Comment}} {{.Config.Cmd}}", image, "berthcli-sleeper"},
		{"inspect", "--type", "foo", "x"},
		{"inspect", "-s", "-f", "{{.SizeRw}}", "berthcli-sleeper", image},
		{"container", "inspect", "berthcli-nope", image},
		{"image", "inspect", "-f", "{{.RepoTags}} {{.Size}}", image},
		{"image", "inspect", "berthcli-nope"},
		// One tag only: docker lists an image's tags in map order.
		{"images", "berthcli-test/busybox", "--format", "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.Size}}"},
		{"images", "-q", "berthcli-test/*"},
		{"images", "--no-trunc", "--digests", "--format", "{{.ID}} {{.Digest}} {{.VirtualSize}} {{.Containers}}", "berthcli-test/busybox"},
		{"images", "-f", "bad"},
		{"images", "ls"},
		{"history", "-q", image},
		{"history", "--format", "{{.ID}} {{.CreatedBy}} {{.Size}} {{.Comment}}", image},
		{"history", "berthcli-nope"},
		{"tag", "berthcli-nope", "x"},
		{"tag", image, "Bad"},
		{"rmi", "berthcli-nope"},
		{"rmi", "-f", "berthcli-nope"},
		{"save", "-o", "/nonexistent/x.tar", image},
		{"events", "--since", "xx"},
		{"events", "--format", "{{.Nope}}"},
		{"version", "--format", "{{.Server.Version}} {{.Server.Os}}"},
		{"version", "--format", "{{json .Server}}"},
		{"version", "--format", "{{.Nope}}"},
		{"version", "--format", "{{.Server.Nope}}"},
		{"version", "--format", "{{.Client.Nope}}"},
		{"info", "--format", "{{.Nope}}"},
		{"info", "--format", "{{.ClientInfo.Nope}}"},
		{"events", "--since", "1h", "--until", "1s", "--format", "{{json .}}"},
		{"events", "--since", "1h", "--until", "1s", "-f", "container=berthcli-exited"},
		{"info", "--format", "{{.Containers}} {{.Driver}} {{json .Plugins}}"},
		{"pull", "localhost:1/nope"},
	}
	if withPorts {
		exact = append(exact,
			[]string{"ps", "--format", "{{.Ports}}", "-f", "name=berthcli-web"},
			[]string{"port", "berthcli-web"},
			[]string{"port", "berthcli-web", "80"},
			[]string{"port", "berthcli-web", "80/tcp"},
			[]string{"port", "berthcli-web", "53/udp"},
			[]string{"port", "berthcli-web", "81"},
			[]string{"port", "berthcli-web", "80/TCP"},
			[]string{"top", "berthcli-web"},
			[]string{"inspect", "-f", `{{(index (index .NetworkSettings.Ports "80/tcp") 0).HostPort}}`, "berthcli-web"},
			[]string{"inspect", "-f", `{{range $p, $b := .NetworkSettings.Ports}}{{$p}}={{$b}} {{end}}`, "berthcli-web"},
			[]string{"inspect", "-f", `{{.NetworkSettings.IPAddress}}|{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}|{{.Config.ExposedPorts}}`, "berthcli-web"},
		)
	}
	for _, args := range exact {
		r.compare(false, args...)
	}
	// Tables with CREATED and STATUS columns.
	for _, args := range [][]string{
		{"ps", "-a", "-f", "name=berthcli-"},
		{"ps", "-a", "-s", "-f", "name=berthcli-"},
		{"ps", "-a", "--format", "json", "-f", "name=berthcli-"},
		{"ps", "-a", "--format", "raw", "-f", "name=berthcli-"},
		{"ps", "-n", "2"},
		{"images", "berthcli-test/busybox"},
		{"images", "--digests", "berthcli-test/busybox"},
		{"images", "--format", "json", "berthcli-test/busybox"},
		{"image", "ls", "--format", "raw", "berthcli-test/busybox"},
		{"history", image},
		{"history", "--no-trunc", "--format", "json", image},
		{"history", "-H=false", "--format", "table {{.ID}}\t{{.Size}}\t{{.Comment}}", image},
	} {
		r.compare(true, args...)
	}

	// The Server sections of version and info; the Client sections are
	// berth's own.
	for _, cmd := range []string{"version", "info"} {
		dOut, _, _ := r.docker(nil, cmd)
		bOut, _, _ := r.berth(nil, cmd)
		server := func(s string) string {
			i := strings.Index(s, "\nServer:")
			if i < 0 {
				return "(no Server section)\n" + s
			}
			lines := strings.Split(s[i:], "\n")
			for j, l := range lines {
				// docker lists runtimes in map order; berth sorts them.
				if rest, ok := strings.CutPrefix(l, " Runtimes: "); ok {
					names := strings.Fields(rest)
					sort.Strings(names)
					lines[j] = " Runtimes: " + strings.Join(names, " ")
				}
			}
			return strings.Join(lines, "\n")
		}
		if server(dOut) != server(bOut) {
			t.Errorf("%s:\n--- docker\n%s--- berth\n%s", cmd, server(dOut), server(bOut))
		}
	}
}

// Archives written by save are the engine's own bytes; load reads them back.
func TestCompareSaveLoad(t *testing.T) {
	r := newReferenceEngine(t)
	const image = "berthcli-test/saveload:latest"
	if _, errOut, code := r.berth(busyboxTar(t), "import", "-", image); code != 0 {
		t.Fatalf("import: %s", errOut)
	}
	t.Cleanup(func() { r.docker(nil, "rmi", "-f", image) })
	dir := t.TempDir()
	r.mustDocker("save", "-o", filepath.Join(dir, "docker.tar"), image)
	if _, errOut, code := r.berth(nil, "save", "-o", filepath.Join(dir, "berth.tar"), image); code != 0 {
		t.Fatalf("berth save: %s", errOut)
	}
	a, _ := os.ReadFile(filepath.Join(dir, "docker.tar"))
	b, _ := os.ReadFile(filepath.Join(dir, "berth.tar"))
	if !bytes.Equal(a, b) || len(a) == 0 {
		t.Fatalf("archives differ: %d and %d bytes", len(a), len(b))
	}
	if st, _ := os.Stat(filepath.Join(dir, "berth.tar")); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600 as docker's", st.Mode())
	}
	dOut, dErr, dCode := r.docker(a, "load")
	bOut, bErr, bCode := r.berth(a, "load")
	if dOut != bOut || dErr != bErr || dCode != bCode || !strings.Contains(bOut, "Loaded image: "+image) {
		t.Errorf("load: docker %d %q %q, berth %d %q %q", dCode, dOut, dErr, bCode, bOut, bErr)
	}
	r.compare(false, "load", "-i", filepath.Join(dir, "missing.tar"))
	r.compare(false, "save", "berthcli-nope")
}
