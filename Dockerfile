FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    DATABASE_URL=sqlite:////data/atelier.db \
    DATA_DIR=/data/files

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
CMD ["python", "-m", "bot"]
