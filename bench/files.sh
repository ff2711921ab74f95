#!/usr/bin/env bash
# docker cp of a tree of about 100 MB into and out of a running container,
# and docker commit of a container that changed about 100 MB: berth beside
# the reference dockerd (Debian's docker.io), both on private roots,
# sockets and bridges, driven by the stock docker CLI. Prints median and
# p90 wall times with berth/docker ratios and the throughput they mean.
# Cleans up everything it started.
#
# The tree is made of files of this host (/usr/lib by default, files of
# 4 KiB to 2 MiB). Rounds alternate between the engines so that load from
# elsewhere on the host hits both alike; each round copies to a fresh
# name and removes it afterwards, and each commit makes a new image that
# is removed before the next.
#
# Environment: N (rounds, 5), SIZE_MB (100), SRC (/usr/lib), BERTH (a
# prebuilt berth binary; default bin/berth, else built), DOCKERD
# (/usr/sbin/dockerd; BENCH_DOCKER=0 skips it), KEEP=1 keeps the work dir.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-5}
SIZE_MB=${SIZE_MB:-100}
SRC=${SRC:-/usr/lib}
DOCKER_CLI=${DOCKER_CLI:-$(command -v /usr/local/bin/docker || command -v docker)}
DOCKERD=${DOCKERD:-/usr/sbin/dockerd}
BENCH_DOCKER=${BENCH_DOCKER:-1}

[ "$(id -u)" = 0 ] || { echo "files.sh: needs root (it starts container engines)" >&2; exit 1; }

W=$(mktemp -d /tmp/berth-filesbench.XXXXXX)
SUFFIX=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
BERTH_BRIDGE=bfb$SUFFIX
DOCKER_BRIDGE=bfd$SUFFIX
FAILED=0
. bench/lib.sh

cleanup() {
	set +e
	for e in berth docker; do
		[ -S "$(sock_of $e)" ] && dk "$e" rm -f bench-cp bench-commit >/dev/null 2>&1
	done
	stop_engines
	if [ -n "${KEEP:-}" ]; then log "kept $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# make_tree: SIZE_MB of files from SRC under $W/tree, their paths kept.
make_tree() {
	mkdir -p "$W/tree"
	{ find "$SRC" -xdev -type f -size +4k -size -2048k -printf '%s %p\n' 2>/dev/null || true; } | sort -k2 >"$W/files.all"
	awk -v max=$((SIZE_MB * 1024 * 1024)) '{ if (s >= max) exit; s += $1; print substr($0, index($0, " ") + 2) }' \
		"$W/files.all" >"$W/files"
	tar -C / -cf - --files-from "$W/files" 2>/dev/null | tar -C "$W/tree" -xf -
	TREE_MB=$(du -sm "$W/tree" | cut -f1)
	TREE_FILES=$(find "$W/tree" -type f | wc -l)
	log "tree: $TREE_FILES files, $TREE_MB MiB"
}

# timed engine name cmd...: runs the docker CLI against engine, appends
# its wall time in ms to $W/t-engine-name.
timed() {
	local e=$1 name=$2 t0 t1
	shift 2
	t0=$(now_ns)
	if ! dk "$e" "$@" >/dev/null 2>"$W/err"; then
		log "$e: $* failed: $(cat "$W/err")"
		return 1
	fi
	t1=$(now_ns)
	awk -v d=$((t1 - t0)) 'BEGIN {printf "%.1f\n", d/1e6}' >>"$W/t-$e-$name"
}

prepare() { # engine: the containers the rounds use
	local e=$1
	dk "$e" import - busybox:latest <"$W/busybox.tar" >/dev/null
	dk "$e" run -d --name bench-cp busybox sleep 100000 >/dev/null
	dk "$e" cp "$W/tree" bench-cp:/src >/dev/null
	dk "$e" run -d --name bench-commit busybox sleep 100000 >/dev/null
	dk "$e" cp "$W/tree" bench-commit:/changed >/dev/null
}

round() { # engine i
	local e=$1 i=$2
	timed "$e" cp-in cp "$W/tree" "bench-cp:/in-$i" || return 1
	dk "$e" exec bench-cp rm -rf "/in-$i"
	timed "$e" cp-out cp bench-cp:/src "$W/out-$e-$i" || return 1
	rm -rf "$W/out-$e-$i"
	timed "$e" commit commit bench-commit "bench/commit:$i" || return 1
	dk "$e" rmi "bench/commit:$i" >/dev/null
}

prepare_berth
scripts/mkbusybox.sh >"$W/busybox.tar"
make_tree

ENGINES=""
if start_berth; then ENGINES=berth; else FAILED=1; fi
if [ "$BENCH_DOCKER" != 0 ] && [ -x "$DOCKERD" ]; then
	if start_dockerd; then ENGINES="$ENGINES docker"; fi
else
	log "no reference dockerd ($DOCKERD): berth only"
fi
ok=""
for e in $ENGINES; do
	if prepare "$e"; then ok="$ok $e"; else log "$e: setup failed"; [ "$e" = berth ] && FAILED=1; fi
done
ENGINES=$ok

declare -A broken=()
for e in $ENGINES; do round "$e" warm >/dev/null 2>&1 || true; rm -f "$W"/t-"$e"-*; done
log "== $N interleaved rounds over:$ENGINES"
for i in $(seq "$N"); do
	for e in $ENGINES; do
		[ -n "${broken[$e]:-}" ] && continue
		round "$e" "$i" || { broken[$e]=1; [ "$e" = berth ] && FAILED=1; }
	done
done

declare -A R
for e in $ENGINES; do
	for m in cp-in cp-out commit; do
		[ -s "$W/t-$e-$m" ] || continue
		read -r "R[$m-med,$e]" "R[$m-p90,$e]" < <(stats <"$W/t-$e-$m")
	done
done
val() { echo "${R[$1,$2]:-n/a}"; }
mbps() { local v=${R[$1,$2]:-}; [ -n "$v" ] && awk -v ms="$v" -v mb="$TREE_MB" 'BEGIN {printf "%.0f", mb / (ms / 1000)}' || echo n/a; }
row() { printf '%-52s %12s %12s %10s\n' "$1" "$2" "$3" "$(ratio "$2" "$3")"; }

echo
printf '%-52s %12s %12s %10s\n' "metric ($TREE_MB MiB, $TREE_FILES files; N=$N)" berth docker berth/docker
printf '%-52s %12s %12s %10s\n' "----------------------------------------------------" ------------ ------------ ----------
for m in cp-in cp-out commit; do
	case $m in
	cp-in) label="docker cp tree app:/in (running)" ;;
	cp-out) label="docker cp app:/src ./out (running)" ;;
	commit) label="docker commit, $TREE_MB MiB changed" ;;
	esac
	row "$label, median (ms)" "$(val $m-med berth)" "$(val $m-med docker)"
	row "$label, p90 (ms)" "$(val $m-p90 berth)" "$(val $m-p90 docker)"
	printf '%-52s %12s %12s\n' "  throughput at the median (MiB/s)" "$(mbps $m-med berth)" "$(mbps $m-med docker)"
done
echo "wall time of the stock docker CLI, process start included; the reference dockerd runs on a private bridge and root."
exit $FAILED
