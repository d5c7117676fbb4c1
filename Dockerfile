# The bot image: `docker build -t telegram-llm-bot .`, then run it with the settings in the
# environment (`docker run --env-file .env telegram-llm-bot`). See deploy/compose.yaml for
# several replicas behind a balancer.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PTB_TIMEDELTA=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY storage ./storage
RUN pip install . \
    && useradd --create-home --uid 10001 bot \
    && mkdir -p /app/data \
    && chown bot /app/data

USER bot
# The webhook server and GET /healthz (webhook mode); long polling needs no port.
EXPOSE 8080
CMD ["python", "-m", "bot"]
