# The worker image. docker-compose.yml runs it next to Kafka and Redis.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    EDDY_WEB_HOST=0.0.0.0 \
    EDDY_DATA_DIR=/var/lib/eddy

WORKDIR /opt/eddy
COPY pyproject.toml README.md ./
COPY app ./app
COPY agents ./agents
COPY schemas ./schemas
COPY demo ./demo
COPY monitoring ./monitoring
# /run/eddy: the deployment's secrets (snapshot key, tokens), one file each.
RUN pip install --no-cache-dir . \
    && useradd --system --home-dir /var/lib/eddy --create-home eddy \
    && install -d -o eddy -m 700 /run/eddy

USER eddy
EXPOSE 6066
# Healthy means ready: the model loaded, the partitions held, someone learning.
HEALTHCHECK --interval=5s --timeout=3s --start-period=60s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:6066/ready', timeout=2)"
CMD ["eddy", "worker", "-l", "info"]
