#!/usr/bin/env bash
# The whole suite (`npm test`): the pure unit tests two files at a time (they
# share nothing: no daemon, no fixed port), then every other test file one at
# a time (testbeds, nginx, nats-server and timing-sensitive loads must not
# compete for the machine's cores). Both parts always run; the exit code is
# non-zero if either failed. Extra arguments go to both tap runs.
set -u
cd "$(dirname "$0")/.."
rc=0
npx tap --jobs=2 "$@" test/unit/*.test.ts || rc=1
mapfile -t rest < <(find test -name '*.test.ts' -not -path 'test/unit/*' | sort)
npx tap --jobs=1 "$@" "${rest[@]}" || rc=1
exit $rc
