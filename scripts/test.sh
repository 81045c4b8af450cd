#!/usr/bin/env bash
# Runs the test suite on the compiled JavaScript (npm run build first) and ends with one plain
# "N passed, N failed" line. `scripts/test.sh unit` runs only the root-free unit tests;
# extra arguments are passed to tap (e.g. a single file).
set -uo pipefail
cd "$(dirname "$0")/.."
which=${1:-all}
case "$which" in
  unit) shift; files=(dist/test/unit/*.test.js) ;;
  integration) shift; files=(dist/test/integration/*.test.js) ;;
  all) [ $# -gt 0 ] && shift; files=(dist/test/unit/*.test.js dist/test/integration/*.test.js) ;;
  *) files=("$@"); set -- ;;
esac
log=$(mktemp /tmp/cnm-test-XXXXXX.log)
npx tap --reporter="${CNM_TAP_REPORTER:-terse}" "$@" "${files[@]}" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
# tap's last "Asserts:" line carries the totals.
summary=$(sed 's/\x1b\[[0-9;?]*[A-Za-z]//g' "$log" | grep -E '^Asserts:' | tail -n 1)
passed=$(sed -E 's/.*Asserts: +([0-9]+) pass.*/\1/' <<<"$summary")
failed=$(sed -E 's/.* ([0-9]+) fail.*/\1/' <<<"$summary")
suites=$(sed 's/\x1b\[[0-9;?]*[A-Za-z]//g' "$log" | grep -E '^Suites:' | tail -n 1)
rm -f "$log"
[ -n "$passed" ] || passed=0
[ -n "$failed" ] || failed=0
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
echo "$suites"
echo "$passed passed, $failed failed"
exit "$status"
