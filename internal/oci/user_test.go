package oci

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/runtime-spec/specs-go"
)

func TestResolveUser(t *testing.T) {
	rootfs := testRootfs(t)
	tests := []struct {
		spec     string
		groupAdd []string
		want     specs.User
		home     string
		wantErr  string
	}{
		{spec: "", want: specs.User{UID: 0, GID: 0, AdditionalGids: []uint32{0}}, home: "/root"},
		{spec: "root", want: specs.User{UID: 0, GID: 0, AdditionalGids: []uint32{0}}, home: "/root"},
		{spec: "app", want: specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{1000, 50}}, home: "/home/app"},
		{spec: "1000", want: specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{1000, 50}}, home: "/home/app"},
		{spec: "app:staff", want: specs.User{UID: 1000, GID: 50, AdditionalGids: []uint32{50}}, home: "/home/app"},
		{spec: "app:4242", want: specs.User{UID: 1000, GID: 4242, AdditionalGids: []uint32{4242}}, home: "/home/app"},
		{spec: "1000:1000", want: specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{1000}}, home: "/home/app"},
		{spec: "4242", want: specs.User{UID: 4242, GID: 0, AdditionalGids: []uint32{0}}, home: "/"},
		{spec: "4242:4343", want: specs.User{UID: 4242, GID: 4343, AdditionalGids: []uint32{4343}}, home: "/"},
		{spec: "nobody", want: specs.User{UID: 65534, GID: 65534, AdditionalGids: []uint32{65534}}, home: "/nonexistent"},
		{spec: "nobody", groupAdd: []string{"staff", "7"}, want: specs.User{UID: 65534, GID: 65534, AdditionalGids: []uint32{65534, 7, 50}}, home: "/nonexistent"},
		{spec: "nosuch", wantErr: "unable to find user nosuch: no matching entries in passwd file"},
		{spec: "app:nosuch", wantErr: "unable to find group nosuch: no matching entries in group file"},
		{spec: "", groupAdd: []string{"nosuch"}, wantErr: "unable to find group nosuch: no matching entries in group file"},
	}
	for _, tc := range tests {
		t.Run(tc.spec+"+"+strings.Join(tc.groupAdd, ","), func(t *testing.T) {
			u, err := resolveUser(rootfs, tc.spec, tc.groupAdd)
			if tc.wantErr != "" {
				wantInvalidArgument(t, err, tc.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			eq(t, "user", u.User, tc.want)
			eq(t, "home", u.Home, tc.home)
		})
	}
}

func TestResolveUserWithoutEtc(t *testing.T) {
	rootfs := t.TempDir()
	u, err := resolveUser(rootfs, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "root", u, resolvedUser{User: specs.User{AdditionalGids: []uint32{0}}, Home: "/"})
	if u, err = resolveUser(rootfs, "123:456", []string{"789"}); err != nil {
		t.Fatal(err)
	}
	eq(t, "numeric", u.User, specs.User{UID: 123, GID: 456, AdditionalGids: []uint32{456, 789}})
	if _, err := resolveUser(rootfs, "app", nil); err == nil || err.Error() != "unable to find user app: no matching entries in passwd file" {
		t.Errorf("error %v for a named user without /etc/passwd", err)
	}
	if _, err := resolveUser(filepath.Join(rootfs, "nosuch"), "", nil); err == nil {
		t.Errorf("no error for a rootfs that does not exist")
	}
}

// TestReadFileInRootConfined plants symlinks in an image that point at the
// host's files, every way a path can escape: the user database read must
// be the image's, or nothing, never the host's. Both the openat2 path and
// the fallback walk are checked.
func TestReadFileInRootConfined(t *testing.T) {
	// The "host": a passwd outside the rootfs with a user that must never
	// be seen.
	hostDir := t.TempDir()
	hostPasswd := filepath.Join(hostDir, "passwd")
	writeFile(t, hostPasswd, "evil:x:666:666::/evil:/bin/sh\n")

	imagePasswd := "root:x:0:0:root:/root:/bin/sh\nimage:x:7:7::/image:/bin/sh\n"

	tests := []struct {
		name  string
		setup func(t *testing.T, root string)
		want  string // "" means treated as missing
		err   string // a substring of the error
	}{
		{
			name:  "regular file",
			setup: func(t *testing.T, root string) { writeFile(t, filepath.Join(root, "etc/passwd"), imagePasswd) },
			want:  imagePasswd,
		},
		{
			name: "absolute symlink to the host path",
			setup: func(t *testing.T, root string) {
				symlink(t, hostPasswd, filepath.Join(root, "etc/passwd"))
			},
		},
		{
			name: "absolute symlink resolves inside the rootfs",
			setup: func(t *testing.T, root string) {
				// The same host path, but inside the image: that one is read.
				writeFile(t, filepath.Join(root, hostPasswd), imagePasswd)
				symlink(t, hostPasswd, filepath.Join(root, "etc/passwd"))
			},
			want: imagePasswd,
		},
		{
			name: "relative symlink climbing out",
			setup: func(t *testing.T, root string) {
				rel, err := filepath.Rel(filepath.Join(root, "etc"), hostPasswd)
				if err != nil {
					t.Fatal(err)
				}
				symlink(t, rel, filepath.Join(root, "etc/passwd"))
			},
		},
		{
			name: "many dot-dots",
			setup: func(t *testing.T, root string) {
				symlink(t, strings.Repeat("../", 40)+hostPasswd, filepath.Join(root, "etc/passwd"))
			},
		},
		{
			name: "etc itself a symlink to the host directory",
			setup: func(t *testing.T, root string) {
				symlink(t, hostDir, filepath.Join(root, "etc"))
			},
		},
		{
			name: "etc a relative symlink to the host directory",
			setup: func(t *testing.T, root string) {
				rel, err := filepath.Rel(root, hostDir)
				if err != nil {
					t.Fatal(err)
				}
				symlink(t, rel, filepath.Join(root, "etc"))
			},
		},
		{
			name: "symlink chain ending outside",
			setup: func(t *testing.T, root string) {
				symlink(t, "/a", filepath.Join(root, "etc/passwd"))
				symlink(t, "b/../../../../../.."+hostPasswd, filepath.Join(root, "a"))
				if err := os.Mkdir(filepath.Join(root, "b"), 0o755); err != nil {
					t.Fatal(err)
				}
			},
		},
		{
			name: "symlink chain staying inside",
			setup: func(t *testing.T, root string) {
				writeFile(t, filepath.Join(root, "lib/db/passwd"), imagePasswd)
				symlink(t, "../lib/db/./passwd", filepath.Join(root, "etc/passwd"))
			},
			want: imagePasswd,
		},
		{
			name: "symlink loop",
			setup: func(t *testing.T, root string) {
				symlink(t, "/etc/passwd", filepath.Join(root, "etc/passwd"))
			},
			err: "too many levels of symbolic links",
		},
		{
			name: "/proc/self magic link",
			setup: func(t *testing.T, root string) {
				// Inside the root there is no /proc: this resolves to
				// root/proc/self/root/..., which does not exist.
				symlink(t, "/proc/self/root"+hostPasswd, filepath.Join(root, "etc/passwd"))
			},
		},
		{
			name: "a FIFO does not block",
			setup: func(t *testing.T, root string) {
				if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := syscall.Mkfifo(filepath.Join(root, "etc/passwd"), 0o644); err != nil {
					t.Fatal(err)
				}
			},
			err: "is not a regular file",
		},
		{
			name: "a device node is not even opened",
			setup: func(t *testing.T, root string) {
				if os.Geteuid() != 0 {
					t.Skip("mknod needs root")
				}
				if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
					t.Fatal(err)
				}
				// /dev/zero: read naively, it would never end.
				if err := syscall.Mknod(filepath.Join(root, "etc/passwd"), syscall.S_IFCHR|0o644, 1<<8|5); err != nil {
					t.Fatal(err)
				}
			},
			err: "is not a regular file",
		},
		{
			name: "a directory",
			setup: func(t *testing.T, root string) {
				if err := os.MkdirAll(filepath.Join(root, "etc/passwd"), 0o755); err != nil {
					t.Fatal(err)
				}
			},
			err: "is not a regular file",
		},
		{
			name: "too large",
			setup: func(t *testing.T, root string) {
				writeFile(t, filepath.Join(root, "etc/passwd"), "")
				if err := os.Truncate(filepath.Join(root, "etc/passwd"), maxUserFileBytes+1); err != nil {
					t.Fatal(err)
				}
			},
			err: "larger than",
		},
		{
			name: "etc is a file",
			setup: func(t *testing.T, root string) {
				writeFile(t, filepath.Join(root, "etc"), "x")
			},
		},
	}
	for _, mode := range []struct {
		name    string
		openat2 bool
	}{{"openat2", true}, {"walk", false}} {
		t.Run(mode.name, func(t *testing.T) {
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					root := t.TempDir()
					tc.setup(t, root)
					done := make(chan struct{})
					var got []byte
					var err error
					go func() {
						defer close(done)
						got, err = readFileInRootWith(root, "/etc/passwd", mode.openat2)
					}()
					select {
					case <-done:
					case <-time.After(5 * time.Second):
						t.Fatal("reading /etc/passwd blocked")
					}
					if strings.Contains(string(got), "evil") {
						t.Fatalf("read the host's file: %q", got)
					}
					if tc.err != "" {
						if err == nil || !strings.Contains(err.Error(), tc.err) {
							t.Fatalf("error %v, want one containing %q", err, tc.err)
						}
						return
					}
					if err != nil {
						t.Fatal(err)
					}
					if tc.want == "" {
						if got != nil {
							t.Fatalf("read %q, want the file treated as missing", got)
						}
						return
					}
					eq(t, "content", string(got), tc.want)
				})
			}
		})
	}
}

// TestResolveUserIgnoresHostPasswd is the end-to-end version: a user that
// exists only in the host file behind a planted symlink is not found.
func TestResolveUserIgnoresHostPasswd(t *testing.T) {
	hostDir := t.TempDir()
	writeFile(t, filepath.Join(hostDir, "passwd"), "evil:x:666:666::/evil:/bin/sh\n")
	writeFile(t, filepath.Join(hostDir, "group"), "evilgrp:x:667:\n")
	root := t.TempDir()
	symlink(t, hostDir, filepath.Join(root, "etc"))
	if u, err := resolveUser(root, "evil", nil); err == nil {
		t.Fatalf("resolved %+v from the host's passwd", u)
	}
	if u, err := resolveUser(root, "", []string{"evilgrp"}); err == nil {
		t.Fatalf("resolved %+v from the host's group", u)
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}
