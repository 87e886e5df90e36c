# syntax=docker/dockerfile:1.7
#
# One image for every FeeFiFoFunds service: static binaries (CGO off) of
# watcher, parser, writer, gapscanner, fetcher and fff on a distroless base,
# running as the non-root user 65532. compose.yaml picks the binary with
# `command:`, e.g. ["writer"].
#
#   docker build -t feefifofunds/fff .
#   docker run --rm feefifofunds/fff fff --help

ARG GO_VERSION=1.26

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-trimpath
# Modules first, so a source change does not download them again.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    go build -ldflags="-s -w" -o /out/ \
      ./cmd/watcher ./cmd/parser ./cmd/writer ./cmd/gapscanner ./cmd/fetcher ./cmd/fff
# The base image has no shell, curl or wget: container healthchecks call this
# instead (`httpcheck http://127.0.0.1:9101/healthz` exits 0 on a 2xx answer).
RUN mkdir -p /httpcheck && cd /httpcheck && cat > main.go <<'GO' && go mod init httpcheck && go build -ldflags="-s -w" -o /out/httpcheck .
// Command httpcheck exits 0 when GET URL answers 2xx within 3 s.
package main

import (
	"fmt"
	"net/http"
	"os"
	"time"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: httpcheck URL")
		os.Exit(2)
	}
	c := http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "httpcheck:", err)
		os.Exit(1)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		fmt.Fprintln(os.Stderr, "httpcheck:", resp.Status)
		os.Exit(1)
	}
}
GO

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/ /usr/local/bin/
WORKDIR /home/nonroot
USER 65532:65532
# Metrics and /healthz: watcher 9101, parser 9102, writer 9104, fetcher 9105, gapscanner 9106.
EXPOSE 9101 9102 9104 9105 9106
CMD ["fff", "--help"]
