# mailsetup serve in a container: built in a Rust image, run from a
# distroless static base as a non-root user (the image is the binary, CA
# certificates and the data it embeds: well under 30 MB).
#
#   podman build -t mailsetup .
#   podman run -p 8080:8080 mailsetup serve --listen 0.0.0.0:8080
FROM docker.io/library/rust:1-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends musl-tools busybox-static \
 && rm -rf /var/lib/apt/lists/* && rustup target add x86_64-unknown-linux-musl
WORKDIR /src
COPY . .
RUN cargo build --release --locked --target x86_64-unknown-linux-musl \
 && strip target/x86_64-unknown-linux-musl/release/mailsetup \
 && cp target/x86_64-unknown-linux-musl/release/mailsetup /mailsetup

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /mailsetup /usr/bin/mailsetup
# A static wget for the health check (distroless has no shell or curl).
COPY --from=build /bin/busybox /usr/bin/busybox
USER 65532:65532
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s --start-period=5s \
  CMD ["/usr/bin/busybox", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/healthz"]
ENTRYPOINT ["/usr/bin/mailsetup"]
CMD ["serve", "--listen", "0.0.0.0:8080"]
