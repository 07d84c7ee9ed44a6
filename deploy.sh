#!/usr/bin/env bash
# Build, push and deploy chanperf to Docker Swarm; roll back if the new tasks do not come up.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: deploy.sh [--dry-run] [--tag TAG] [--allow-dirty] [--timeout SECONDS]

Builds the image from this checkout, tags it with the git commit, pushes it to
$REGISTRY, deploys docker-stack.yml as the stack $STACK_NAME, then waits until the
migrate job has completed and every api, worker and scheduler task of the new image
runs (the api's only once healthy). If that does not happen within the timeout, the
services are rolled back to their previous image and the script exits 1.

Options:
  --dry-run          print every command, in order, without running any
  --tag TAG          deploy an image already pushed under TAG (no build, no push)
  --allow-dirty      build even with uncommitted changes (the tag gets "-dirty")
  --timeout SECONDS  how long to wait for the new tasks (default 600)
  -h, --help         this text

Environment:
  REGISTRY           registry to push to, e.g. registry.example.com/canal (required)
  STACK_NAME         stack name (default channel-performance)
  IMAGE_NAME         image name in the registry (default channel-performance)
  Anything docker-stack.yml reads (CHANPERF_WORKER_REPLICAS, TRAEFIK_NETWORK, ...)
  is passed through to `docker stack deploy`.

Run it where `docker` talks to a Swarm manager and is logged in to the registry.
EOF
}

die() { echo "deploy.sh: $*" >&2; exit 1; }

DRY_RUN=0
TAG=""
ALLOW_DIRTY=0
TIMEOUT=600
while [[ $# -gt 0 ]]; do
  case $1 in
    --dry-run) DRY_RUN=1 ;;
    --tag) [[ $# -ge 2 ]] || die "--tag needs a value"; TAG=$2; shift ;;
    --allow-dirty) ALLOW_DIRTY=1 ;;
    --timeout)
      [[ $# -ge 2 && $2 =~ ^[0-9]+$ ]] || die "--timeout needs a number of seconds"
      TIMEOUT=$2; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; echo >&2; die "unknown argument: $1" ;;
  esac
  shift
done

[[ -n ${REGISTRY:-} ]] || { usage >&2; echo >&2; die "REGISTRY is not set"; }
STACK_NAME=${STACK_NAME:-channel-performance}
IMAGE_NAME=${IMAGE_NAME:-channel-performance}
SERVICES=(api worker scheduler)   # long-running; migrate is a job

cd "$(dirname "$0")"
if [[ $DRY_RUN == 0 ]]; then
  command -v docker >/dev/null || die "docker is not installed"
fi

# Every command goes through run (changes something) or ask (its output is read): printed
# to stderr as `set -x` would, and run unless --dry-run. In a dry run, ask answers with its
# first argument, the answer of a deploy that goes well.
show() {
  local arg line="+"
  for arg in "$@"; do
    if [[ $arg =~ ^[A-Za-z0-9_./:=@,+-]+$ ]]; then line+=" $arg"
    else line+=" '${arg//\'/\'\\\'\'}'"; fi
  done
  printf '%s\n' "$line" >&2
}
run() {
  show "$@"
  [[ $DRY_RUN == 1 ]] || "$@"
}
ask() {
  local dry_answer=$1; shift
  show "$@"
  if [[ $DRY_RUN == 1 ]]; then printf '%s\n' "$dry_answer"; else "$@"; fi
}

if [[ -z $TAG ]]; then
  COMMIT=$(git rev-parse HEAD)
  TAG=$(git rev-parse --short=12 HEAD)
  if [[ -n $(git status --porcelain) ]]; then
    [[ $ALLOW_DIRTY == 1 ]] || die "uncommitted changes: commit them, or pass --allow-dirty"
    TAG="$TAG-dirty"
  fi
  BUILD=1
else
  [[ $TAG =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] || die "--tag: not an image tag: $TAG"
  BUILD=0
fi
IMAGE="$REGISTRY/$IMAGE_NAME:$TAG"

echo "deploy.sh: $IMAGE as stack $STACK_NAME"
if [[ $BUILD == 1 ]]; then
  run docker build --pull --build-arg "REVISION=$COMMIT" -t "$IMAGE" .
  run docker push "$IMAGE"
fi

# A first deploy has nothing to roll back to; a later one rolls back to what runs now.
stacks=$(ask "$STACK_NAME" docker stack ls --format '{{.Name}}')
FIRST_DEPLOY=1
if grep -qx -- "$STACK_NAME" <<<"$stacks"; then FIRST_DEPLOY=0; fi

run env CHANPERF_IMAGE="$IMAGE" docker stack deploy --with-registry-auth \
  -c docker-stack.yml "$STACK_NAME"

# What a dry run pretends each service runs (the stack's default replicas).
dry_replicas() { if [[ $1 == scheduler ]]; then echo 1/1; else echo 2/2; fi; }

# 0: the migrate job completed and every service runs all its replicas of the new image,
# its update finished (Swarm counts a task with a health check as running only once it is
# healthy); 1: not yet; 2: Swarm gave up on an update (rolled it back or paused it).
check() {
  local migrate service replicas state image
  migrate=$(ask "0/1 (1/1 completed)" docker service ls \
    --filter "name=${STACK_NAME}_migrate" --format '{{.Replicas}}')
  echo "migrate ${migrate:-none}"
  [[ $migrate == *"(1/1 completed)"* ]] || return 1
  for service in "${SERVICES[@]}"; do
    replicas=$(ask "${STACK_NAME}_$service $(dry_replicas "$service")" docker service ls --filter "name=${STACK_NAME}_$service" \
      --format '{{.Name}} {{.Replicas}}' | awk -v n="${STACK_NAME}_$service" '$1 == n {print $2}')
    state=$(ask "completed" docker service inspect "${STACK_NAME}_$service" \
      --format '{{if .UpdateStatus}}{{.UpdateStatus.State}}{{else}}none{{end}}')
    image=$(ask "$IMAGE" docker service inspect "${STACK_NAME}_$service" \
      --format '{{.Spec.TaskTemplate.ContainerSpec.Image}}')
    image=${image%@*}  # --with-registry-auth pins the digest after the tag
    echo "$service ${replicas:-0/0} $state $image"
    case $state in rollback_*|paused) return 2 ;; esac
    [[ $image == "$IMAGE" && $state =~ ^(completed|none)$ ]] || return 1
    [[ ${replicas%%/*} == "${replicas##*/}" && ${replicas%%/*} != 0 ]] || return 1
  done
}

rollback() {
  if [[ $FIRST_DEPLOY == 1 ]]; then
    echo "deploy.sh: first deploy of $STACK_NAME, nothing to roll back to;" \
      "see docker service ps ${STACK_NAME}_api" >&2
    return
  fi
  for service in "${SERVICES[@]}"; do
    run docker service rollback --detach "${STACK_NAME}_$service" || true
  done
}

if [[ $DRY_RUN == 1 ]]; then
  check || true
  echo "(dry run) the checks above repeat every 5 s for up to ${TIMEOUT} s; if they never pass:"
  FIRST_DEPLOY=0
  rollback
  exit 0
fi

deadline=$((SECONDS + TIMEOUT))
while true; do
  result=0
  check || result=$?
  case $result in
    0) break ;;
    2) echo "deploy.sh: Swarm stopped the update" >&2; rollback; exit 1 ;;
  esac
  if ((SECONDS >= deadline)); then
    echo "deploy.sh: the new tasks did not all come up in ${TIMEOUT} s" >&2
    rollback
    exit 1
  fi
  sleep 5
done
echo "deploy.sh: $STACK_NAME runs $IMAGE"
