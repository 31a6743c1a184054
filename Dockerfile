# The portal as an image: the wheel built in one stage, installed alone in the next.
# Build:  docker build -t order-portal .
# Demo:   docker build --target demo -t order-portal-demo .   (adds the repo's emulators)
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
RUN python3 -m venv /opt/build && /opt/build/bin/pip install --no-cache-dir "build>=1.2"
# Only what the wheel is made of: emulators/, tests/ and bench/ stay out of it
# (pyproject.toml, [tool.setuptools.packages.find]).
COPY pyproject.toml ./
COPY backend backend
COPY portal portal
COPY migrations migrations
RUN /opt/build/bin/python -m build --wheel --outdir /dist .

FROM ${PYTHON_IMAGE} AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/portal/bin:$PATH
COPY --from=build /dist/ /tmp/dist/
RUN python3 -m venv /opt/portal \
    && /opt/portal/bin/pip install --no-cache-dir /tmp/dist/*.whl \
    && rm -rf /tmp/dist \
    && useradd --system --uid 10001 --user-group --home-dir /srv/portal --create-home portal
# var/ holds what the settings keep on disk by default (secret key, SQLite file, photos,
# exports); mount a volume there, shared by every web and worker container.
WORKDIR /srv/portal
RUN mkdir var && chown portal:portal var
USER portal
VOLUME ["/srv/portal/var"]
EXPOSE 8000
# uvicorn and `portal worker` stop on SIGTERM: the connections drain, the job in hand
# finishes, then the process exits 0 (README, Deployment).
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
# Exec form: the portal is the container's main process and gets the stop signal itself.
CMD ["portal", "serve", "--host", "0.0.0.0", "--port", "8000"]

# The demo (`make run` in a container): the repo's loopback emulators next to the portal,
# which serves them inside the one process when PORTAL_DEMO_EMULATORS is set.
FROM runtime AS demo
COPY --chown=root:root emulators /opt/demo/emulators
ENV PYTHONPATH=/opt/demo \
    PORTAL_DEMO_EMULATORS=1
CMD ["sh", "-c", "portal migrate && portal demo && exec portal serve --host 0.0.0.0 --port 8000"]

# `docker build` without --target, and compose's `build: .`, make the last stage: it must be
# the portal alone, or order-portal:latest would be the demo, emulators on.
FROM runtime AS portal
