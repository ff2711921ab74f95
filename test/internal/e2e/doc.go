// Package e2e is the harness of berth's end-to-end tests: it provides the
// engine under test (a private berth daemon built from this tree, a private
// reference dockerd, or an already-running engine named by E2E_DOCKER_HOST),
// the busybox test image, runners for the stock docker CLI and the berth CLI,
// a pty runner for interactive commands, a Go SDK client, and checks for
// leftovers (processes, mounts, files, veths) that a failed operation must
// not leave behind.
//
// Environment:
//
//	E2E_DOCKER_HOST  use this running engine (unix:///path.sock) instead of starting one
//	E2E_TARGET       "berth" (default) or "docker": which engine the host is; berth-only
//	                 tests skip on docker. With E2E_TARGET=docker and no E2E_DOCKER_HOST,
//	                 a private dockerd (/usr/sbin/dockerd) is started on private roots.
//	E2E_BERTH        a prebuilt berth binary (otherwise built once per run by
//	                 scripts/build.sh, as `make build` builds it)
//	E2E_CLI          comma-separated CLIs to drive table tests with: "docker,berth"
//	                 (default for berth), "docker" (default for docker)
//	E2E_KEEP         keep the private roots and daemon log after the run (debugging)
//
// The expectations in the tests are Docker's: run the suite with
// E2E_TARGET=docker to check them against the reference engine.
package e2e
