// Package storage holds the end-to-end tests of volumes and mounts
// (issue 5): named and anonymous volumes, their pre-population from the
// image, binds, tmpfs, --volumes-from, read-only roots, reference
// counting across container removal and daemon restarts, the volume
// CLI, and bad input — including mount targets that are symlinks out of
// the container's root — driven by the stock docker CLI and the berth
// CLI against a running engine.
//
// Run them as root with
//
//	go test ./test/storage                      # a private berth daemon
//	E2E_TARGET=docker go test ./test/storage    # a private reference dockerd
//
// See package test/internal/e2e for the harness and its environment.
package storage
