package storage

import (
	"context"
	"slices"
	"testing"

	"github.com/moby/moby/client"

	"github.com/berth-dev/berth/test/internal/e2e"
)

// Bad volume names, options, drivers and mount specifications are
// refused with Docker's messages, and create nothing: no container, no
// volume. Not parallel: it compares the engine's whole volume list.
func TestBadMountsCreateNothing(t *testing.T) {
	e := e2e.Current(t)
	src := t.TempDir()
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		before := allVolumes(t, e)
		name := e.Name(t)
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"-v", "a/b:/x"}, `create a/b: "a/b" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`},
			{[]string{"--mount", "type=volume,src=a/b,dst=/x"}, `create a/b: "a/b" includes invalid characters for a local volume name`},
			{[]string{"--mount", "type=volume,src=x,dst=/x"}, "create x: volume name is too short, names should be at least two alphanumeric characters"},
			{[]string{"-v", src + ":rel"}, "invalid volume specification: '" + src + ":rel': invalid mount config for type \"bind\": invalid mount path: 'rel' mount path must be absolute"},
			{[]string{"-v", src + ":/x:bogus"}, "invalid mode: bogus"},
			{[]string{"-v", src + ":/x:ro,rw"}, "invalid mode: ro,rw"},
			{[]string{"-v", src + ":/x:z,Z"}, "invalid mode: z,Z"},
			{[]string{"-v", src + ":/x:nocopy"}, "invalid volume specification: '" + src + ":/x:nocopy': invalid mount config for type \"bind\": field VolumeOptions must not be specified"},
			{[]string{"-v", "e2evol1:/x:rshared"}, "invalid volume specification: 'e2evol1:/x:rshared': invalid mount config for type \"volume\": field BindOptions must not be specified"},
			{[]string{"-v", "a:b:c:d"}, "invalid volume specification: 'a:b:c:d'"},
			{[]string{"-v", src + ":/"}, "invalid volume specification: '" + src + ":/': invalid mount config for type \"bind\": invalid specification: destination can't be '/'"},
			{[]string{"--mount", "type=bind,src=" + src + ",dst=rel"}, `invalid mount config for type "bind": invalid mount path: 'rel' mount path must be absolute`},
			{[]string{"--mount", "type=bind,src=" + src + ",dst=/"}, `invalid mount config for type "bind": invalid specification: destination can't be '/'`},
			{[]string{"--mount", "type=bind,dst=/x"}, `invalid mount config for type "bind": field Source must not be empty`},
			{[]string{"--mount", "type=tmpfs,src=foo,dst=/x"}, `invalid mount config for type "tmpfs": field Source must not be specified`},
			{[]string{"--mount", "type=bogus,dst=/x"}, `invalid mount config for type "bogus": mount type unknown`},
			{[]string{"--mount", "type=volume,dst=/x,volume-opt=foo=bar"}, `invalid option: "foo"`},
			{[]string{"--mount", "type=volume,src=e2evol2,dst=/x,volume-opt=type=tmpfs"}, `create e2evol2: missing required option: "device"`},
			{[]string{"--mount", "type=volume,src=e2evol3,dst=/x,volume-driver=nope"}, `create e2evol3: error looking up volume plugin nope: plugin "nope" not found`},
			{[]string{"--volume-driver", "nope", "-v", "e2evol4:/x"}, `create e2evol4: error looking up volume plugin nope: plugin "nope" not found`},
			{[]string{"--volume-driver", "nope", "-v", "/x"}, `error looking up volume plugin nope: plugin "nope" not found`},
			{[]string{"-v", src + ":/x", "-v", "e2evol5:/x"}, "Duplicate mount point: /x"},
			{[]string{"-v", src + ":/x", "--mount", "type=tmpfs,dst=/x"}, "Duplicate mount point: /x"},
			{[]string{"--tmpfs", "/x", "-v", "e2evol6:/x"}, "Duplicate mount point: /x"},
			{[]string{"--volumes-from", "e2e-no-such-container"}, "No such container: e2e-no-such-container"},
			{[]string{"-v", "/x", "--volumes-from", "e2e-no-such-container"}, "No such container: e2e-no-such-container"},
		} {
			// --pull never: Docker answers an unknown volume driver with
			// 404, which docker run would take for a missing image.
			run := append(append([]string{"create", "--pull", "never", "--name", name}, tc.args...), e2e.Image, "true")
			c.Run(t, run...).Assert(t, 1, tc.want)
			run[0] = "run"
			c.Run(t, run...).Assert(t, 125, tc.want)
			if e.Exists(t, name) {
				t.Fatalf("%v: a container was created", tc.args)
			}
		}
		if e.Kind == e2e.KindDocker {
			// Docker 20.10 creates the volume of a -v that duplicates
			// an earlier bind's destination before it finds the
			// duplicate, and keeps it (as it keeps e2evol10 below);
			// berth checks every mount before it creates anything.
			removeVolume(e, "e2evol5")
		}
		if after := allVolumes(t, e); !slices.Equal(before, after) {
			t.Errorf("volumes changed: %v, were %v", after, before)
		}
		// A volume made for a create that fails further on goes again in
		// berth; Docker keeps it.
		c.Run(t, "create", "--name", name, "-v", "e2evol10:/a", "--mount", "type=volume,src=a/b,dst=/b", e2e.Image, "true").
			Assert(t, 1, `create a/b: "a/b" includes invalid characters`)
		if _, ok := inspectVolume(t, e, "e2evol10"); ok && e.Kind == e2e.KindBerth {
			t.Error("a failed create left the volume it made")
		}
		removeVolume(e, "e2evol10")

		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"a/b"}, `create a/b: "a/b" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`},
			{[]string{"/abs"}, `create /abs: "/abs" includes invalid characters for a local volume name`},
			{[]string{"x"}, "create x: volume name is too short, names should be at least two alphanumeric characters"},
			{[]string{"-d", "nope", "e2evol7"}, `create e2evol7: error looking up volume plugin nope: plugin "nope" not found`},
			{[]string{"-o", "foo=bar", "e2evol8"}, `create e2evol8: invalid option: "foo"`},
			{[]string{"-o", "type=tmpfs", "e2evol9"}, `create e2evol9: missing required option: "device"`},
			{[]string{"-o", "o=size=1m", "e2evol9"}, `create e2evol9: missing required option: "device"`},
		} {
			c.Run(t, append([]string{"volume", "create"}, tc.args...)...).Assert(t, 1, tc.want)
		}
		if after := allVolumes(t, e); !slices.Equal(before, after) {
			t.Errorf("volumes changed: %v, were %v", after, before)
		}
		c.Run(t, "volume", "ls", "-f", "nope=1").AssertAny(t, 1, "invalid filter 'nope'", "Invalid filter 'nope'")
		c.Run(t, "volume", "ls", "-f", "dangling=maybe").AssertAny(t, 1, "invalid filter 'dangling=[maybe]'", "Invalid filter 'dangling=[maybe]'")
	})
}

func allVolumes(t *testing.T, e *e2e.Engine) []string {
	t.Helper()
	res, err := e.Client(t).VolumeList(context.Background(), client.VolumeListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, v := range res.Items {
		out = append(out, v.Name)
	}
	slices.Sort(out)
	return out
}
