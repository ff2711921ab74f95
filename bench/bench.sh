#!/usr/bin/env bash
# berth side by side with the reference dockerd (Debian's docker.io), both
# on private roots, sockets and bridges, driven by the stock docker CLI.
# Prints a table of latencies, throughput and memory with berth/docker
# ratios, and checks the issue's targets. Cleans up everything it started.
#
# Environment: N (run --rm repetitions, 20), M (containers for create+start
# and memory, 50), BERTH (a prebuilt berth binary; default bin/berth, else
# built), DOCKERD (/usr/sbin/dockerd; BENCH_DOCKER=0 skips the reference),
# BENCH_GO=0 skips the Go SDK benchmarks (test/bench), KEEP=1 keeps the
# work dir for inspection.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

N=${N:-20}
M=${M:-50}
DOCKER_CLI=${DOCKER_CLI:-$(command -v /usr/local/bin/docker || command -v docker)}
DOCKERD=${DOCKERD:-/usr/sbin/dockerd}
BENCH_DOCKER=${BENCH_DOCKER:-1}
BENCH_GO=${BENCH_GO:-1}

[ "$(id -u)" = 0 ] || { echo "bench.sh: needs root (it starts container engines)" >&2; exit 1; }

W=$(mktemp -d /tmp/berth-bench.XXXXXX)
echo $$ >"$W/owner.pid"
SUFFIX=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
BERTH_BRIDGE=bbb$SUFFIX   # 9 chars
DOCKER_BRIDGE=bbd$SUFFIX
FAILED=0
. bench/lib.sh


cleanup() {
	set +e
	for e in berth docker; do
		sock=$(sock_of $e)
		[ -S "$sock" ] || continue
		ids=$(DOCKER_HOST=unix://$sock "$DOCKER_CLI" ps -aq 2>/dev/null)
		[ -n "$ids" ] && DOCKER_HOST=unix://$sock "$DOCKER_CLI" rm -f $ids >/dev/null 2>&1
		# Networks outlive their daemon (bridges, berth's tables): remove them.
		DOCKER_HOST=unix://$sock "$DOCKER_CLI" network prune -f >/dev/null 2>&1
	done
	stop_engines
	# Anything still running our private binary, or naming our dir, is ours.
	for p in $(pids_of_exe "$W/bin/berth") $(pids_naming "$W"); do
		kill -KILL "$p" 2>/dev/null
	done
	if [ -n "${KEEP:-}" ]; then log "kept $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM


pids_of_exe() {
	for d in /proc/[0-9]*; do
		[ "$(readlink "$d/exe" 2>/dev/null)" = "$1" ] && echo "${d#/proc/}"
	done
	return 0
}

pids_naming() {
	local d c
	for d in /proc/[0-9]*; do
		[ "${d#/proc/}" = "$$" ] && continue
		c=$({ tr '\0' ' ' <"$d/cmdline"; } 2>/dev/null) || continue
		[[ $c == *"$1"* ]] && echo "${d#/proc/}"
	done
	return 0
}

# Shims run as `<berth> shim`, from the shim program appended to berth (a
# memfd of the daemon, which /proc/<pid>/exe names) or from berth itself:
# tell them by their command line.
pids_of_shims() {
	local d c
	for d in /proc/[0-9]*; do
		c=$({ tr '\0' ' ' <"$d/cmdline"; } 2>/dev/null) || continue
		[[ $c == "$1 shim "* ]] && echo "${d#/proc/}"
	done
	return 0
}

# The shim program the daemon holds in a memfd: shared memory that is
# paid once, and that no process's RSS shows in full.
shim_memfd_kib() {
	local f
	for f in /proc/"$1"/fd/*; do
		[[ $(readlink "$f" 2>/dev/null) == /memfd:berth-shim* ]] && { echo $(($(stat -L -c %s "$f") / 1024)); return 0; }
	done
	echo 0
}

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# PSS shares pages mapped by several processes (the shims' common binary)
# among them: the fairer per-container cost.
pss_kib() { awk '/^Pss:/ {print $2}' "/proc/$1/smaps_rollup" 2>/dev/null || echo 0; }

sum_rss_kib() {
	local t=0 p
	for p in "$@"; do t=$((t + $(rss_kib "$p"))); done
	echo $t
}

sum_pss_kib() {
	local t=0 p
	for p in "$@"; do t=$((t + $(pss_kib "$p"))); done
	echo $t
}



# The busybox test image: the static busybox, its applets as symlinks to
# /bin/busybox, a minimal /etc.
rootfs_tar() { scripts/mkbusybox.sh >"$W/busybox.tar"; }






declare -A R # R[metric,engine] = value

# run_once engine variant: one `docker run --rm [variant flags] busybox
# true`, its wall time in ms appended to $W/lat-<engine>-<variant>.
variant_args() {
	case $1 in
	rm) ;;
	none) echo --network none ;;
	crun) echo --runtime crun ;;
	net) echo --network benchnet ;;
	esac
}

run_once() {
	local e=$1 v=$2 t0 t1
	t0=$(now_ns)
	# shellcheck disable=SC2046
	if ! dk "$e" run --rm $(variant_args "$v") busybox true >/dev/null 2>"$W/err"; then
		log "$e: run --rm $(variant_args "$v") failed: $(cat "$W/err")"
		return 1
	fi
	t1=$(now_ns)
	awk -v d=$((t1 - t0)) 'BEGIN {printf "%.3f\n", d/1e6}' >>"$W/lat-$e-$v"
}

# latencies: N rounds; each round runs every engine and variant once, in
# turn, so that load from elsewhere on the host hits all of them alike.
latencies() {
	local i e v
	declare -A broken=()
	for e in $ENGINES; do
		for v in rm none crun net; do
			: >"$W/lat-$e-$v"
			run_once "$e" "$v" 2>/dev/null || true # warm-up (images, caches, spare processes)
		done
	done
	for i in $(seq "$N"); do
		for v in rm none crun net; do
			for e in $ENGINES; do
				[ -n "${broken[$e-$v]:-}" ] && continue
				run_once "$e" "$v" || broken[$e-$v]=1
			done
		done
	done
	for e in $ENGINES; do
		for v in rm none crun net; do
			if [ -n "${broken[$e-$v]:-}" ]; then
				[ "$e" = berth ] && [ "$v" != crun ] && FAILED=1
				continue
			fi
			read -r "R[$v-med,$e]" "R[$v-p90,$e]" < <(stats <"$W/lat-$e-$v")
		done
	done
}

many() { # engine: create+start M, memory, remove
	local e=$1 i t0 t1
	t0=$(now_ns)
	for i in $(seq "$M"); do
		if ! dk "$e" run -d --name "bench-$i" busybox sleep 100000 >/dev/null 2>"$W/err"; then
			log "$e: run -d #$i failed: $(cat "$W/err")"
			return 1
		fi
	done
	t1=$(now_ns)
	R[many,$e]=$(awk -v d=$((t1 - t0)) 'BEGIN {printf "%.2f", d/1e9}')
	R[many-per,$e]=$(awk -v d=$((t1 - t0)) -v m="$M" 'BEGIN {printf "%.1f", d/1e6/m}')
	local running
	running=$(dk "$e" ps -q | wc -l)
	[ "$running" -ge "$M" ] || log "$e: only $running of $M containers running"
	sleep 1 # let the engine settle after the burst before reading memory
	if [ "$e" = berth ]; then
		R[rss-daemon,$e]=$(rss_kib "$BERTH_PID")
		local shims
		shims=$(pids_of_shims "$W/bin/berth")
		R[rss-shims,$e]=$(sum_rss_kib $shims)
		R[pss-shims,$e]=$(sum_pss_kib $shims)
		R[nshims,$e]=$(echo "$shims" | grep -c . || true)
		R[shim-memfd,$e]=$(shim_memfd_kib "$BERTH_PID")
	else
		local ctrd shims
		ctrd=$(pids_naming "$W/docker/exec/containerd/containerd.toml" | head -1)
		shims=$(for p in $(pids_naming "$W/docker/exec/containerd/containerd.sock"); do
			[ "$(readlink /proc/$p/exe)" = /usr/bin/containerd-shim-runc-v2 ] && echo "$p"
		done)
		R[rss-daemon,$e]=$(( $(rss_kib "$DOCKERD_PID") + $(rss_kib "${ctrd:-0}") ))
		R[rss-dockerd,$e]=$(rss_kib "$DOCKERD_PID")
		R[rss-shims,$e]=$(sum_rss_kib $shims)
		R[pss-shims,$e]=$(sum_pss_kib $shims)
		R[nshims,$e]=$(echo "$shims" | grep -c . || true)
	fi
	R[rss-total,$e]=$((R[rss-daemon,$e] + R[rss-shims,$e]))
	if [ "${R[nshims,$e]}" -gt 0 ]; then
		R[rss-shim,$e]=$((R[rss-shims,$e] / R[nshims,$e]))
		R[pss-shim,$e]=$((R[pss-shims,$e] / R[nshims,$e]))
	fi
	t0=$(now_ns)
	dk "$e" rm -f $(dk "$e" ps -aq) >/dev/null
	t1=$(now_ns)
	R[rmall,$e]=$(awk -v d=$((t1 - t0)) 'BEGIN {printf "%.2f", d/1e9}')
}

import_image() {
	dk "$1" import - busybox:latest <"$W/busybox.tar" >/dev/null || { log "$1: import failed"; return 1; }
	# The user-defined network the "net" variant and the throughput run on.
	dk "$1" network create benchnet >/dev/null || { log "$1: network create failed"; return 1; }
}

# throughput engine: container-to-container TCP over a user-defined
# bridge: 2 GiB with bench/tcpthroughput (static, bind-mounted into the
# busybox image: busybox nc itself tops out at ~50 MB/s), median of 5
# after a warm-up, in MB/s.
throughput() {
	local e=$1 ip i
	[ -x "$W/tput" ] || CGO_ENABLED=0 go build -o "$W/tput" ./bench/tcpthroughput || return 1
	dk "$e" run -d --name tput-srv --network benchnet -v "$W/tput:/tput:ro" busybox /tput serve 5001 >/dev/null || return 1
	dk "$e" run -d --name tput-cli --network benchnet -v "$W/tput:/tput:ro" busybox sleep 100000 >/dev/null || return 1
	ip=$(dk "$e" inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' tput-srv)
	: >"$W/tput-$e"
	for i in $(seq 6); do
		dk "$e" exec tput-cli /tput send "$ip:5001" 2048 >"$W/tput-one" 2>/dev/null || continue
		[ "$i" = 1 ] || cat "$W/tput-one" >>"$W/tput-$e"
	done
	read -r "R[tput,$e]" _ < <(stats 0 <"$W/tput-$e")
	dk "$e" rm -f tput-srv tput-cli >/dev/null
}

# netsetup: berth's per-container network setup (Connect, the whole of
# it: namespace, veth, addresses, routes, DNS server) from the Go
# benchmark, p50 in ms, on the default bridge and a user-defined network.
netsetup() {
	go test -count=1 -run '^$' -bench 'Connect/(bridge|user-defined)$' -benchtime 200x ./internal/network/ 2>/dev/null |
		awk '/^BenchmarkConnect\// {
			name = ($1 ~ /user-defined/) ? "user" : "bridge"
			for (i = 2; i <= NF; i++) if ($i == "connect-p50-µs") printf "%s %.2f\n", name, $(i-1) / 1000
		}' >"$W/netsetup"
	R[setup-bridge,berth]=$(awk '$1 == "bridge" {print $2}' "$W/netsetup")
	R[setup-user,berth]=$(awk '$1 == "user" {print $2}' "$W/netsetup")
}

prepare_berth
rootfs_tar

ENGINES=""
if start_berth; then
	ENGINES="berth"
else
	FAILED=1
fi
if [ "$BENCH_DOCKER" != 0 ] && [ -x "$DOCKERD" ]; then
	if start_dockerd; then ENGINES="$ENGINES docker"; fi
else
	log "no reference dockerd ($DOCKERD): berth only"
fi

ok=""
for e in $ENGINES; do
	if import_image "$e"; then ok="$ok $e"; else [ "$e" = berth ] && FAILED=1; fi
done
ENGINES=$ok
log "== run --rm latencies, $N rounds over:$ENGINES"
latencies
for e in $ENGINES; do
	log "== $e: create+start $M, memory, rm -f"
	many "$e" || { log "$e: benchmark incomplete"; [ "$e" = berth ] && FAILED=1; }
	log "== $e: TCP throughput between two containers on a user-defined network"
	throughput "$e" || log "$e: throughput not measured"
done
log "== berth: network setup per container (Go benchmark, internal/network)"
netsetup
for e in $ENGINES; do
	# What a container's network costs in run --rm: the difference with
	# --network none.
	for v in rm net; do
		[ -n "${R[$v-med,$e]:-}" ] && [ -n "${R[none-med,$e]:-}" ] &&
			R[$v-cost,$e]=$(awk -v a="${R[$v-med,$e]}" -v b="${R[none-med,$e]}" 'BEGIN {printf "%.1f", a - b}')
	done
done

if [ "$BENCH_GO" != 0 ]; then
	for e in $ENGINES; do
		log "== Go SDK benchmarks against $e (test/bench)"
		E2E_DOCKER_HOST="unix://$(sock_of "$e")" E2E_TARGET=$e E2E_BERTH="$W/bin/berth" \
			go test -count=1 -run '^$' -bench . -benchtime "${N}x" ./test/bench 2>&1 |
			grep -E '^(Benchmark|--- |ok|FAIL)' | sed "s/^/  $e: /" >&2 || true
	done
fi

# The table.
val() { echo "${R[$1,$2]:-n/a}"; }
mib() { local v=${R[$1,$2]:-}; [ -n "$v" ] && awk -v k="$v" 'BEGIN {printf "%.1f", k/1024}' || echo n/a; }
row() { # label berth docker
	printf '%-52s %12s %12s %10s\n' "$1" "$2" "$3" "$(ratio "$2" "$3")"
}

echo
printf '%-52s %12s %12s %10s\n' "metric (N=$N, M=$M)" berth docker berth/docker
printf '%-52s %12s %12s %10s\n' "----------------------------------------------------" ------------ ------------ ----------
row "run --rm busybox true, median (ms)" "$(val rm-med berth)" "$(val rm-med docker)"
row "run --rm busybox true, p90 (ms)" "$(val rm-p90 berth)" "$(val rm-p90 docker)"
row "run --rm --network none, median (ms)" "$(val none-med berth)" "$(val none-med docker)"
row "run --rm --network none, p90 (ms)" "$(val none-p90 berth)" "$(val none-p90 docker)"
row "run --rm --network <user-defined>, median (ms)" "$(val net-med berth)" "$(val net-med docker)"
row "run --rm --network <user-defined>, p90 (ms)" "$(val net-p90 berth)" "$(val net-p90 docker)"
row "  network cost, default bridge (rm - none, ms)" "$(val rm-cost berth)" "$(val rm-cost docker)"
row "  network cost, user-defined (net - none, ms)" "$(val net-cost berth)" "$(val net-cost docker)"
row "TCP throughput container to container (MB/s)" "$(val tput berth)" "$(val tput docker)"
printf '%-52s %12s\n' "network setup, Connect p50, default bridge (ms)" "$(val setup-bridge berth)"
printf '%-52s %12s\n' "network setup, Connect p50, user-defined (ms)" "$(val setup-user berth)"
row "run --rm --runtime crun, median (ms)" "$(val crun-med berth)" "$(val crun-med docker)"
row "run --rm --runtime crun, p90 (ms)" "$(val crun-p90 berth)" "$(val crun-p90 docker)"
row "create+start $M containers, total (s)" "$(val many berth)" "$(val many docker)"
row "  per container (ms)" "$(val many-per berth)" "$(val many-per docker)"
row "rm -f $M containers (s)" "$(val rmall berth)" "$(val rmall docker)"
row "daemon RSS, $M running (MiB) [docker: +containerd]" "$(mib rss-daemon berth)" "$(mib rss-daemon docker)"
row "shims RSS, $M running (MiB)" "$(mib rss-shims berth)" "$(mib rss-shims docker)"
row "shims PSS, $M running (MiB)" "$(mib pss-shims berth)" "$(mib pss-shims docker)"
row "  per shim RSS (MiB)" "$(mib rss-shim berth)" "$(mib rss-shim docker)"
row "  per shim PSS (MiB)" "$(mib pss-shim berth)" "$(mib pss-shim docker)"
row "total RSS, $M running (MiB)" "$(mib rss-total berth)" "$(mib rss-total docker)"
printf '%-52s %12s %12s\n' "shim processes" "$(val nshims berth)" "$(val nshims docker)"
printf '%-52s %12s\n' "  shim program in the daemon's memfd (MiB, once)" "$(mib shim-memfd berth)"
[ -n "${R[rss-dockerd,docker]:-}" ] && printf '%-52s %12s %12s\n' "  (dockerd alone, MiB)" "" "$(mib rss-dockerd docker)"
echo "runc in berth vs crun in berth (median): $(ratio "$(val crun-med berth)" "$(val rm-med berth)")"
echo "latencies: $N interleaved rounds (berth, docker alternate); wall time of the stock docker CLI, process start included."
echo "reference dockerd runs with --iptables=false on a private bridge; both engines on private roots."

echo
target() { # label ok
	if [ "$2" = 1 ]; then echo "PASS  $1"; else echo "FAIL  $1"; FAILED=1; fi
}
r=$(ratio "$(val rm-med berth)" "$(val rm-med docker)")
if [ "$r" != "-" ]; then
	target "run --rm latency ≤ 0.5× Docker's (median ratio $r)" "$(awk -v r="$r" 'BEGIN {print (r <= 0.5)}')"
else
	echo "----  run --rm latency target: not measured"
fi
for n in bridge user; do
	v=$(val setup-$n berth)
	if [ "$v" != n/a ]; then
		target "berth network setup per container < 10 ms ($n: $v ms)" "$(awk -v v="$v" 'BEGIN {print (v < 10)}')"
	else
		echo "----  network setup target ($n): not measured"
	fi
done
m=$(mib rss-daemon berth)
if [ "$m" != n/a ]; then
	target "berth daemon RSS < 40 MiB with $M containers ($m MiB)" "$(awk -v m="$m" 'BEGIN {print (m < 40)}')"
else
	echo "----  daemon RSS target: not measured"; FAILED=1
fi
exit $FAILED
