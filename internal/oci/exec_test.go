package oci

import (
	"encoding/json"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/opencontainers/runtime-spec/specs-go"
)

func TestExecProcess(t *testing.T) {
	base := func(t *testing.T, mod func(in *Input)) (*specs.Spec, string) {
		in := testInput(t)
		in.Config.Env = []string{"FROM_IMAGE=1"}
		in.Config.WorkingDir = "/srv"
		in.HostConfig.CapAdd = []string{"NET_ADMIN"}
		in.HostConfig.SecurityOpt = []string{"no-new-privileges"}
		in.HostConfig.OomScoreAdj = 300
		in.HostConfig.Ulimits = []*container.Ulimit{{Name: "nofile", Soft: 100, Hard: 200}}
		if mod != nil {
			mod(&in)
		}
		s, err := Spec(in)
		if err != nil {
			t.Fatal(err)
		}
		return s, in.Rootfs
	}

	tests := []struct {
		name    string
		mod     func(in *Input)
		exec    ExecInput
		wantErr string
		check   func(t *testing.T, base *specs.Spec, p *specs.Process)
	}{
		{
			name: "inherits the container's process",
			exec: ExecInput{Cmd: []string{"ls", "-l"}},
			check: func(t *testing.T, base *specs.Spec, p *specs.Process) {
				eq(t, "args", p.Args, []string{"ls", "-l"})
				eq(t, "cwd", p.Cwd, "/srv")
				eq(t, "user", p.User, base.Process.User)
				eq(t, "env", p.Env, base.Process.Env)
				eq(t, "caps", p.Capabilities, base.Process.Capabilities)
				eq(t, "rlimits", p.Rlimits, []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 100, Hard: 200}})
				eq(t, "nnp", p.NoNewPrivileges, true)
				eq(t, "oom", *p.OOMScoreAdj, 300)
				eq(t, "terminal", p.Terminal, false)
			},
		},
		{
			name: "overrides",
			exec: ExecInput{
				Cmd: []string{"sh"}, Env: []string{"X=1", "FROM_IMAGE=2"}, WorkingDir: "/tmp",
				Tty: true, ConsoleSize: [2]uint{24, 80},
			},
			check: func(t *testing.T, base *specs.Spec, p *specs.Process) {
				eq(t, "cwd", p.Cwd, "/tmp")
				eq(t, "terminal", p.Terminal, true)
				eq(t, "console", *p.ConsoleSize, specs.Box{Height: 24, Width: 80})
				eq(t, "env", p.Env, []string{"PATH=" + DefaultPathEnv, "HOSTNAME=0123456789ab", "FROM_IMAGE=2", "HOME=/root", "TERM=xterm", "X=1"})
			},
		},
		{
			name: "another user gets their own home and groups",
			mod:  func(in *Input) { in.HostConfig.GroupAdd = []string{"audio"} },
			exec: ExecInput{Cmd: []string{"id"}, User: "app", GroupAdd: []string{"audio"}},
			check: func(t *testing.T, base *specs.Spec, p *specs.Process) {
				eq(t, "user", p.User, specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{1000, 50, 29}})
				mustHaveEnv(t, p.Env, "HOME=/home/app")
				eq(t, "base user untouched", base.Process.User.UID, uint32(0))
			},
		},
		{
			name: "an image's HOME stays",
			mod:  func(in *Input) { in.Config.Env = []string{"HOME=/data"} },
			exec: ExecInput{Cmd: []string{"id"}, User: "app"},
			check: func(t *testing.T, base *specs.Spec, p *specs.Process) {
				mustHaveEnv(t, p.Env, "HOME=/data")
			},
		},
		{
			name: "no TERM in a non-tty exec of a tty container",
			mod:  func(in *Input) { in.Config.Tty = true },
			exec: ExecInput{Cmd: []string{"env"}},
			check: func(t *testing.T, base *specs.Spec, p *specs.Process) {
				if _, ok := lookupEnv(p.Env, "TERM"); ok {
					t.Errorf("TERM in %q", p.Env)
				}
				mustHaveEnv(t, base.Process.Env, "TERM=xterm")
			},
		},
		{
			name: "privileged exec gets what the daemon holds",
			exec: ExecInput{Cmd: []string{"sh"}, Privileged: true, Host: testHost()},
			check: func(t *testing.T, base *specs.Spec, p *specs.Process) {
				eq(t, "bounding", p.Capabilities.Bounding, capsFromMask(thisMachineCaps))
				eq(t, "base caps untouched", base.Process.Capabilities.Bounding, append(DefaultCapabilities(), "CAP_NET_ADMIN"))
			},
		},
		{
			name:    "no command",
			exec:    ExecInput{},
			wantErr: "No exec command specified",
		},
		{
			name:    "relative working dir",
			exec:    ExecInput{Cmd: []string{"sh"}, WorkingDir: "tmp"},
			wantErr: "the working directory 'tmp' is invalid, it needs to be an absolute path",
		},
		{
			name:    "unknown user",
			exec:    ExecInput{Cmd: []string{"sh"}, User: "nosuch"},
			wantErr: "unable to find user nosuch: no matching entries in passwd file",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, rootfs := base(t, tc.mod)
			before, _ := json.Marshal(s)
			p, err := ExecProcess(s, rootfs, tc.exec)
			if tc.wantErr != "" {
				wantInvalidArgument(t, err, tc.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, s, p)
			// The exec's process must not share memory with the container's.
			p.Env[0] = "CHANGED=1"
			if len(p.Capabilities.Bounding) > 0 {
				p.Capabilities.Bounding[0] = "CAP_CHANGED"
			}
			if after, _ := json.Marshal(s); string(after) != string(before) {
				t.Errorf("ExecProcess or its result changed the container's spec")
			}
		})
	}
}

func TestExecProcessWithoutProcess(t *testing.T) {
	if _, err := ExecProcess(&specs.Spec{}, "/", ExecInput{Cmd: []string{"sh"}}); !errdefs.IsInvalidArgument(err) {
		t.Errorf("error %v, want InvalidArgument", err)
	}
}

func TestReplaceOrAppendEnv(t *testing.T) {
	tests := []struct {
		defaults, overrides, want []string
	}{
		{[]string{"A=1", "B=2"}, nil, []string{"A=1", "B=2"}},
		{[]string{"A=1", "B=2"}, []string{"B=3", "C=4"}, []string{"A=1", "B=3", "C=4"}},
		{[]string{"A=1", "B=2"}, []string{"A"}, []string{"B=2"}},
		{[]string{"A=1"}, []string{"C=1", "C"}, []string{"A=1"}},
		{[]string{"A=1"}, []string{"A=", "B=x=y"}, []string{"A=", "B=x=y"}},
	}
	for _, tc := range tests {
		in := append([]string(nil), tc.defaults...)
		eq(t, "env", replaceOrAppendEnv(in, tc.overrides), tc.want)
		eq(t, "defaults untouched", in, tc.defaults)
	}
}

func TestMergeTmpfsOptions(t *testing.T) {
	got, err := mergeTmpfsOptions([]string{"noexec", "nosuid", "nodev", "rprivate", "size=1m", "exec", "size=2m", "shared", "defaults"})
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "options", got, []string{"nosuid", "nodev", "exec", "size=2m", "shared"})
}
