//go:build tools

// Package tools pins the libraries chosen in the design before every one of
// them is imported by real code, so that go mod tidy keeps them.
package tools

import (
	_ "github.com/containerd/cgroups/v3/cgroup1"
	_ "github.com/creack/pty"
	_ "github.com/distribution/reference"
	_ "github.com/docker/go-connections/nat"
	_ "github.com/docker/go-units"
	_ "github.com/google/go-containerregistry/pkg/v1/remote"
	_ "github.com/google/nftables"
	_ "github.com/miekg/dns"
	_ "github.com/moby/docker-image-spec/specs-go/v1"
	_ "github.com/moby/go-archive"
	_ "github.com/moby/moby/client"
	_ "github.com/moby/profiles/seccomp"
	_ "github.com/moby/term"
	_ "github.com/opencontainers/go-digest"
	_ "github.com/opencontainers/image-spec/specs-go/v1"
	_ "github.com/opencontainers/runtime-spec/specs-go"
	_ "github.com/vishvananda/netlink"
	_ "github.com/vishvananda/netns"
	_ "go.etcd.io/bbolt"
	_ "golang.org/x/sys/unix"
	_ "golang.org/x/term"
)
