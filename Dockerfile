# chanperf image: the API (gunicorn on port 8024), and with another command the RQ worker,
# the scheduler or a migration. docker-stack.yml runs all four from this one image.
#
#   docker build -t chanperf .
#   docker run --rm -e CHANPERF_DATABASE_URL=mysql+pymysql://... chanperf chanperf db upgrade
#   docker run -p 8024:8024 -e CHANPERF_DATABASE_URL=... -e CHANPERF_REDIS_URL=... chanperf
#
# Nothing about a deployment is in the image: the database, Redis, API keys and pack folders
# come from CHANPERF_* variables or the files CHANPERF_*_FILE names (Docker secrets). The
# default policy and rule packs are package data of the wheel.
#
# BASE: any Debian-based image with Python 3.11 (or 3.12), pip and apt. The tests build the
# image on a stand-in for python:3.11-slim made from Debian packages.
ARG BASE=python:3.11-slim

# durable-rules 2.0.28 is published as source with C code only: build every wheel here,
# with a compiler, and keep the toolchain out of the image that runs.
FROM ${BASE} AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# durable-rules' setup.py compiles without optimisation; -O2 measured ~1.5x faster.
ENV CPPFLAGS=-O2
# The dependencies first, from pyproject.toml alone: a change to the code rebuilds only
# chanperf's own wheel, not the dependencies' (and durable-rules' C code).
COPY pyproject.toml ./
RUN python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; \
print(*p['dependencies'], *p['optional-dependencies']['server'], sep='\n')" > requirements.txt \
 && pip wheel --no-cache-dir --wheel-dir /deps -r requirements.txt \
 && mv requirements.txt /deps/
COPY README.md ./
# chanperf/packs/ links to policies/ and rules/: the wheel gets them as files.
COPY policies ./policies
COPY rules ./rules
COPY chanperf ./chanperf
COPY api ./api
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /app .

FROM ${BASE}
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    CHANPERF_PORT=8024
# Same as `pip install .[server]`, from the wheels built above and nothing else, in two
# layers so that a new build of the code reuses the dependencies' layer.
COPY --from=build /deps /deps
RUN pip install --no-cache-dir --no-index --find-links /deps -r /deps/requirements.txt \
 && rm -rf /deps
COPY --from=build /app /app
RUN pip install --no-cache-dir --no-index --no-deps /app/*.whl \
 && pip check \
 && rm -rf /app
# The home folder is the working folder: without CHANPERF_DATABASE_URL the default
# SQLite file lands there, writable by the service user and nowhere else. It holds no
# policies/ or rules/, so the packaged packs are read unless a folder is configured.
RUN useradd --system --uid 10001 --create-home --home-dir /var/lib/chanperf chanperf
USER chanperf
WORKDIR /var/lib/chanperf
EXPOSE 8024
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8024/health', timeout=4)"]
CMD ["gunicorn", "--bind", "0.0.0.0:8024", "--access-logfile", "-", "api:create_app()"]
# Last, because a build argument's new value invalidates the cache of every step after it:
# the commit the image was built from (deploy.sh passes it; it is also the image's tag).
ARG REVISION=unknown
LABEL org.opencontainers.image.title="chanperf" \
      org.opencontainers.image.revision="${REVISION}"
