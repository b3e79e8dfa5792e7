# The collector (and the ward's iperf3 server) for docker-compose.yml.
FROM python:3.11-slim-bookworm
RUN apt-get update \
    && apt-get install -y --no-install-recommends iperf3 \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --create-home --uid 10001 lomsong
WORKDIR /app
COPY pyproject.toml setup.py README.md ./
COPY probe probe
COPY collector collector
COPY analysis analysis
COPY maps maps
COPY lomsong lomsong
RUN pip install --no-cache-dir '.[collector,analysis]'
USER lomsong
ENV LOMSONG_ENV=prod LOMSONG_HOST=0.0.0.0 LOMSONG_PORT=8080
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/readyz', timeout=4).status != 200)"
CMD ["lomsong", "serve", "--workers", "2"]
