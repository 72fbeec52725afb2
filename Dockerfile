FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    DATABASE_URL=sqlite:////data/atelier.db \
    DATA_DIR=/data/files

RUN useradd --create-home --uid 10001 atelier && mkdir -p /data && chown atelier:atelier /data

WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY cogs ./cogs
# The same install step that .ci/run proves, without the dev extra.
RUN pip install .

USER atelier
VOLUME ["/data"]
CMD ["python", "-m", "bot"]
