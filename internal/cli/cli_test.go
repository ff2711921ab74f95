package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	fevents "github.com/berth-dev/berth/internal/cli/formatter/events"
	"github.com/creack/pty"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
)

// runCLI runs berth in-process with args and returns what a user sees.
func runCLI(t *testing.T, stdin io.Reader, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	c := &CLI{In: io.NopCloser(stdin), Out: &out, Err: &errOut}
	code = c.execute(context.Background(), args)
	return out.String(), errOut.String(), code
}

// Usage errors, as docker 28.2.2 words them (with "berth" for "docker").
func TestUsageErrors(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix:///nonexistent/berth-test.sock")
	for _, tc := range []struct {
		args   []string
		stderr string
		code   int
	}{
		{[]string{"foo"}, "berth: unknown command: berth foo\n\nRun 'berth --help' for more information\n", 1},
		{[]string{"image", "foo"}, "berth: unknown command: berth image foo\n\nUsage:  berth image\n\nRun 'berth image --help' for more information\n", 1},
		{[]string{"tag", "a"}, "berth: 'berth tag' requires 2 arguments\n\nUsage:  berth tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]\n\nRun 'berth tag --help' for more information\n", 1},
		{[]string{"rmi"}, "berth: 'berth rmi' requires at least 1 argument\n\nUsage:  berth rmi [OPTIONS] IMAGE [IMAGE...]\n\nSee 'berth rmi --help' for more information\n", 1},
		{[]string{"images", "a", "b"}, "berth: 'berth images' requires at most 1 argument\n\nUsage:  berth images [OPTIONS] [REPOSITORY[:TAG]]\n\nSRun 'berth images --help' for more information\n", 1},
		{[]string{"port"}, "berth: 'berth port' requires at least 1 and at most 2 arguments\n\nUsage:  berth port CONTAINER [PRIVATE_PORT[/PROTO]]\n\nRun 'berth port --help' for more information\n", 1},
		{[]string{"ps", "x"}, "berth: 'berth ps' accepts no arguments\n\nUsage:  berth ps [OPTIONS]\n\nRun 'berth ps --help' for more information\n", 1},
		{[]string{"container", "ls", "x"}, "berth: 'berth container ls' accepts no arguments\n\nUsage:  berth container ls [OPTIONS]\n\nRun 'berth container ls --help' for more information\n", 1},
		{[]string{"ps", "--bogus"}, "unknown flag: --bogus\n\nUsage:  berth ps [OPTIONS]\n\nRun 'berth ps --help' for more information\n", 125},
		{[]string{"ps", "--filter", "bad"}, "invalid argument \"bad\" for \"-f, --filter\" flag: bad format of filter (expected name=value)\n\nUsage:  berth ps [OPTIONS]\n\nRun 'berth ps --help' for more information\n", 125},
		{[]string{"-H"}, "flag needs an argument: 'H' in -H\n\nUsage:  berth [OPTIONS] COMMAND [ARG...]\n\nRun 'berth --help' for more information\n", 125},
		{[]string{"--log-level", "foo", "ps"}, "Unable to parse logging level: foo\n", 1},
		{[]string{"ps", "--format", "{{"}, "failed to parse template: template: :1: unclosed action\n", 1},
		{[]string{"ps", "--format", "{{.Nope}}"}, "failed to execute template: template: :1:2: executing \"\" at <.Nope>: can't evaluate field Nope in type *formatter.ContainerContext\n", 1},
		{[]string{"inspect", "--type", "foo", "x"}, `unknown type: "foo": must be one of "config", "container", "image", "network", "node", "plugin", "secret", "service", "task", "volume"` + "\n", 1},
		{[]string{"inspect", "-f", "{{", "x"}, "template parsing error: template: :1: unclosed action\n", 64},
		{[]string{"events", "--format", "{{"}, "Error parsing format: template: :1: unclosed action\n", 64},
		{[]string{"help", "nope"}, "unknown help topic: nope\n", 1},
		{[]string{"ps"}, "Cannot connect to the Docker daemon at unix:///nonexistent/berth-test.sock. Is the docker daemon running?\n", 1},
		{[]string{"-H", "unix:///nonexistent/other.sock", "images"}, "Cannot connect to the Docker daemon at unix:///nonexistent/other.sock. Is the docker daemon running?\n", 1},
		{[]string{"pull", "-a", "busybox:1"}, "tag can't be used with --all-tags/-a\n", 1},
		{[]string{"tag", "busybox", "Bad"}, `Error parsing reference: "Bad" is not a valid repository/tag: invalid reference format: repository name (library/Bad) must be lowercase` + "\n", 1},
		{[]string{"import", "/nonexistent/file.tar"}, "open /nonexistent/file.tar: no such file or directory\n", 1},
		{[]string{"save", "-o", "/nonexistent/x.tar", "busybox"}, "failed to save image: invalid output path: stat /nonexistent: no such file or directory\n", 1},
		{[]string{"save", "-o", "/dev/null", "busybox"}, "failed to save image: cannot write to a character device file\n", 1},
	} {
		stdout, stderr, code := runCLI(t, nil, tc.args...)
		if stderr != tc.stderr || code != tc.code || stdout != "" {
			t.Errorf("berth %s:\n code %d, want %d\n stderr %q\n want   %q\n stdout %q", strings.Join(tc.args, " "), code, tc.code, stderr, tc.stderr, stdout)
		}
	}
}

func TestVersionFlag(t *testing.T) {
	for _, flag := range []string{"-v", "--version"} {
		stdout, _, code := runCLI(t, nil, flag)
		if want := "berth version " + Version + ", build " + GitCommit + "\n"; stdout != want || code != 0 {
			t.Errorf("%s: %q (%d), want %q", flag, stdout, code, want)
		}
	}
}

func TestHelp(t *testing.T) {
	stdout, _, code := runCLI(t, nil, "ps", "--help")
	if code != 0 || !strings.HasPrefix(stdout, "Usage:  berth ps [OPTIONS]\n\nList containers\n\nAliases:\n  berth container ls, berth container list, berth container ps, berth ps\n\nOptions:\n  -a, --all ") {
		t.Errorf("ps --help:\n%s", stdout)
	}
	// Without a command, help goes to stderr and the exit status is 0.
	stdout, stderr, code := runCLI(t, nil)
	if code != 0 || stdout != "" || !strings.HasPrefix(stderr, "Usage:  berth [OPTIONS] COMMAND\n") ||
		!strings.Contains(stderr, "\nCommon Commands:\n") || !strings.Contains(stderr, "\nManagement Commands:\n  container   Manage containers\n") ||
		!strings.Contains(stderr, "\nGlobal Options:\n") {
		t.Errorf("no args: %d\n%s", code, stderr)
	}
	stdout, stderr, code = runCLI(t, nil, "image")
	if code != 0 || stdout != "" || !strings.HasPrefix(stderr, "Usage:  berth image COMMAND\n\nManage images\n\nCommands:\n") {
		t.Errorf("image: %d\n%s", code, stderr)
	}
}

// openPTY gives a terminal for commands that behave differently on one.
func openPTY(t *testing.T) (tty *os.File) {
	t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pty: %v", err)
	}
	t.Cleanup(func() { ptmx.Close(); tty.Close() })
	return tty
}

func TestSaveRefusesTerminal(t *testing.T) {
	tty := openPTY(t)
	var errOut bytes.Buffer
	c := &CLI{In: io.NopCloser(strings.NewReader("")), Out: tty, Err: &errOut}
	code := c.execute(context.Background(), []string{"-H", "unix:///nonexistent/berth-test.sock", "save", "busybox"})
	if want := "cowardly refusing to save to a terminal. Use the -o flag or redirect\n"; code != 1 || errOut.String() != want {
		t.Errorf("code %d, stderr %q", code, errOut.String())
	}
}

func TestLoadRefusesTerminal(t *testing.T) {
	tty := openPTY(t)
	var out, errOut bytes.Buffer
	c := &CLI{In: tty, Out: &out, Err: &errOut}
	code := c.execute(context.Background(), []string{"-H", "unix:///nonexistent/berth-test.sock", "load"})
	if want := "requested load from stdin, but stdin is empty\n"; code != 1 || errOut.String() != want {
		t.Errorf("code %d, stderr %q", code, errOut.String())
	}
}

func TestImagePruneDeclined(t *testing.T) {
	stdout, stderr, code := runCLI(t, strings.NewReader("n\n"), "-H", "unix:///nonexistent/berth-test.sock", "image", "prune")
	want := "WARNING! This will remove all dangling images.\nAre you sure you want to continue? [y/N] "
	if code != 0 || stdout != want || stderr != "" {
		t.Errorf("code %d\nstdout %q\nstderr %q", code, stdout, stderr)
	}
	stdout, _, _ = runCLI(t, strings.NewReader(""), "-H", "unix:///nonexistent/berth-test.sock", "image", "prune", "-a")
	if !strings.HasPrefix(stdout, "WARNING! This will remove all images without at least one container associated to them.\n") {
		t.Errorf("prune -a: %q", stdout)
	}
}

func TestFilterFlag(t *testing.T) {
	f := newFilterFlag()
	for _, v := range []string{"status=exited", " Label = a=b ", "label=c", ""} {
		if err := f.Set(v); err != nil {
			t.Fatal(err)
		}
	}
	want := `{"label":{"a=b":true,"c":true},"status":{"exited":true}}`
	if f.String() != want {
		t.Errorf("filters %s, want %s", f.String(), want)
	}
	if err := f.Set("novalue"); err == nil || err.Error() != "bad format of filter (expected name=value)" {
		t.Errorf("err = %v", err)
	}
}

func TestNaturalLess(t *testing.T) {
	in := []string{"9000/tcp -> 127.0.0.1:9000", "10000/tcp -> 0.0.0.0:10000", "53/udp -> 0.0.0.0:5353", "80/tcp -> [::]:8080", "80/tcp -> 0.0.0.0:8080", "a2", "a10", "a02"}
	want := []string{"53/udp -> 0.0.0.0:5353", "80/tcp -> 0.0.0.0:8080", "80/tcp -> [::]:8080", "9000/tcp -> 127.0.0.1:9000", "10000/tcp -> 0.0.0.0:10000", "a2", "a02", "a10"}
	got := append([]string(nil), in...)
	for i := range got {
		for j := i + 1; j < len(got); j++ {
			if naturalLess(got[j], got[i]) {
				got[i], got[j] = got[j], got[i]
			}
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

func TestParsePlatform(t *testing.T) {
	for in, want := range map[string]string{
		"linux/amd64":    "linux/amd64/",
		"linux/x86_64":   "linux/amd64/",
		"linux/arm64/v8": "linux/arm64/",
		"linux/aarch64":  "linux/arm64/",
		"linux/arm":      "linux/arm/v7",
		"linux/arm/v6":   "linux/arm/v6",
		"Linux/AMD64":    "linux/amd64/",
		"windows/amd64":  "windows/amd64/",
		"linux/riscv64":  "linux/riscv64/",
	} {
		p, err := parsePlatform(in)
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if got := p.OS + "/" + p.Architecture + "/" + p.Variant; got != want {
			t.Errorf("%s: %s, want %s", in, got, want)
		}
	}
	for _, bad := range []string{"", "linux//", "a/b/c/d"} {
		if _, err := parsePlatform(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestPrintEvent(t *testing.T) {
	ev := events.Message{
		Type:   events.ContainerEventType,
		Action: events.ActionStart,
		Actor: events.Actor{
			ID:         "8d433b4d2823e807c31860c591a8106bf5ac6566129640b6e00292eb63f32479",
			Attributes: map[string]string{"name": "web", "image": "busybox"},
		},
		Scope:    "local",
		Time:     1704067200,
		TimeNano: time.Date(2024, 1, 1, 0, 0, 0, 5, time.UTC).UnixNano(),
	}
	var b bytes.Buffer
	t.Setenv("TZ", "UTC")
	if err := printEvent(&b, fevents.FromAPI(ev), nil); err != nil {
		t.Fatal(err)
	}
	ts := time.Unix(0, ev.TimeNano).Format("2006-01-02T15:04:05.000000000Z07:00")
	if want := ts + " container start 8d433b4d2823e807c31860c591a8106bf5ac6566129640b6e00292eb63f32479 (image=busybox, name=web)\n"; b.String() != want {
		t.Errorf("got  %q\nwant %q", b.String(), want)
	}
	b.Reset()
	tmpl, err := eventsTemplate("json")
	if err != nil {
		t.Fatal(err)
	}
	if err := printEvent(&b, fevents.FromAPI(ev), tmpl); err != nil {
		t.Fatal(err)
	}
	want := `{"status":"start","id":"8d433b4d2823e807c31860c591a8106bf5ac6566129640b6e00292eb63f32479","from":"busybox","Type":"container","Action":"start","Actor":{"ID":"8d433b4d2823e807c31860c591a8106bf5ac6566129640b6e00292eb63f32479","Attributes":{"image":"busybox","name":"web"}},"scope":"local","time":1704067200,"timeNano":1704067200000000005}` + "\n"
	if b.String() != want {
		t.Errorf("json:\n got  %s\n want %s", b.String(), want)
	}
}

// Templates fall back to the daemon's JSON for what the typed value lacks,
// keeping the typed printing of what it has.
func TestInspectTemplateFallback(t *testing.T) {
	raw := []byte(`{"Id":"abc","Name":"/web","Config":{"Env":null,"Cmd":["httpd"],"ExposedPorts":{"80/tcp":{},"7000/tcp":{}}},
		"NetworkSettings":{"IPAddress":"10.0.0.2","Ports":{"80/tcp":[{"HostIp":"0.0.0.0","HostPort":"8080"}],"7000/tcp":null}},
		"HostConfig":{"Binds":null}}`)
	var typed container.InspectResponse
	if err := json.Unmarshal(raw, &typed); err != nil {
		t.Fatal(err)
	}
	for format, want := range map[string]string{
		`{{.Name}} {{.Config.Cmd}}`: "/web [httpd]\n",
		`{{.NetworkSettings.IPAddress}} {{.Config.Env}} {{.HostConfig.Binds}}`: "10.0.0.2 [] []\n",
		`{{(index (index .NetworkSettings.Ports "80/tcp") 0).HostPort}}`:       "8080\n",
		`{{range $p, $b := .NetworkSettings.Ports}}{{$p}} {{end}}`:             "7000/tcp 80/tcp \n",
		`{{.Config.ExposedPorts}}`:                                             "map[7000/tcp:{} 80/tcp:{}]\n",
		`{{.NetworkSettings.IPAddress}} {{.NetworkSettings.Ports}}`:            "10.0.0.2 map[7000/tcp:[] 80/tcp:[{0.0.0.0 8080}]]\n",
	} {
		tmpl, err := parseInspectTemplate(format)
		if err != nil {
			t.Fatal(err)
		}
		ins := &templateInspector{tmpl: tmpl}
		if err := ins.inspect(&typed, raw); err != nil {
			t.Errorf("%s: %v", format, err)
			continue
		}
		var b bytes.Buffer
		_ = ins.flush(&b)
		if b.String() != want {
			t.Errorf("%s:\n got  %q\n want %q", format, b.String(), want)
		}
	}
	tmpl, _ := parseInspectTemplate(`{{.Nope}}`)
	ins := &templateInspector{tmpl: tmpl}
	err := ins.inspect(&typed, raw)
	if err == nil || err.Error() != `template parsing error: template: :1:2: executing "" at <.Nope>: map has no entry for key "Nope"` {
		t.Errorf("err = %v", err)
	}
}
