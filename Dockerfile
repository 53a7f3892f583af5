# syntax=docker/dockerfile:1
#
# The syncloop image: one small, non-root image holding every binary of the
# container stack (docker-compose.yml):
#   syncloop-worker        the Temporal worker (the default command)
#   syncloop               the CLI; `syncloop serve` runs the REST API
#   syncloop-democrm       the demo CRM (deploy/democrm)
#   syncloop-healthcheck   HTTP probe for health checks (deploy/healthcheck)
#
#   docker build -t syncloop .
#   docker run --rm syncloop syncloop --help
#
# The final image is distroless (no shell): commands are run as exec arrays,
# e.g. `docker compose exec api syncloop status`.

ARG GO_VERSION=1.26
ARG RUNTIME_IMAGE=gcr.io/distroless/static-debian12:nonroot

# ---- build: static binaries -------------------------------------------------
# Runs on the build host's platform and cross-compiles for the target one.
FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-buildvcs=false

# Dependencies first, in a layer of their own: it is rebuilt only when
# go.mod or go.sum change, not on every source edit.
COPY go.mod go.sum ./
RUN go mod download

COPY . .
ARG TARGETOS TARGETARCH
RUN --mount=type=cache,target=/root/.cache/go-build \
    set -eu; \
    export GOOS="$TARGETOS" GOARCH="$TARGETARCH"; \
    go build -trimpath -ldflags='-s -w' -o /out/syncloop-worker ./worker; \
    go build -trimpath -ldflags='-s -w' -o /out/syncloop ./starter; \
    go build -trimpath -ldflags='-s -w' -o /out/syncloop-democrm ./deploy/democrm; \
    go build -trimpath -ldflags='-s -w' -o /out/syncloop-healthcheck ./deploy/healthcheck; \
    mkdir -p /out/data

# ---- runtime ------------------------------------------------------------------
# distroless/static: CA certificates (Salesforce, HubSpot and webhooks are
# HTTPS) and time zone data, no shell, user nonroot (65532).
FROM ${RUNTIME_IMAGE}
COPY --from=build /out/syncloop-worker /out/syncloop /out/syncloop-democrm /out/syncloop-healthcheck /usr/local/bin/
# Owned by nonroot, so that a named volume mounted here is writable
# (the demo CRM keeps its dataset's epoch in /data).
COPY --from=build --chown=65532:65532 /out/data /data
ENV PATH=/usr/local/bin:/usr/bin:/bin
USER 65532:65532
# `syncloop serve` listens on SYNCLOOP_API_ADDR (default 127.0.0.1:8080, so
# set ":8080" in a container, with SYNCLOOP_API_TOKEN or
# SYNCLOOP_API_INSECURE_NO_AUTH=true, as docker-compose.yml does).
EXPOSE 8080
# No image-wide HEALTHCHECK: the same image runs the worker (no HTTP port),
# the API and the demo CRM; docker-compose.yml sets one per service with
# syncloop-healthcheck, e.g. ["syncloop-healthcheck", "http://127.0.0.1:8080/healthz"].
CMD ["syncloop-worker"]
