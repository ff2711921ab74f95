// Package bench holds Go benchmarks of the engine through the SDK, as a
// client library sees it: run --rm latency (default bridge and no
// network), create+start, exec. They run against the engine the e2e
// harness provides (a private berth by default; E2E_DOCKER_HOST and
// E2E_TARGET pick another), and start nothing unless a benchmark runs:
//
//	go test -run '^$' -bench . ./test/bench
//	E2E_TARGET=docker go test -run '^$' -bench . ./test/bench
//
// bench/bench.sh runs them against berth and the reference dockerd side by
// side, with the CLI measurements.
package bench
