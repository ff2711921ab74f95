#!/usr/bin/env bash
# Pull and push of a multi-layer image of about 100 MB through a loopback
# registry: berth beside the reference dockerd (Debian's docker.io), both
# on private roots, sockets and bridges, driven by the stock docker CLI.
# Prints median and p90 wall times with berth/docker ratios, how busy the
# CPUs were during each pull (the host's share, and the cores the engine
# itself kept busy: its CPU time over the wall time), and checks the issue's target (berth's pull
# at most 0.7× Docker's). Cleans up everything it started.
#
# The image is made from files of this host (/usr/lib by default): LAYERS
# layers of SIZE_MB/LAYERS MiB each, loaded into berth and pushed once to
# the registry (gzip, as Docker pushes). Each pull starts from an engine
# without the image or its layers; each push goes to an empty registry.
#
# Environment: N (rounds, 5), SIZE_MB (100), LAYERS (5), SRC (/usr/lib),
# REGISTRY ("berth": berth registry serve; "distribution": Debian's
# docker-registry), BERTH (a prebuilt berth binary; default bin/berth,
# else built), DOCKERD (/usr/sbin/dockerd; BENCH_DOCKER=0 skips it),
# KEEP=1 keeps the work dir.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-5}
SIZE_MB=${SIZE_MB:-100}
LAYERS=${LAYERS:-5}
SRC=${SRC:-/usr/lib}
REGISTRY=${REGISTRY:-berth}
DOCKER_CLI=${DOCKER_CLI:-$(command -v /usr/local/bin/docker || command -v docker)}
DOCKERD=${DOCKERD:-/usr/sbin/dockerd}
BENCH_DOCKER=${BENCH_DOCKER:-1}

[ "$(id -u)" = 0 ] || { echo "pull.sh: needs root (it starts container engines)" >&2; exit 1; }

W=$(mktemp -d /tmp/berth-pullbench.XXXXXX)
SUFFIX=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
BERTH_BRIDGE=bpb$SUFFIX
DOCKER_BRIDGE=bpd$SUFFIX
REG_PID=
FAILED=0
. bench/lib.sh


cleanup() {
	set +e
	for pid in $(cat "$W/registries" 2>/dev/null); do kill -TERM "$pid" 2>/dev/null; done
	stop_engines $REG_PID
	if [ -n "${KEEP:-}" ]; then log "kept $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM





free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# start_registry: a registry on an empty root; sets REG (host:port).
start_registry() {
	[ -n "$REG_PID" ] && { kill "$REG_PID" 2>/dev/null; wait "$REG_PID" 2>/dev/null || true; }
	local port root
	port=$(free_port)
	root=$(mktemp -d "$W/reg.XXXX")
	if [ "$REGISTRY" = distribution ]; then
		printf 'version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n' \
			"$root" "$port" >"$root.yml"
		/usr/bin/docker-registry serve "$root.yml" >"$root.log" 2>&1 &
	else
		"$W/bin/berth" registry serve --addr "127.0.0.1:$port" --root "$root" >"$root.log" 2>&1 &
	fi
	REG_PID=$!
	echo "$REG_PID" >>"$W/registries"
	for _ in $(seq 200); do
		curl -fsS -o /dev/null "http://127.0.0.1:$port/v2/" 2>/dev/null && break
		sleep 0.05
	done
	REG=localhost:$port
}




# make_image: a docker-archive of LAYERS layers cut from the files under
# SRC, SIZE_MB in all, tagged bench/img:v1.
make_image() {
	local d="$W/image" per i cfg diffs="" layers="" hist=""
	mkdir -p "$d"
	per=$((SIZE_MB * 1024 * 1024 / LAYERS))
	find "$SRC" -xdev -type f -size +4k -size -2048k -printf '%s %p\n' 2>/dev/null | sort -k2 |
		awk -v per="$per" -v n="$LAYERS" -v dir="$d" 'BEGIN { l = 0; s = 0 }
			{ if (l < n) { print substr($0, index($0, " ") + 1) > (dir "/files" l); s += $1; if (s >= per) { l++; s = 0 } } }'
	for i in $(seq 0 $((LAYERS - 1))); do
		[ -s "$d/files$i" ] || { log "not enough files under $SRC for $SIZE_MB MB"; return 1; }
		tar -C / --numeric-owner -cf "$d/layer$i.tar" --files-from <(sed 's|^/||' "$d/files$i") 2>/dev/null
		diffs="$diffs${diffs:+,}\"sha256:$(sha256sum "$d/layer$i.tar" | cut -d' ' -f1)\""
		layers="$layers${layers:+,}\"layer$i.tar\""
		hist="$hist${hist:+,}{\"created\":\"2024-01-01T00:00:00Z\",\"created_by\":\"bench layer $i\"}"
	done
	printf '{"architecture":"%s","os":"linux","config":{"Cmd":["sh"]},"created":"2024-01-01T00:00:00Z","history":[%s],"rootfs":{"type":"layers","diff_ids":[%s]}}' \
		"$(dpkg --print-architecture 2>/dev/null || echo amd64)" "$hist" "$diffs" >"$d/config.json"
	cfg=$(sha256sum "$d/config.json" | cut -d' ' -f1)
	mv "$d/config.json" "$d/$cfg.json"
	printf '[{"Config":"%s.json","RepoTags":["bench/img:v1"],"Layers":[%s]}]' "$cfg" "$layers" >"$d/manifest.json"
	tar -C "$d" -cf "$W/image.tar" manifest.json "$cfg.json" $(for i in $(seq 0 $((LAYERS - 1))); do echo "layer$i.tar"; done)
	rm -rf "$d"
	log "image: $LAYERS layers, $(du -m "$W/image.tar" | cut -f1) MiB uncompressed"
}

# cpu_ticks: busy and total jiffies of all CPUs.
cpu_ticks() { awk '/^cpu / {b = $2+$3+$4+$7+$8; t = b+$5+$6; print b, t}' /proc/stat; }

# engine_ticks engine: CPU jiffies the engine's daemon used, its reaped
# children (unpigz, for a dockerd that has it) included. Unlike the host's
# busy share, other load on the host does not count.
engine_ticks() {
	local pid
	case $1 in berth) pid=$BERTH_PID ;; docker) pid=$DOCKERD_PID ;; esac
	awk '{print $14 + $15 + $16 + $17}' "/proc/$pid/stat"
}
CLK_TCK=$(getconf CLK_TCK)

declare -A R
# pull_once engine: pull from an engine without the image; wall ms and
# the CPUs' busy share during it.
pull_once() {
	local e=$1 t0 b0 c0 b1 c1 e0 e1 ms
	dk "$e" rmi -f "$REG/bench/img:v1" >/dev/null 2>&1 || true
	dk "$e" image prune -a -f >/dev/null 2>&1 || true
	sync
	read -r b0 c0 < <(cpu_ticks)
	e0=$(engine_ticks "$e")
	t0=$(now_ns)
	if ! dk "$e" pull "$REG/bench/img:v1" >/dev/null 2>"$W/err"; then
		log "$e: pull failed: $(cat "$W/err")"
		return 1
	fi
	ms=$(ms_since "$t0")
	echo "$ms" >>"$W/pull-$e"
	e1=$(engine_ticks "$e")
	read -r b1 c1 < <(cpu_ticks)
	awk -v b=$((b1 - b0)) -v t=$((c1 - c0)) 'BEGIN {printf "%.0f\n", t ? 100*b/t : 0}' >>"$W/cpu-$e"
	awk -v j=$((e1 - e0)) -v hz="$CLK_TCK" -v ms="$ms" 'BEGIN {printf "%.2f\n", (j/hz) / (ms/1000)}' >>"$W/cores-$e"
}

# empty engine: remove every image and layer.
empty() {
	local ids
	ids=$(dk "$1" images -aq)
	[ -n "$ids" ] && dk "$1" rmi -f $ids >/dev/null 2>&1
	dk "$1" image prune -a -f >/dev/null 2>&1 || true
}

# push_once engine kind: into an empty registry, the image as loaded from
# the archive (kind push) or as pulled from the registry (kind repush),
# from an engine holding only that image.
push_once() {
	local e=$1 kind=$2 src t0
	empty "$e"
	if [ "$kind" = push ]; then
		dk "$e" load -i "$W/image.tar" >/dev/null
		src=bench/img:v1
	else
		dk "$e" pull "$PULL_REG/bench/img:v1" >/dev/null
		src=$PULL_REG/bench/img:v1
	fi
	start_registry
	dk "$e" tag "$src" "$REG/bench/push:v1" >/dev/null
	sync
	t0=$(now_ns)
	if ! dk "$e" push "$REG/bench/push:v1" >/dev/null 2>"$W/err"; then
		log "$e: push failed: $(cat "$W/err")"
		return 1
	fi
	ms_since "$t0" >>"$W/$kind-$e"
}

prepare_berth
make_image
start_berth || exit 1
ENGINES=berth
if [ "$BENCH_DOCKER" != 0 ] && [ -x "$DOCKERD" ]; then
	start_dockerd && ENGINES="berth docker"
fi

# The registry pulls come from: the image pushed once by berth (gzip).
dk berth load -i "$W/image.tar" >/dev/null
start_registry
PULL_REG=$REG
PULL_REG_PID=$REG_PID
REG_PID= # kept running while the push rounds start registries of their own
dk berth tag bench/img:v1 "$REG/bench/img:v1"
dk berth push "$REG/bench/img:v1" >/dev/null
empty berth
log "registry: $REGISTRY at $REG; $N rounds over: $ENGINES"

for e in $ENGINES; do : >"$W/pull-$e"; : >"$W/cpu-$e"; : >"$W/cores-$e"; : >"$W/push-$e"; : >"$W/repush-$e"; done
# Pulls: engines take turns each round, so that load from elsewhere on the
# host hits both alike. The first round warms caches and is not counted.
for i in $(seq 0 "$N"); do
	for e in $ENGINES; do
		REG=$PULL_REG pull_once "$e" || { [ "$e" = berth ] && FAILED=1; }
	done
	if [ "$i" = 0 ]; then for e in $ENGINES; do : >"$W/pull-$e"; : >"$W/cpu-$e"; : >"$W/cores-$e"; done; fi
done
# Pushes: a loaded image (layers compressed on the way, by both), and the
# pulled one (berth sends the blobs it keeps; Docker compresses again).
for i in $(seq "$N"); do
	for e in $ENGINES; do
		push_once "$e" push || { [ "$e" = berth ] && FAILED=1; }
		push_once "$e" repush || { [ "$e" = berth ] && FAILED=1; }
	done
done
kill "$PULL_REG_PID" 2>/dev/null || true

for e in $ENGINES; do
	read -r "R[pull-med,$e]" "R[pull-p90,$e]" < <(stats 0 <"$W/pull-$e")
	read -r "R[cpu,$e]" _ < <(stats 0 <"$W/cpu-$e")
	read -r "R[cores,$e]" _ < <(stats 2 <"$W/cores-$e")
	read -r "R[push-med,$e]" "R[push-p90,$e]" < <(stats 0 <"$W/push-$e")
	read -r "R[repush-med,$e]" "R[repush-p90,$e]" < <(stats 0 <"$W/repush-$e")
done
val() { echo "${R[$1,$2]:-n/a}"; }
row() { printf '%-50s %10s %10s %10s\n' "$1" "$2" "$3" "$(ratio "$2" "$3")"; }

echo
printf '%-50s %10s %10s %10s\n' "pull/push, ${SIZE_MB} MB in $LAYERS layers (N=$N)" berth docker berth/docker
printf '%-50s %10s %10s %10s\n' "--------------------------------------------------" ---------- ---------- ----------
row "pull, median (ms)" "$(val pull-med berth)" "$(val pull-med docker)"
row "pull, p90 (ms)" "$(val pull-p90 berth)" "$(val pull-p90 docker)"
row "host CPU busy during pull, median (% of $(nproc) cores)" "$(val cpu berth)" "$(val cpu docker)"
row "engine CPU during pull, median (cores of $(nproc))" "$(val cores berth)" "$(val cores docker)"
row "push of the loaded image, median (ms)" "$(val push-med berth)" "$(val push-med docker)"
row "push of the loaded image, p90 (ms)" "$(val push-p90 berth)" "$(val push-p90 docker)"
row "push of the pulled image, median (ms)" "$(val repush-med berth)" "$(val repush-med docker)"
row "push of the pulled image, p90 (ms)" "$(val repush-p90 berth)" "$(val repush-p90 docker)"
echo "registry: $REGISTRY on loopback; wall time of the stock docker CLI; each pull into an engine without the image."
echo
r=$(ratio "$(val pull-med berth)" "$(val pull-med docker)")
if [ "$r" != "-" ]; then
	if awk -v r="$r" 'BEGIN {exit !(r <= 0.7)}'; then echo "PASS  pull ≤ 0.7× Docker's (median ratio $r)"; else echo "FAIL  pull ≤ 0.7× Docker's (median ratio $r)"; FAILED=1; fi
else
	echo "----  pull target: not measured"
fi
exit $FAILED
