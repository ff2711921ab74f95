#!/bin/sh
# The quick start: start berth, import the busybox test image (no internet
# needed), run a container, publish a port and fetch a page through it.
set -eu
cd "$(dirname "$0")/.."
BERTH=${BERTH:-$(pwd)/bin/berth}
SOCK=${SOCK:-/run/berth/berth.sock}
export DOCKER_HOST=unix://$SOCK
export BERTH_HOST=$DOCKER_HOST
PORT=${PORT:-8080}

if ! curl -fsS --unix-socket "$SOCK" http://localhost/_ping >/dev/null 2>&1; then
	echo "+ berth daemon (log: /var/log/berth.log)"
	setsid "$BERTH" daemon >/var/log/berth.log 2>&1 < /dev/null &
	i=0
	until curl -fsS --unix-socket "$SOCK" http://localhost/_ping >/dev/null 2>&1; do
		i=$((i + 1)); [ $i -lt 100 ] || { cat /var/log/berth.log; exit 1; }
		sleep 0.1
	done
fi
echo "+ berth import - busybox"
scripts/mkbusybox.sh | "$BERTH" import - busybox
echo "+ berth run --rm busybox echo hello"
"$BERTH" run --rm busybox echo hello
"$BERTH" rm -f demo-web >/dev/null 2>&1 || true
echo "+ berth run -d --name demo-web -p $PORT:80 busybox httpd -f -p 80 -h /var/www"
"$BERTH" run -d --name demo-web -p "$PORT:80" busybox httpd -f -p 80 -h /var/www
echo "+ curl http://127.0.0.1:$PORT/"
i=0
until curl -fsS "http://127.0.0.1:$PORT/"; do
	i=$((i + 1)); [ $i -lt 50 ] || exit 1
	sleep 0.1
done
"$BERTH" ps
echo "The daemon keeps running; stop the container with: $BERTH rm -f demo-web"
