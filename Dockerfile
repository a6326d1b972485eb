FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends espeak-ng && rm -rf /var/lib/apt/lists/*
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 HOTLINE_DATA_DIR=/data HOTLINE_ENVIRONMENT=production
WORKDIR /app
COPY pyproject.toml README.md ./
COPY api api
COPY knowledge_base knowledge_base
COPY nlu nlu
COPY voice voice
RUN pip install --no-cache-dir . && useradd --system --home /data hotline && mkdir -p /data && chown hotline /data
USER hotline
EXPOSE 8000 9092
CMD ["hotline", "serve", "--host", "0.0.0.0", "--port", "8000"]
