#!/usr/bin/env bash
# Throughput of classify + dispatch on the embedded default (in-process log,
# SQLite), the way issue 13 measures it: N generated posts (see
# scripts/benchposts.py: texts from the built-in rule set's words and place
# names, Weibo-length and long ones, one in five a repeat) are first put on
# the posts log by a run with only the ingest role; then `mashangban run
# --roles classify,dispatch` works through them, and the script prints posts
# per second (from the first post placed to the last, and from the start of
# the process) and the process's peak RSS (/usr/bin/time -v).
#
#   scripts/bench.sh [N]        (default 20000)
#
# A post counts as done when it is in a case, in triage or a dead letter.
# Needs go, python3 with PyYAML, sqlite3 and GNU time (/usr/bin/time).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-20000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bin=$work/mashangban
go build -o "$bin" ./cmd/mashangban
python3 scripts/benchposts.py "$n" >"$work/posts.jsonl"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$work/mashangban.yaml" <<YAML
data_dir: $work/data
http: {listen: "127.0.0.1:$port"}
log: {level: warn}
sources:
  - {name: bench, type: replay, file: $work/posts.jsonl, interval: 1ms}
YAML
db=$work/data/mashangban.db
q() { sqlite3 -cmd '.timeout 5000' "$db" "$1" 2>/dev/null || echo 0; }

# 1. Ingest only: the posts onto the log.
"$bin" run --config "$work/mashangban.yaml" --roles ingest >"$work/ingest.log" 2>&1 &
pid=$!
until [ "$(q "SELECT coalesce(max(CAST(substr(cursor, instr(cursor, ':') + 1) AS INTEGER)), 0) FROM source_cursors")" -ge "$n" ]; do
	kill -0 "$pid" 2>/dev/null || { cat "$work/ingest.log"; exit 1; }
	sleep 0.5
done
kill "$pid"
wait "$pid" || true
echo "$n posts on the posts log ($(du -sh "$work/data/log" | cut -f1))"

# 2. Classify and dispatch only.
done_sql="SELECT (SELECT count(*) FROM case_posts) + (SELECT count(*) FROM triage) + (SELECT count(*) FROM dead_letters WHERE stage <> 'ingest')"
start=$(date +%s.%N)
/usr/bin/time -v -o "$work/time.txt" "$bin" run --config "$work/mashangban.yaml" --roles classify,dispatch >"$work/run.log" 2>&1 &
tpid=$!
first="" last=0
while :; do
	d=$(q "$done_sql")
	now=$(date +%s.%N)
	if [ -z "$first" ] && [ "$d" -gt 0 ]; then first=$now first_n=$d; fi
	[ "$d" -ge "$n" ] && break
	kill -0 "$tpid" 2>/dev/null || { cat "$work/run.log"; exit 1; }
	if [ "$d" != "$last" ]; then last=$d; fi
	sleep 0.2
done
end=$(date +%s.%N)
kill -TERM $(pgrep -P "$tpid") 2>/dev/null || true
wait "$tpid" || true
rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time.txt")
cases=$(q "SELECT count(*) FROM cases")
repeats=$(q "SELECT count(*) FROM case_posts WHERE role = 'repeat'")
triage=$(q "SELECT count(*) FROM triage")
printf 'posts: %d (cases %d, merged as repeats %d, triage %d)\n' "$n" "$cases" "$repeats" "$triage"
printf 'posts/s from first post placed: %.1f (%.1f s)\n' "$(echo "($n - $first_n) / ($end - $first)" | bc -l)" "$(echo "$end - $first" | bc -l)"
printf 'posts/s from process start:     %.1f (%.1f s)\n' "$(echo "$n / ($end - $start)" | bc -l)" "$(echo "$end - $start" | bc -l)"
printf 'peak RSS: %d MB\n' "$((rss / 1024))"
printf 'machine: %s CPUs, %s\n' "$(nproc)" "$(lscpu | sed -n 's/^Model name: *//p')"
