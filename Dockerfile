# mashangban: a static binary on a small base image.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# .git is not in the build context, so go build records no revision: pass it
# (docker build --build-arg REVISION=$(git rev-parse HEAD) .); VERSION, if
# given (a tag), replaces the module version.
ARG REVISION=""
ARG VERSION=""
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.revision=${REVISION} -X main.version=${VERSION}" -o /out/mashangban ./cmd/mashangban

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates tzdata \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /var/lib/mashangban --create-home mashangban
COPY --from=build /out/mashangban /usr/local/bin/mashangban
USER mashangban
WORKDIR /var/lib/mashangban
EXPOSE 8080
# The image has no curl or wget: the binary asks its own readiness endpoint.
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
    CMD ["/usr/local/bin/mashangban", "healthcheck", "--url", "http://127.0.0.1:8080/readyz"]
ENTRYPOINT ["/usr/local/bin/mashangban"]
CMD ["run", "--data.dir=/var/lib/mashangban", "--http.listen=0.0.0.0:8080"]
