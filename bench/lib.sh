# Shared by the bench scripts: engines side by side on private roots,
# sockets and bridges, and the small statistics they print. Sourced; the
# caller sets W (its work dir), BERTH_BRIDGE, DOCKER_BRIDGE, DOCKER_CLI
# and DOCKERD, and calls stop_engines from its EXIT trap.

BERTH_PID=
DOCKERD_PID=

log() { printf '%s\n' "$*" >&2; }

now_ns() { date +%s%N; }
ms_since() { awk -v d=$(($(now_ns) - $1)) 'BEGIN {printf "%.1f\n", d/1e6}'; }

sock_of() { case $1 in berth) echo "$W/berth/berth.sock" ;; docker) echo "$W/docker/docker.sock" ;; esac; }

dk() { # engine args...: the stock docker CLI against one engine
	local e=$1
	shift
	DOCKER_HOST="unix://$(sock_of "$e")" DOCKER_CONFIG="$W/cli" DOCKER_CLI_HINTS=false "$DOCKER_CLI" "$@"
}

wait_ping() { # sock pid
	for _ in $(seq 300); do
		curl -fsS --unix-socket "$1" http://engine/_ping >/dev/null 2>&1 && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

free_subnet() { # prints a free 10.2xx.y.0/24 prefix base "10.a.b"
	local a b
	for _ in $(seq 200); do
		a=$((200 + RANDOM % 50)); b=$((RANDOM % 256))
		ip -4 route | grep -q "^10\.$a\.$b\." || { echo "10.$a.$b"; return; }
	done
	return 1
}

# prepare_berth: a private copy of berth in $W/bin (its processes are
# recognisable): $BERTH, else bin/berth, else what `make build` builds.
prepare_berth() {
	mkdir -p "$W/cli" "$W/bin"
	echo '{}' >"$W/cli/config.json"
	if [ -n "${BERTH:-}" ]; then
		cp "$BERTH" "$W/bin/berth"
	elif [ -x bin/berth ]; then
		cp bin/berth "$W/bin/berth"
	else
		scripts/build.sh "$W/bin/berth"
	fi
}

start_berth() {
	mkdir -p "$W/berth"
	echo '{}' >"$W/berth/daemon.json"
	"$W/bin/berth" daemon --data-root "$W/berth/root" --exec-root "$W/berth/exec" \
		-H "unix://$W/berth/berth.sock" --bridge "$BERTH_BRIDGE" \
		--config-file "$W/berth/daemon.json" --pidfile "$W/berth/berth.pid" \
		>"$W/berth/daemon.log" 2>&1 </dev/null &
	BERTH_PID=$!
	wait_ping "$W/berth/berth.sock" "$BERTH_PID" || { log "berth daemon did not start:"; tail -20 "$W/berth/daemon.log" >&2; return 1; }
}

start_dockerd() {
	mkdir -p "$W/docker"
	echo '{}' >"$W/docker/daemon.json"
	local net
	net=$(free_subnet)
	ip link add "$DOCKER_BRIDGE" type bridge
	ip addr add "$net.1/24" dev "$DOCKER_BRIDGE"
	ip link set "$DOCKER_BRIDGE" up
	# --iptables=false: never touch the host's firewall, which other engines
	# on this host share. Ports would go through docker-proxy; the
	# measurements here publish none.
	"$DOCKERD" --data-root "$W/docker/root" --exec-root "$W/docker/exec" \
		-H "unix://$W/docker/docker.sock" --bridge "$DOCKER_BRIDGE" \
		--config-file "$W/docker/daemon.json" --pidfile "$W/docker/docker.pid" \
		--iptables=false --ip-masq=false --add-runtime crun=/usr/bin/crun \
		>"$W/docker/daemon.log" 2>&1 </dev/null &
	DOCKERD_PID=$!
	wait_ping "$W/docker/docker.sock" "$DOCKERD_PID" || { log "dockerd did not start:"; tail -20 "$W/docker/daemon.log" >&2; return 1; }
}

# stop_engines [pid...]: TERM the engines (and the extra pids), KILL what
# lingers, unmount what is left under $W, delete the bridges.
stop_engines() {
	local pid m
	for pid in "$@" $BERTH_PID $DOCKERD_PID; do kill -TERM "$pid" 2>/dev/null; done
	for pid in "$@" $BERTH_PID $DOCKERD_PID; do
		for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null
	done
	grep -o " $W[^ ]*" /proc/self/mountinfo | sort -ru | while read -r m; do umount -l "$m" 2>/dev/null; done
	ip link del "$BERTH_BRIDGE" 2>/dev/null
	ip link del "$DOCKER_BRIDGE" 2>/dev/null
	return 0
}

# stats [decimals]: reads numbers, prints "median p90".
stats() {
	sort -n | awk -v d="${1:-1}" '{v[NR]=$1} END {
		if (NR == 0) { print "n/a n/a"; exit }
		m = (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2
		i = int(NR * 0.9 + 0.999); if (i < 1) i = 1; if (i > NR) i = NR
		f = "%." d "f %." d "f\n"; printf f, m, v[i] }'
}

ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (a == "n/a" || b == "n/a" || b+0 == 0) print "-"; else printf "%.2f", a/b }'
}
