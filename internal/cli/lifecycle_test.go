package cli

import (
	"strings"
	"testing"
)

// TestLifecycleCLI checks what a user sees (stdout, stderr, exit status)
// from the lifecycle commands against a fake daemon. The expectations are
// the docker 28 CLI's output with "docker" read as "berth".
func TestLifecycleCLI(t *testing.T) {
	d := newFakeDaemon(t, "1.50")
	t.Setenv("DOCKER_CONFIG", t.TempDir())

	const runHelp = "\n\nRun 'berth run --help' for more information\n"
	tests := []struct {
		args       []string
		code       int
		stdout     string
		stderr     string // exact, unless stderrHas is set
		stderrHas  []string
		stdoutHas  string
		skipStdout bool
	}{
		{args: []string{"run"}, code: 1,
			stderr: "berth: 'berth run' requires at least 1 argument\n\nUsage:  berth run [OPTIONS] IMAGE [COMMAND] [ARG...]\n\nSee 'berth run --help' for more information\n"},
		{args: []string{"container", "run"}, code: 1,
			stderr: "berth: 'berth container run' requires at least 1 argument\n\nUsage:  berth container run [OPTIONS] IMAGE [COMMAND] [ARG...]\n\nSee 'berth container run --help' for more information\n"},
		{args: []string{"run", "--foo", "busybox"}, code: 125,
			stderr: "unknown flag: --foo\n\nUsage:  berth run [OPTIONS] IMAGE [COMMAND] [ARG...]\n\nRun 'berth run --help' for more information\n"},
		{args: []string{"run", "-m", "1x", "busybox"}, code: 125,
			stderr: "invalid argument \"1x\" for \"-m, --memory\" flag: invalid suffix: 'x'\n\nUsage:  berth run [OPTIONS] IMAGE [COMMAND] [ARG...]\n\nRun 'berth run --help' for more information\n"},
		{args: []string{"run", "-p", "x", "busybox"}, code: 125, stderr: "berth: invalid containerPort: x" + runHelp},
		{args: []string{"run", "--restart", "always", "--rm", "busybox"}, code: 125,
			stderr: "berth: conflicting options: cannot specify both --restart and --rm" + runHelp},
		{args: []string{"run", "--pull", "bad", "busybox"}, code: 125,
			stderr: "berth: invalid pull option: 'bad': must be one of \"always\", \"missing\" or \"never\"" + runHelp},
		{args: []string{"create", "--restart", "always", "--rm", "busybox"}, code: 125,
			stderr: "berth: conflicting options: cannot specify both --restart and --rm\n\nRun 'berth create --help' for more information\n"},
		{args: []string{"run", "UPPER"}, code: 125,
			stderr: "berth: invalid reference format: repository name (library/UPPER) must be lowercase" + runHelp},
		{args: []string{"run", "-a", "stdout", "-d", "busybox"}, code: 1,
			stderr: "conflicting options: cannot specify both --attach and --detach\n"},
		{args: []string{"run", "-it", "busybox"}, code: 1, stderr: "the input device is not a TTY\n"},
		{args: []string{"run", "-d", "busybox"}, code: 0, stdout: fakeContainerID + "\n"},
		{args: []string{"create", "busybox"}, code: 0, stdout: fakeContainerID + "\n"},
		{args: []string{"create", "warnimage"}, code: 0, stdout: fakeContainerID + "\n",
			stderr: "WARNING: Your kernel does not support swap limit capabilities.\n"},
		{args: []string{"run", "-d", "missingimg"}, code: 0, stdout: fakeContainerID + "\n",
			stderrHas: []string{"Unable to find image 'missingimg:latest' locally\n", "Status: Downloaded newer image for missingimg:latest\n"}},
		{args: []string{"run", "-d", "-q", "missingimg2"}, code: 0, stdout: fakeContainerID + "\n", stderr: ""},
		{args: []string{"run", "-d", "--pull", "never", "missingimg3"}, code: 125,
			stderr: "berth: Error response from daemon: No such image: missingimg3:latest" + runHelp},
		{args: []string{"create", "--pull", "never", "missingimg3"}, code: 1,
			stderr: "Error response from daemon: No such image: missingimg3:latest\n"},
		{args: []string{"run", "-d", "busybox", "nonexist"}, code: 127, skipStdout: true,
			stderr: "berth: Error response from daemon: failed to create task for container: exec: \"nonexist\": executable file not found in $PATH: unknown" + runHelp},
		{args: []string{"run", "--cpu-count", "1", "busybox"}, code: 1,
			stderr: "\"--cpu-count\" is only supported on a Docker daemon running on windows, but the Docker daemon is running on linux\n"},
		{args: []string{"stop", "a", "missing1", "b"}, code: 1, stdout: "a\nb\n",
			stderr: "Error response from daemon: No such container: missing1\n"},
		{args: []string{"kill", "missing1", "missing2"}, code: 1,
			stderr: "Error response from daemon: No such container: missing1\nError response from daemon: No such container: missing2\n"},
		{args: []string{"rm", "-f", "missing1", "a"}, code: 0, stdout: "a\n",
			stderr: "Error response from daemon: No such container: missing1\n"},
		{args: []string{"rm", "missing1"}, code: 1, stderr: "Error response from daemon: No such container: missing1\n"},
		{args: []string{"rm", "/"}, code: 1, stderr: "container name cannot be empty\n"},
		{args: []string{"container", "remove", "a"}, code: 0, stdout: "a\n"},
		{args: []string{"restart", "a", "missing1"}, code: 1, stdout: "a\n", stderr: "Error response from daemon: No such container: missing1\n"},
		{args: []string{"pause", "a"}, code: 0, stdout: "a\n"},
		{args: []string{"unpause", "missing1"}, code: 1, stderr: "Error response from daemon: No such container: missing1\n"},
		{args: []string{"start", "a", "missing1"}, code: 1, stdout: "a\n",
			stderr: "Error response from daemon: No such container: missing1\nError: failed to start containers: missing1\n"},
		{args: []string{"start", "-a", "a", "b"}, code: 1, stderr: "you cannot start and attach multiple containers at once\n"},
		{args: []string{"wait", "a", "missing1"}, code: 1, stdout: "0\n", stderr: "Error response from daemon: No such container: missing1\n"},
		{args: []string{"update", "a"}, code: 1, stderr: "you must provide one or more flags when using this command\n"},
		{args: []string{"update", "--restart", "always", "a", "missing1"}, code: 1, stdout: "a\n", stderr: "Error response from daemon: No such container: missing1\n"},
		{args: []string{"rename", " ", "x"}, code: 1, stderr: "Error: Neither old nor new names may be empty\n"},
		{args: []string{"rename", "missing1", "x"}, code: 1,
			stderr: "Error response from daemon: No such container: missing1\nError: failed to rename container named missing1\n"},
		{args: []string{"rename", "a"}, code: 1,
			stderr: "berth: 'berth rename' requires 2 arguments\n\nUsage:  berth rename CONTAINER NEW_NAME\n\nRun 'berth rename --help' for more information\n"},
		{args: []string{"exec", "a"}, code: 1,
			stderr: "berth: 'berth exec' requires at least 2 arguments\n\nUsage:  berth exec [OPTIONS] CONTAINER COMMAND [ARG...]\n\nSee 'berth exec --help' for more information\n"},
		{args: []string{"exec", "missing1", "true"}, code: 1, stderr: "Error response from daemon: No such container: missing1\n"},
		// pflag's deprecation notice goes to stdout, as with docker.
		{args: []string{"stop", "--time", "1", "--timeout", "1", "a"}, code: 1,
			stdout: "Flag --time has been deprecated, use --timeout instead\n",
			stderr: "conflicting options: cannot specify both --timeout and --time\n"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, stdout, stderr := runBerth(t, d.host, tt.args...)
			if code != tt.code {
				t.Errorf("exit status %d, want %d (stderr %q)", code, tt.code, stderr)
			}
			if !tt.skipStdout && stdout != tt.stdout {
				t.Errorf("stdout:\n got  %q\n want %q", stdout, tt.stdout)
			}
			if tt.stderrHas != nil {
				for _, s := range tt.stderrHas {
					if !strings.Contains(stderr, s) {
						t.Errorf("stderr %q does not contain %q", stderr, s)
					}
				}
			} else if stderr != tt.stderr {
				t.Errorf("stderr:\n got  %q\n want %q", stderr, tt.stderr)
			}
		})
	}
}

func TestToStatusError(t *testing.T) {
	tests := []struct {
		msg  string
		code int
	}{
		{`exec: "nonexist": executable file not found in $PATH`, 127},
		{`exec: "/x": stat /x: no such file or directory`, 127},
		{`exec: "/etc/passwd": permission denied`, 126},
		{`exec: "/etc": is a directory`, 126},
		{"Conflict. The container name \"/x\" is already in use", 125},
	}
	for _, tt := range tests {
		err := toStatusError(errorString(tt.msg))
		se, ok := err.(StatusError)
		if !ok || se.StatusCode != tt.code {
			t.Errorf("%q: got %#v, want status %d", tt.msg, err, tt.code)
			continue
		}
		if want := "berth: " + tt.msg + "\n\nRun 'berth run --help' for more information"; se.Status != want {
			t.Errorf("status %q, want %q", se.Status, want)
		}
	}
}

type errorString string

func (e errorString) Error() string { return string(e) }
