#!/usr/bin/env bash
# Runs every test of mashangban: unit, contract (SQLite and PostgreSQL, the
# in-process log and Kafka through an in-process broker), end-to-end, and a
# short run of every fuzz target. It starts the local PostgreSQL server if it
# is down, creates the test database, and installs kcat, and Chromium with a
# Chinese font for the console's browser tests, if they are missing.
#
#   scripts/test.sh            everything, with the race detector
#   FUZZTIME=30s scripts/test.sh   longer fuzzing
set -euo pipefail
cd "$(dirname "$0")/.."

PGHOST_ADDR=${PGHOST_ADDR:-127.0.0.1}
PGPORT_NUM=${PGPORT_NUM:-5432}
TEST_DB=${TEST_DB:-mashangban_test}

if ! command -v kcat >/dev/null 2>&1; then
	echo "installing kcat (Debian package) for the Kafka interoperability test"
	if [ "$(id -u)" = 0 ]; then
		apt-get update -qq >/dev/null && apt-get install -y -qq kcat >/dev/null
	else
		sudo apt-get update -qq >/dev/null && sudo apt-get install -y -qq kcat >/dev/null
	fi
fi

if ! command -v chromium >/dev/null 2>&1; then
	echo "installing chromium and a Chinese font (Debian packages) for the console's browser tests"
	if [ "$(id -u)" = 0 ]; then
		apt-get update -qq >/dev/null && apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null
	else
		sudo apt-get update -qq >/dev/null && sudo apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null
	fi
fi

if [ -z "${TEST_DATABASE_URL:-}" ]; then
	if ! pg_isready -q -h "$PGHOST_ADDR" -p "$PGPORT_NUM"; then
		echo "starting PostgreSQL"
		pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n 1)" main start
		for _ in $(seq 1 30); do
			pg_isready -q -h "$PGHOST_ADDR" -p "$PGPORT_NUM" && break
			sleep 1
		done
	fi
	if ! psql -h "$PGHOST_ADDR" -p "$PGPORT_NUM" -U postgres -tAc "select 1 from pg_database where datname='$TEST_DB'" | grep -q 1; then
		psql -h "$PGHOST_ADDR" -p "$PGPORT_NUM" -U postgres -qc "create database $TEST_DB"
	fi
	export TEST_DATABASE_URL="postgres://postgres@$PGHOST_ADDR:$PGPORT_NUM/$TEST_DB?sslmode=disable"
fi
# A Postgres, kcat or browser test that would skip is a failure here.
export MSB_REQUIRE_POSTGRES=1
export MSB_REQUIRE_KCAT=1
export MSB_REQUIRE_BROWSER=1

log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
go test -race -count=1 -timeout 15m -v ./... >"$log" 2>&1
rc=$?
set -e
# The package lines, and everything a failing test printed (not the chatter
# of passing tests).
grep -vE '^\s*(=== (RUN|PAUSE|CONT|NAME)|--- PASS|PASS$)' "$log" | grep -vE '^\s+--- SKIP' || true
passed=$(grep -cE '^\s*--- PASS' "$log" || true)
failed=$(grep -cE '^\s*--- FAIL' "$log" || true)
skipped=$(grep -cE '^\s*--- SKIP' "$log" || true)
echo "tests: $passed passed, $failed failed, $skipped skipped"
if [ "$rc" -ne 0 ]; then
	exit "$rc"
fi

# Every fuzz target, briefly: enough to catch a panic on garbage. Crashers are
# written to testdata/fuzz and then run as regression cases by go test.
FUZZTIME=${FUZZTIME:-8s}
for pkg in $(go list ./...); do
	dir=$(go list -f '{{.Dir}}' "$pkg")
	for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
		echo "fuzz $pkg $target ($FUZZTIME)"
		out=$(mktemp)
		# Go's fuzzing engine sometimes ends a timed run with "context
		# deadline exceeded" when the time runs out while it minimises a
		# new interesting input; that is no crash (no crasher is written),
		# so such a run is tried once more. Any other failure fails here.
		for try in 1 2; do
			if go test -run='^$' -fuzz="^${target}\$" -fuzztime="$FUZZTIME" "$pkg" >"$out" 2>&1; then
				break
			fi
			if [ "$try" = 1 ] && grep -q 'context deadline exceeded' "$out" && ! grep -q 'Failing input written' "$out"; then
				echo "  (the engine's deadline ended the run without a crash; once more)"
				continue
			fi
			cat "$out"
			rm -f "$out"
			exit 1
		done
		rm -f "$out"
	done
done
echo "fuzz: every target ran for $FUZZTIME without a crash"
echo "tests: $passed passed, $failed failed, $skipped skipped"
