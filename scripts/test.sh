#!/usr/bin/env bash
# scripts/test.sh: run Concord's whole test suite, the same way CI does.
#
#   scripts/test.sh                 all packages, with the race detector
#   scripts/test.sh ./internal/...  some packages (any go test arguments)
#
# Tests use the real databases when they answer on this machine: PostgreSQL at
# 127.0.0.1:5432 (TEST_DATABASE_URL), MariaDB at 127.0.0.1:3306 (TEST_MYSQL_DSN),
# Tryton when scripts/tryton.sh has started it (TRYTON_URL) and Odoo when
# scripts/odoo.sh has started it (ODOO_URL). Locally a test
# whose service is missing skips and says so; under CI=true it fails.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin

answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if [[ -z ${TEST_DATABASE_URL:-} ]] && answers 5432; then
	export TEST_DATABASE_URL="postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
fi
if [[ -z ${TEST_MYSQL_DSN:-} ]] && answers 3306; then
	export TEST_MYSQL_DSN="root@tcp(127.0.0.1:3306)/test"
fi
if [[ -z ${TRYTON_URL:-} ]] && bash scripts/tryton.sh status >/dev/null 2>&1; then
	while IFS= read -r line; do export "${line//\"/}"; done < <(bash scripts/tryton.sh env)
fi
if [[ -z ${ODOO_URL:-} ]] && bash scripts/odoo.sh status >/dev/null 2>&1; then
	while IFS= read -r line; do export "${line//\"/}"; done < <(bash scripts/odoo.sh env)
fi

if [[ $# -eq 0 ]]; then
	set -- ./...
fi
exec go test -race -count=1 -timeout 30m "$@"
