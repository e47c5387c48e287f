# Stand-in for python:3.11.11-slim-bookworm, built from Debian's archive where no registry answers.
# Debian bookworm's python3 (3.11.2) in a venv at /usr/local, so /usr/local/bin/python and pip are
# where the official image has them; the official slim image's dpkg excludes (no man pages: this is
# why openjdk's install needs /usr/share/man/man1 created first, on the real image too); and the
# host's CA bundle, without which the containers cannot reach the package registries here.
FROM cryptoviz-standin/bookworm-rootfs:1
LABEL org.cryptoviz.standin="python:3.11.11-slim-bookworm from debootstrap"
COPY dpkg-docker.cfg /etc/dpkg/dpkg.cfg.d/docker
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
RUN rm -rf /usr/share/man/* /usr/share/doc/* /var/lib/apt/lists/* \
    && python3 -m venv /usr/local \
    && /usr/local/bin/python --version
ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8 \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt \
    PIP_DISABLE_PIP_VERSION_CHECK=1
CMD ["python3"]
