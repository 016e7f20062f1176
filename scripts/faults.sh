#!/usr/bin/env bash
# scripts/faults.sh: run the fault-injection suite (or the clean run) at any size.
#
#   scripts/faults.sh                 the fault run at CI size: 20 deals, 60 s of faults
#   CONCORD_FAULTS_DEALS=500 CONCORD_FAULTS_DURATION=10m scripts/faults.sh
#                                     a long fault run
#   scripts/faults.sh clean           the clean serve run (CONCORD_CLEANRUN_DEALS, 100)
#   scripts/faults.sh unit            the fault proxy's own tests
#
# Variables (see docs/reliability.md): CONCORD_FAULTS_DEALS, CONCORD_FAULTS_DURATION,
# CONCORD_FAULTS_RATE (0.3), CONCORD_FAULTS_SEED (repeat a run's fault draws),
# CONCORD_CLEANRUN_DEALS. Needs Tryton (scripts/tryton.sh all); the output goes to
# the terminal, with the figures in the test log lines.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin

if [[ ${1:-} == unit ]]; then
	exec go test -race -count=1 -v ./internal/faultproxy
fi
if [[ -z ${TRYTON_URL:-} ]]; then
	if ! bash scripts/tryton.sh status >/dev/null 2>&1; then
		echo "faults.sh: Tryton is not running: run scripts/tryton.sh all first" >&2
		exit 1
	fi
	while IFS= read -r line; do export "${line//\"/}"; done < <(bash scripts/tryton.sh env)
fi

test=TestIntegrationFaults_OrderToCash
if [[ ${1:-} == clean ]]; then
	test=TestIntegrationCleanRun_100Deals
elif [[ $# -gt 0 ]]; then
	echo "faults.sh: unknown argument $1 (want: clean, unit, or none)" >&2
	exit 2
fi
# The run's own deadlines end a run that stops converging; the go test
# timeout only guards against a hang.
exec go test -count=1 -v -timeout 4h -run "^${test}\$" ./internal/e2e
