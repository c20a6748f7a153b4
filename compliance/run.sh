#!/usr/bin/env bash
# Run the Autobahn|Testsuite against noio_ws in both directions at once.
#
#   compliance/run.sh [extra run.py options, e.g. --cases '6.4.*']
#
# Needs ../shared/autobahn (the harness) beside the repository, or AUTOBAHN_HARNESS
# pointing at it, and noio_ws importable by the python found as $PYTHON (default
# python3). Reports go to autobahn-reports/{client,server}. Exit status 0 only if
# both directions pass with --strict (every case OK, or INFORMATIONAL where the
# suite only informs; no NON-STRICT, UNIMPLEMENTED, FAILED or MISSING; every
# behaviorClose OK or INFORMATIONAL).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
harness=${AUTOBAHN_HARNESS:-}
if [ -z "$harness" ]; then
    # Beside the checkout on these machines; a fresh clone elsewhere falls back
    # to the workplace copy.
    for candidate in "$repo/../shared/autobahn" /work/shared/autobahn; do
        if [ -f "$candidate/run.py" ]; then
            harness=$(cd "$candidate" && pwd)
            break
        fi
    done
fi
python=${PYTHON:-python3}
if [ ! -f "$harness/run.py" ]; then
    echo "Autobahn harness not found; set AUTOBAHN_HARNESS" >&2
    exit 2
fi
bash "$harness/setup.sh" >/dev/null || exit 2

reports="$repo/autobahn-reports"
mkdir -p "$reports"
run() {
    local mode=$1; shift
    local start=$SECONDS
    python3 "$harness/run.py" "$mode" --strict --report-dir "$reports/$mode" "$@" \
        -- "$python" "$here/testee_$mode.py" >"$reports/$mode.log" 2>&1
    local status=$?
    echo "== $mode: exit $status, wall time $((SECONDS - start)) s" >>"$reports/$mode.log"
    return $status
}
run server "$@" & server=$!
run client "$@" & client=$!
wait $server; server_status=$?
wait $client; client_status=$?
for mode in server client; do
    echo "== noio_ws as $mode"
    sed -n '/^group/,$p' "$reports/$mode.log"
done
[ $server_status -eq 0 ] && [ $client_status -eq 0 ]
