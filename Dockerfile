# syntax=docker/dockerfile:1
# Concord's container image: a static concord binary on distroless, run as a
# non-root user. See docs/deploy.md.
#
#   docker build -t concord --build-arg VERSION=v1.2.3 --build-arg COMMIT=$(git rev-parse HEAD) \
#     --build-arg DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ) .
#   docker run --rm concord version
#   docker run -d -p 8088:8088 -v concord-data:/data \
#     -v $PWD/concord.yaml:/etc/concord/concord.yaml:ro concord
#
# scripts/deploy-check.sh builds the binary the way this file does (where
# Docker cannot run, it does that without Docker) and runs it.

# The Go of release builds (scripts/release.sh, .ci/run): go.mod's go 1.26.8
# with the standard library's later security fixes.
ARG GO_VERSION=1.27.3

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
# The module cache is filled in its own layer, rebuilt only when go.mod or
# go.sum change.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG VERSION=""
ARG COMMIT=""
ARG DATE=""
# CGO off: modernc.org/sqlite is pure Go, so the binary is static and runs on
# an image without a C library. GOTOOLCHAIN=local: the builder's own Go.
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOTOOLCHAIN=local go build -trimpath \
      -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT} -X main.date=${DATE}" \
      -o /out/concord ./cmd/concord \
 && mkdir -p /out/data

# distroless static: CA certificates, tzdata and /etc/passwd with the nonroot
# user (65532), nothing else: no shell, no package manager.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/concord /usr/local/bin/concord
# /data holds the SQLite store (store.path: /data/concord.db) and is writable
# by the non-root user; mount a volume there.
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
WORKDIR /data
VOLUME ["/data"]
ENV CONCORD_CONFIG=/etc/concord/concord.yaml
# serve's HTTP port: /healthz, /readyz, /stats, /metrics and the webhooks.
EXPOSE 8088
ENTRYPOINT ["/usr/local/bin/concord"]
# In a container serve listens on every interface; publish the port (-p) only
# where it should be reached.
CMD ["serve", "--addr", "0.0.0.0:8088"]
