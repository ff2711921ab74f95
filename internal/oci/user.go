package oci

import (
	"bytes"
	"fmt"
	"io"
	"slices"

	"github.com/containerd/errdefs"
	"github.com/moby/sys/user"
	"github.com/opencontainers/runtime-spec/specs-go"
)

// resolvedUser is a container process's identity and home directory.
type resolvedUser struct {
	specs.User
	Home string
}

// resolveUser resolves a Docker user spec ("", "name", "uid", "uid:gid",
// "name:group", ...) against the container's /etc/passwd and /etc/group,
// as Docker's getUser does, plus the --group-add groups. The additional
// gids are Docker's: the primary gid first, then the user's supplementary
// groups from /etc/group, then --group-add.
//
// A user missing from /etc/passwd is an error unless numeric; its home is
// "/", as runc would give it.
func resolveUser(rootfs, spec string, groupAdd []string) (resolvedUser, error) {
	passwd, err := readFileInRoot(rootfs, "/etc/passwd")
	if err != nil {
		return resolvedUser{}, fmt.Errorf("reading the container's /etc/passwd: %w", err)
	}
	group, err := readFileInRoot(rootfs, "/etc/group")
	if err != nil {
		return resolvedUser{}, fmt.Errorf("reading the container's /etc/group: %w", err)
	}

	eu, err := user.GetExecUser(spec, &user.ExecUser{Home: "/"}, reader(passwd), reader(group))
	if err != nil {
		// Docker's text: "unable to find user foo: no matching entries in passwd file".
		return resolvedUser{}, errdefs.ErrInvalidArgument.WithMessage(err.Error())
	}
	u := resolvedUser{Home: eu.Home}
	u.UID = uint32(eu.Uid)
	u.GID = uint32(eu.Gid)
	u.AdditionalGids = []uint32{u.GID}
	for _, g := range eu.Sgids {
		u.AdditionalGids = append(u.AdditionalGids, uint32(g))
	}
	if len(groupAdd) > 0 {
		extra, err := user.GetAdditionalGroups(groupAdd, reader(group))
		if err != nil {
			return resolvedUser{}, errdefs.ErrInvalidArgument.WithMessage(err.Error())
		}
		// GetAdditionalGroups returns them in map order; keep the spec stable.
		slices.Sort(extra)
		for _, g := range extra {
			u.AdditionalGids = append(u.AdditionalGids, uint32(g))
		}
	}
	return u, nil
}

// reader returns nil for a missing file: moby/sys/user distinguishes "no
// file" (any numeric id is fine) from "empty file".
func reader(b []byte) io.Reader {
	if b == nil {
		return nil
	}
	return bytes.NewReader(b)
}
