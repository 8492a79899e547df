# binspector: build in a full Rust image, run as a non-root user in a slim one.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock clippy.toml ./
COPY src src
COPY migrations migrations
COPY templates templates
RUN cargo build --release --locked

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin binspector \
    && mkdir -p /data \
    && chown binspector /data
COPY --from=build /src/target/release/binspector /usr/local/bin/binspector
COPY static /app/static
WORKDIR /app
ENV BINSPECTOR_LISTEN=0.0.0.0:8443 \
    BINSPECTOR_DATA_DIR=/data \
    BINSPECTOR_STATIC_DIR=/app/static
USER binspector
VOLUME /data
EXPOSE 8443
CMD ["binspector"]
