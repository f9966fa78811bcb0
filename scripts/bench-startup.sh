#!/usr/bin/env bash
# Measures how long `mashangban run` takes from exec to a ready /readyz on the
# embedded default, first with an empty data directory (migrations, rule set
# written out, segmenter dictionary built and cached) and then on the same
# directory (dictionary read from the cache), with the process's RSS.
#
#   scripts/bench-startup.sh [runs]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
bin=$(mktemp -d)/mashangban
go build -o "$bin" ./cmd/mashangban
data=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 18199)
measure() {
	local label=$1 start end pid rss
	start=$(date +%s.%N)
	"$bin" run --data.dir "$data" --http.listen "127.0.0.1:$port" >/dev/null 2>&1 &
	pid=$!
	until curl -sf "localhost:$port/readyz" >/dev/null 2>&1; do sleep 0.01; done
	end=$(date +%s.%N)
	rss=$(ps -o rss= -p "$pid")
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	printf '%-5s ready in %.3f s, RSS %d MB\n' "$label" "$(echo "$end - $start" | bc)" "$((rss / 1024))"
}
measure cold
for _ in $(seq 1 "$runs"); do measure warm; done
rm -rf "$data" "$(dirname "$bin")"
