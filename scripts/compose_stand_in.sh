#!/bin/sh
# Bring compose.yaml up where Docker Hub cannot be reached, on stand-in base images built
# from a Debian bookworm root (debootstrap), and check it the way an operator would.
#
#   sudo scripts/compose_stand_in.sh            # dockerd already running
#
# Needs: root, dockerd, docker-compose (1.29) or `docker compose`, debootstrap, curl, bc, and a
# Debian mirror and PyPI reachable from the host. What it builds:
#   python:3.11-slim-bookworm  Debian's python3 (3.11), venv and pip; what the Dockerfile's
#                              ARG PYTHON_IMAGE names, so the Dockerfile is used unchanged
#   postgres:15-bookworm       Debian's postgresql-15 behind an entrypoint doing what the
#                              official image's does for compose.yaml: POSTGRES_PASSWORD,
#                              POSTGRES_USER, POSTGRES_DB, a data directory at
#                              /var/lib/postgresql/data, pg_isready on the PATH, SIGINT to stop
# Both carry the host's CA bundle (/etc/ssl/certs/ca-certificates.crt), so pip and apt get
# through a TLS-inspecting egress proxy the host trusts.
#
# Then: up -d, wait for migrate to exit and web-1/web-2 to answer /healthz and /readyz,
# check worker-1/worker-2 are running, `stop` (each container's exit code and the time it
# took), `down -v`. Everything it writes lives in $WORK; the compose project is its own
# (COMPOSE_PROJECT_NAME), so its volumes are removed by `down -v`.
#
# compose.yaml runs as it is, on its own network: with dockerd started as
# `dockerd --storage-driver=vfs --iptables=false --bridge=none` its containers reach each
# other and the published 127.0.0.1:8001/8002, but not the outside, so the images are
# built beforehand with the host's network (pip, apt) and `up` runs with --no-build.
#
# Environment: WORK (default scratch/compose-stand-in), DEBIAN_MIRROR.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${WORK:-$ROOT/scratch/compose-stand-in}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
export COMPOSE_PROJECT_NAME=${COMPOSE_PROJECT_NAME:-portalstandin}
mkdir -p "$WORK"
cd "$ROOT"

if docker compose version >/dev/null 2>&1; then
    compose() { docker compose "$@"; }
else
    compose() { docker-compose "$@"; }
fi

step() { printf '\n== %s (%s)\n' "$*" "$(date -u +%H:%M:%S)"; }

# 1. A minimal bookworm root, imported as the base of both stand-ins.
if ! docker image inspect stand-in/bookworm:base >/dev/null 2>&1; then
    step "debootstrap bookworm"
    if [ ! -x "$WORK/rootfs/usr/bin/apt-get" ]; then
        debootstrap --variant=minbase --include=ca-certificates bookworm "$WORK/rootfs" "$MIRROR"
    fi
    # debootstrap can leave the root's /proc mounted; the image must not carry the host's.
    if mountpoint -q "$WORK/rootfs/proc"; then umount "$WORK/rootfs/proc"; fi
    tar -C "$WORK/rootfs" --exclude='./proc/*' --exclude='./sys/*' -c . |
        docker import - stand-in/bookworm:base
fi

# 2. The stand-ins. Their build contexts hold only the host's CA bundle and, for
#    PostgreSQL, the entrypoint.
step "build the stand-in images"
for name in python postgres; do
    mkdir -p "$WORK/$name"
    cp /etc/ssl/certs/ca-certificates.crt "$WORK/$name/ca-certificates.crt"
done

cat >"$WORK/python/Dockerfile" <<'EOF'
FROM stand-in/bookworm:base
ENV LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
RUN printf 'exit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d \
    && apt-get update && apt-get install -y --no-install-recommends python3 python3-venv python3-pip \
    && rm -rf /var/lib/apt/lists/* \
    && printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' >/etc/pip.conf
CMD ["python3"]
EOF

cat >"$WORK/postgres/Dockerfile" <<'EOF'
FROM stand-in/bookworm:base
ENV LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive \
    PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PGDATA=/var/lib/postgresql/data
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
# As the official image: no cluster made by the package, the entrypoint makes it.
RUN printf 'exit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d \
    && apt-get update && apt-get install -y --no-install-recommends postgresql-common \
    && sed -ri 's/#?create_main_cluster.*/create_main_cluster = false/' /etc/postgresql-common/createcluster.conf \
    && apt-get install -y --no-install-recommends postgresql-15 \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p "$PGDATA" /var/run/postgresql \
    && chown postgres:postgres "$PGDATA" /var/run/postgresql && chmod 700 "$PGDATA"
COPY entrypoint.sh /usr/local/bin/docker-entrypoint.sh
VOLUME /var/lib/postgresql/data
ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]
STOPSIGNAL SIGINT
EXPOSE 5432
CMD ["postgres"]
EOF

cat >"$WORK/postgres/entrypoint.sh" <<'EOF'
#!/bin/sh
# What the official image's entrypoint does for a first start: a cluster owned by
# POSTGRES_USER with POSTGRES_PASSWORD, POSTGRES_DB made, local trust, host scram.
set -eu
: "${POSTGRES_USER:=postgres}"
: "${POSTGRES_DB:=$POSTGRES_USER}"
if [ "${1:-}" != postgres ]; then exec "$@"; fi
if [ "$(id -u)" = 0 ]; then
    mkdir -p "$PGDATA" /var/run/postgresql
    chown postgres:postgres "$PGDATA" /var/run/postgresql
    chmod 700 "$PGDATA"
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    if [ -z "${POSTGRES_PASSWORD:-}" ]; then
        echo "error: database is uninitialized and POSTGRES_PASSWORD is not set" >&2
        exit 1
    fi
    pwfile=$(mktemp)
    printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
    initdb --username="$POSTGRES_USER" --pwfile="$pwfile" --encoding=UTF8 --locale=C.UTF-8 \
        --auth-local=trust --auth-host=scram-sha-256 -D "$PGDATA"
    rm -f "$pwfile"
    printf "host all all all scram-sha-256\n" >>"$PGDATA/pg_hba.conf"
    printf "listen_addresses = '*'\n" >>"$PGDATA/postgresql.conf"
    if [ "$POSTGRES_DB" != postgres ]; then
        printf 'CREATE DATABASE "%s";\n' "$POSTGRES_DB" |
            postgres --single -j -D "$PGDATA" postgres >/dev/null
    fi
    echo "PostgreSQL init process complete; ready for start up."
fi
exec "$@"
EOF
chmod +x "$WORK/postgres/entrypoint.sh"

docker build --network host -t python:3.11-slim-bookworm "$WORK/python"
docker build --network host -t postgres:15-bookworm -t postgres:15 "$WORK/postgres"

# 3. The portal's image from the repo's Dockerfile, as `build: .` would make it; built
#    here with the host's network for pip.
step "build order-portal:latest from the repo's Dockerfile"
docker build --network host -t order-portal:latest .
case $(docker inspect -f '{{.Config.Env}}' order-portal:latest) in
*PORTAL_DEMO_EMULATORS*) echo "order-portal:latest is the demo image" >&2; exit 1 ;;
esac

# 4. Settings, made as compose.env.example says, passed through the environment.
POSTGRES_PASSWORD=$(python3 -c "import secrets; print(secrets.token_urlsafe(24))")
PORTAL_SECRET_KEYS=$(python3 -c "import secrets; print(secrets.token_urlsafe(32))")
PORTAL_DATA_KEYS=$(python3 -c "import base64, os; print('k1:' + base64.b64encode(os.urandom(32)).decode())")
PORTAL_BLIND_INDEX_KEY=$(python3 -c "import base64, os; print(base64.b64encode(os.urandom(32)).decode())")
PORTAL_BASE_URL=http://127.0.0.1:8001
export POSTGRES_PASSWORD PORTAL_SECRET_KEYS PORTAL_DATA_KEYS PORTAL_BLIND_INDEX_KEY PORTAL_BASE_URL

compose config -q

# The containers of one service of this project, stopped ones too (compose 1.29 and v2).
container() {
    docker ps -aq --filter "label=com.docker.compose.project=$COMPOSE_PROJECT_NAME" \
        --filter "label=com.docker.compose.service=$1"
}
seconds() { date -u -d "$1" +%s.%N; }

# 5. Up, and what answers.
step "up"
start=$(date +%s)
rc=0
compose up -d --no-build || rc=$?
echo "up: exit code $rc after $(($(date +%s) - start)) s"
fail=$rc

id=$(container migrate)
echo "migrate: exit code $(docker inspect -f '{{.State.ExitCode}}' "$id")," \
    "status $(docker inspect -f '{{.State.Status}}' "$id")"
[ "$(docker inspect -f '{{.State.ExitCode}}' "$id")" = 0 ] || fail=1
for port in 8001 8002; do
    for path in healthz readyz; do
        code=
        for _ in $(seq 60); do
            code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/$path") || true
            [ "$code" = 200 ] && break
            sleep 1
        done
        echo "127.0.0.1:$port/$path -> ${code:-no answer}"
        [ "$code" = 200 ] || fail=1
    done
done
for service in web-1 web-2 worker-1 worker-2; do
    state=$(docker inspect -f '{{.State.Status}} restarts={{.RestartCount}}' "$(container "$service")")
    echo "$service: $state"
    [ "$state" = "running restarts=0" ] || fail=1
done
for service in web-1 web-2; do
    health=
    for _ in $(seq 90); do
        health=$(docker inspect -f '{{.State.Health.Status}}' "$(container "$service")")
        [ "$health" = healthy ] && break
        sleep 1
    done
    echo "$service: Docker's health check (the image's HEALTHCHECK) says $health"
    [ "$health" = healthy ] || fail=1
done
compose ps

# 6. Stop: every service exits 0 within its stop_grace_period (60 s), the database last.
step "stop"
begun=$(date -u +%s.%N)
rc=0
compose stop || rc=$?
echo "stop: exit code $rc after $(echo "$(date -u +%s.%N) - $begun" | bc) s"
[ "$rc" = 0 ] || fail=1
last_portal=0
for service in web-1 web-2 worker-1 worker-2 postgres; do
    id=$(container "$service")
    code=$(docker inspect -f '{{.State.ExitCode}}' "$id")
    finished=$(seconds "$(docker inspect -f '{{.State.FinishedAt}}' "$id")")
    took=$(echo "$finished - $begun" | bc)
    echo "$service: exit code $code, stopped $took s after stop began"
    [ "$code" = 0 ] && [ "$(echo "$took < 60" | bc)" = 1 ] || fail=1
    if [ "$service" = postgres ]; then
        [ "$(echo "$finished > $last_portal" | bc)" = 1 ] || { echo "postgres stopped first"; fail=1; }
    elif [ "$(echo "$finished > $last_portal" | bc)" = 1 ]; then
        last_portal=$finished
    fi
done
compose logs --no-color --tail=4 web-1 worker-1 postgres

step "down -v"
compose down -v
echo "result: $([ "$fail" = 0 ] && echo ok || echo FAILED)"
exit "$fail"
