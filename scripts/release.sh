#!/usr/bin/env bash
# scripts/release.sh: build the release binary of concord.
#
#   scripts/release.sh            writes dist/concord
#   scripts/release.sh OUT        writes OUT
#
# Release builds use the same Go as CI (.ci/run), one whose standard library
# carries the security fixes of later patch releases; the go command fetches
# that toolchain through the module proxy the first time. The binary is static
# (no cgo) and built with -trimpath.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin
export GOTOOLCHAIN=go1.27.3
out=${1:-dist/concord}
mkdir -p "$(dirname "$out")"
echo "building $out with $(go version)"
CGO_ENABLED=0 go build -trimpath -o "$out" ./cmd/concord
echo "built $out: $("$out" --help >/dev/null && go version "$out" | cut -d' ' -f2-)"
