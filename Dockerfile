FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    DATABASE_URL=sqlite:////data/atelier.db \
    DATA_DIR=/data/files \
    METRICS_HOST=0.0.0.0

RUN useradd --create-home --uid 10001 atelier && mkdir -p /data && chown atelier:atelier /data

WORKDIR /app
# Dependencies first, from the lock file, in a layer of their own: editing the source does not
# reinstall them. The same lock (with the dev extra) is what .ci/run installs.
COPY requirements.lock ./
RUN pip install --require-hashes -r requirements.lock
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY cogs ./cogs
RUN pip install --no-deps .

USER atelier
VOLUME ["/data"]
# /healthz when METRICS_PORT is set (e.g. -e METRICS_PORT=9108): 200 while every shard is
# connected, the database answers and the job engine runs. Without METRICS_PORT the check
# reports that there is nothing to ask and passes.
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["python", "-m", "bot", "healthcheck"]
CMD ["python", "-m", "bot"]
