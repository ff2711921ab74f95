// Package core holds the end-to-end tests of the engine core (issue 2):
// what a user does with the stock docker CLI and the berth CLI against a
// running engine — run, ports, logs, exec, lifecycle, restart policies,
// events, bad input — and berth's daemon restart with live containers.
//
// The tests are in _test.go files; run them as root with
//
//	go test ./test/core                                           # a private berth daemon
//	E2E_TARGET=docker go test ./test/core                         # a private reference dockerd
//	E2E_DOCKER_HOST=unix:///x.sock E2E_TARGET=docker go test ./test/core  # a running engine
//
// See package test/internal/e2e for the harness and its environment.
package core
