# The worker image. docker-compose.yml runs it next to Kafka and Redis.

# The compiled parts (app/*.c) are built here, with a C compiler the
# image itself does without.
FROM python:3.11-slim AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY app ./app
COPY agents ./agents
COPY schemas ./schemas
COPY demo ./demo
COPY monitoring ./monitoring
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    EDDY_WEB_HOST=0.0.0.0 \
    EDDY_DATA_DIR=/var/lib/eddy

WORKDIR /opt/eddy
COPY --from=build /wheels /wheels
# /run/eddy: the deployment's secrets (snapshot key, tokens), one file each.
RUN pip install --no-cache-dir /wheels/*.whl \
    && rm -rf /wheels \
    && useradd --system --home-dir /var/lib/eddy --create-home eddy \
    && install -d -o eddy -m 700 /run/eddy

USER eddy
EXPOSE 6066
# Healthy means ready: the model loaded, the partitions held, someone learning.
HEALTHCHECK --interval=5s --timeout=3s --start-period=60s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:6066/ready', timeout=2)"
CMD ["eddy", "worker", "-l", "info"]
