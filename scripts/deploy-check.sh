#!/usr/bin/env bash
# scripts/deploy-check.sh: check the ways Concord is deployed (docs/deploy.md).
#
# Where Docker works (a daemon that answers and can pull the base images), it
# builds the image from the Dockerfile and runs `docker run IMAGE version`.
# Otherwise it lints the Dockerfile (hadolint when installed, always the
# project's own checks below), builds the binary exactly as the Dockerfile's
# build stage does (its `go build` line, run here with the Dockerfile's Go),
# checks that it is static, and runs it as the image would (user 65532,
# `version --json`, `--help`). It cross-compiles windows/amd64 (all release
# targets with DEPLOY_CHECK_CROSS=all). It also verifies the systemd unit
# (systemd-analyze, when present) and .goreleaser.yaml (goreleaser check, when
# installed). Idempotent: it writes only under a temporary directory.
#
#   scripts/deploy-check.sh              what works here
#   DEPLOY_CHECK_DOCKER=0 scripts/...    skip Docker even where it works
#   DEPLOY_CHECK_CROSS=all scripts/...   build every release target (none: none)
#
# The first run builds concord with CGO off (a few minutes on a cold build
# cache); later runs take seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin
export PATH=$PATH:$(go env GOPATH)/bin # goreleaser, where go install put it
say() { printf '[deploy-check] %s\n' "$*"; }
fail() { printf '[deploy-check] FAIL: %s\n' "$*" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

version=deploy-check
commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
date=$(date -u +%Y-%m-%dT%H:%M:%SZ)

# --- The Dockerfile's own checks (a documented minimal lint, docs/deploy.md).
df=Dockerfile
[[ -f $df ]] || fail "no $df"
# Instructions, continuation lines joined, comments and blank lines dropped.
instr=$(awk '
	/^[[:space:]]*#/ { next }
	/^[[:space:]]*$/ { next }
	{ line = line $0; if (sub(/\\[[:space:]]*$/, "", line)) next; print line; line = "" }
' "$df")
bad=$(grep -Evi '^(FROM|RUN|CMD|LABEL|EXPOSE|ENV|ADD|COPY|ENTRYPOINT|VOLUME|USER|WORKDIR|ARG|ONBUILD|STOPSIGNAL|HEALTHCHECK|SHELL)[[:space:]]' <<<"$instr" || true)
[[ -z $bad ]] || fail "$df: not an instruction: $bad"
head -1 "$df" | grep -q '^# syntax=docker/dockerfile:1' || fail "$df: first line must be # syntax=docker/dockerfile:1 (RUN --mount needs it)"
froms=$(grep -c '^FROM ' <<<"$instr")
((froms >= 2)) || fail "$df: want a multi-stage build (found $froms FROM)"
grep '^FROM ' <<<"$instr" | grep -Eq ':latest|^FROM [^:@ ]+( |$)' && fail "$df: every FROM names a tag, never latest"
grep -q '^ADD ' <<<"$instr" && fail "$df: COPY, not ADD"
final=$(awk '/^FROM /{s=""} {s=s $0 "\n"} END{printf "%s", s}' <<<"$instr")
user=$(grep '^USER ' <<<"$final" | tail -1 | awk '{print $2}')
[[ -n $user && ${user%%:*} != root && ${user%%:*} != 0 ]] || fail "$df: the final stage must set a non-root USER (has '${user:-none}')"
grep -q '^ENTRYPOINT \["/usr/local/bin/concord"\]' <<<"$final" || fail "$df: ENTRYPOINT [\"/usr/local/bin/concord\"] in the final stage"
grep -q '^CMD \["serve"' <<<"$final" || fail "$df: CMD [\"serve\", ...] in the final stage"
grep -q '^EXPOSE 8088' <<<"$final" || fail "$df: EXPOSE 8088 (serve) in the final stage"
grep -q '^VOLUME \["/data"\]' <<<"$final" || fail "$df: VOLUME [\"/data\"] in the final stage"
for stage in $(grep -o 'COPY --from=[^ ]*' <<<"$instr" | cut -d= -f2 | sort -u); do
	grep -Eq "^FROM .* AS $stage\$" <<<"$instr" || fail "$df: COPY --from=$stage names no stage"
done
build=$(grep '^RUN .*go build' <<<"$instr" || true)
[[ -n $build ]] || fail "$df: no RUN ... go build"
for want in CGO_ENABLED=0 -trimpath main.version= main.commit= main.date= ./cmd/concord; do
	grep -qF -- "$want" <<<"$build" || fail "$df: its go build lacks $want"
done
if command -v hadolint >/dev/null; then
	say "hadolint $df"
	hadolint "$df"
else
	say "hadolint is not installed (Debian has no package): the checks above stand in for it"
fi
say "$df: multi-stage ($froms stages), USER $user, ENTRYPOINT concord, CMD serve, EXPOSE 8088, VOLUME /data: ok"

go_version=$(sed -n 's/^ARG GO_VERSION=//p' "$df")
[[ -n $go_version ]] || fail "$df: no ARG GO_VERSION="

# --- Docker, where it works.
if [[ ${DEPLOY_CHECK_DOCKER:-1} != 0 ]] && command -v docker >/dev/null && docker info >/dev/null 2>&1; then
	image=concord:deploy-check
	say "docker build -t $image ."
	if docker build -q -t "$image" --build-arg VERSION="$version" --build-arg COMMIT="$commit" \
		--build-arg DATE="$date" . >"$tmp/docker-build.log" 2>&1; then
		out=$(docker run --rm "$image" version --json)
		grep -q "\"version\": \"$version\"" <<<"$out" || fail "docker run $image version: $out"
		user=$(docker image inspect -f '{{.Config.User}}' "$image")
		[[ -n $user && ${user%%:*} != root && ${user%%:*} != 0 ]] || fail "$image runs as root"
		say "docker run $image version: ok ($(docker image inspect -f '{{.Size}}' "$image") bytes)"
		# The image's binary, for the unit's check below.
		mkdir -p "$tmp/out"
		cid=$(docker create "$image")
		docker cp "$cid:/usr/local/bin/concord" "$tmp/out/concord" >/dev/null
		docker rm "$cid" >/dev/null
		bin=$tmp/out/concord
	fi
	# A daemon that cannot pull the base images (no network) is no reason to
	# fail: the checks without Docker below still run.
	say "docker build failed here; checking without Docker:"
	tail -5 "$tmp/docker-build.log"
else
	say "Docker's daemon is not usable here: building and running the binary the Dockerfile would copy"
fi

# --- The build stage's go build, run here as the Dockerfile runs it.
if [[ -z ${bin:-} ]]; then
	cmd=$(sed -E -e 's/^RUN //' -e 's/--mount=[^ ]+ //g' -e 's/ && mkdir .*$//' -e 's/GOTOOLCHAIN=local //' \
		-e "s#/out/#$tmp/out/#g" <<<"$build")
	say "go$go_version: $cmd"
	mkdir -p "$tmp/out"
	VERSION=$version COMMIT=$commit DATE=$date GOTOOLCHAIN=go$go_version GOFLAGS=${GOFLAGS:-} \
		bash -euo pipefail -c "$cmd"
	bin=$tmp/out/concord
	[[ -x $bin ]] || fail "the build wrote no $bin"

	# Static: no program interpreter (PT_INTERP), so it runs on distroless/static.
	if command -v readelf >/dev/null; then
		readelf -l "$bin" | grep -q 'Requesting program interpreter' && fail "$bin is dynamically linked"
	else
		LC_ALL=C ldd "$bin" 2>&1 | grep -q 'not a dynamic executable' || fail "$bin is dynamically linked: $(ldd "$bin" 2>&1)"
	fi
	GOTOOLCHAIN=go$go_version go version -m "$bin" | grep -q 'CGO_ENABLED=0' || fail "$bin was not built with CGO_ENABLED=0"

	# Run it the way the image does: user 65532, an empty environment but
	# CONCORD_CONFIG, from /data (here: an empty directory of that user's).
	run_as() {
		if [[ $(id -u) == 0 ]] && command -v setpriv >/dev/null; then
			setpriv --reuid 65532 --regid 65532 --clear-groups "$@"
		else
			"$@"
		fi
	}
	mkdir -p "$tmp/data"
	chmod 0755 "$tmp" "$tmp/out" && chmod 0755 "$bin"
	[[ $(id -u) == 0 ]] && chown 65532:65532 "$tmp/data"
	out=$(cd "$tmp/data" && run_as env -i CONCORD_CONFIG=/etc/concord/concord.yaml "$bin" version --json)
	grep -q "\"version\": \"$version\"" <<<"$out" || fail "version --json: $out"
	grep -q "\"commit\": \"$commit\"" <<<"$out" || fail "version --json: $out"
	grep -q "\"date\": \"$date\"" <<<"$out" || fail "version --json: $out"
	(cd "$tmp/data" && run_as env -i "$bin" --help >/dev/null) || fail "--help"
	say "static binary ($(du -h "$bin" | cut -f1)), $(run_as "$bin" version | head -1) as uid 65532: ok"
fi

# --- Other release targets (.goreleaser.yaml): build-tagged code (syscalls
# that exist on unix only) breaks them first, so windows/amd64 is built by
# default; DEPLOY_CHECK_CROSS=all builds the five, none skips them.
case ${DEPLOY_CHECK_CROSS:-windows/amd64} in
none) targets= ;;
all) targets="windows/amd64 windows/arm64 darwin/amd64 darwin/arm64 linux/arm64" ;;
*) targets=${DEPLOY_CHECK_CROSS:-windows/amd64} ;;
esac
for target in $targets; do
	CGO_ENABLED=0 GOOS=${target%/*} GOARCH=${target#*/} GOTOOLCHAIN=go$go_version \
		go build -trimpath -o "$tmp/cross" ./cmd/concord || fail "go build for $target"
	rm -f "$tmp/cross"
	say "go build for $target: ok"
done

# --- The systemd unit.
if command -v systemd-analyze >/dev/null; then
	# verify checks that ExecStart's program exists: point it at this build.
	sed "s#/usr/local/bin/concord#$bin#" deploy/concord.service >"$tmp/concord.service"
	if ! verify=$(systemd-analyze verify "$tmp/concord.service" 2>&1) || [[ -n $verify ]]; then
		fail "systemd-analyze verify deploy/concord.service: $verify"
	fi
	say "systemd-analyze verify deploy/concord.service: ok"
else
	say "systemd-analyze is not installed: deploy/concord.service not verified"
fi

# --- The release configuration.
if command -v goreleaser >/dev/null; then
	goreleaser check >"$tmp/goreleaser.log" 2>&1 || { cat "$tmp/goreleaser.log"; fail "goreleaser check"; }
	say "goreleaser check: ok"
else
	say "goreleaser is not installed: .goreleaser.yaml not checked (go install github.com/goreleaser/goreleaser/v2@v2.15.1)"
fi
say "ok"
