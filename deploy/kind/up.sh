#!/usr/bin/env bash
# Creates a kind cluster, builds and loads the taskraft image, optionally installs
# kube-prometheus-stack, installs the chart and waits until every member is ready. The client Service
# is a NodePort (30080) that deploy/kind/cluster.yaml publishes on the host: http://localhost:8080. The
# API needs a token: the closing message says how to read the admin token from the chart's Secret.
#   deploy/kind/up.sh                      # cluster + taskraft
#   MONITORING=1 deploy/kind/up.sh         # also kube-prometheus-stack (Prometheus, Grafana, alerts)
#   deploy/kind/up.sh --dry-run            # print every command instead of running it (needs no tool)
# Needs docker, kind, kubectl and helm. Environment knobs:
#   CLUSTER (taskraft), NAMESPACE (taskraft), RELEASE (taskraft), IMAGE (taskraft:<version>),
#   REPLICAS (3), VALUES (extra values file), SKIP_BUILD=1 (reuse an existing image)
set -euo pipefail
cd "$(dirname "$0")/../.."

usage() {
  sed -n '2,11s/^# \{0,1\}//p' "$0"
}

DRY_RUN=0
for arg in "$@"; do
  case "$arg" in
    -n|--dry-run) DRY_RUN=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "up.sh: unknown argument: $arg (try --help)" >&2; exit 2 ;;
  esac
done

CLUSTER="${CLUSTER:-taskraft}"
NAMESPACE="${NAMESPACE:-taskraft}"
RELEASE="${RELEASE:-taskraft}"
VERSION="$(sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)"
IMAGE="${IMAGE:-taskraft:$VERSION}"
REPLICAS="${REPLICAS:-3}"
# The chart's object names: the release name, with "-taskraft" unless it already contains it.
case "$RELEASE" in
  *taskraft*) FULLNAME="$RELEASE" ;;
  *) FULLNAME="$RELEASE-taskraft" ;;
esac
FULLNAME="${FULLNAME:0:40}"
FULLNAME="${FULLNAME%-}"
# The chart generates the first admin token into this Secret (key admin-token) and keeps it on upgrade.
SECRET="$FULLNAME-auth"
MONITORING="${MONITORING:-0}"
MON_NS=monitoring
# deploy/kind/cluster.yaml maps the control plane's port 30080 to the host's 8080.
NODE_PORT=30080
HOST_URL=http://localhost:8080

# shell_quote WORD: the word as the shell reads it back (single-quoted unless plainly safe).
shell_quote() {
  case "$1" in
    '' | *[!A-Za-z0-9_./:=,@%+-]*) printf "'%s'" "${1//\'/\'\\\'\'}" ;;
    *) printf '%s' "$1" ;;
  esac
}
# run CMD...: runs it, or with --dry-run prints it (shell-quoted, after "+").
run() {
  if [ "$DRY_RUN" = 1 ]; then
    printf '+'
    for word in "$@"; do
      printf ' %s' "$(shell_quote "$word")"
    done
    printf '\n'
  else
    "$@"
  fi
}
# quiet CMD...: the same, its standard output discarded when it runs.
quiet() {
  if [ "$DRY_RUN" = 1 ]; then run "$@"; else "$@" >/dev/null; fi
}
# note TEXT: a comment in the dry-run listing (a condition the real run checks first).
note() {
  if [ "$DRY_RUN" = 1 ]; then echo "# $*"; fi
}

if [ "$DRY_RUN" = 0 ]; then
  for tool in docker kind kubectl helm; do
    command -v "$tool" >/dev/null || { echo "up.sh: $tool is required" >&2; exit 1; }
  done
fi

note "unless a kind cluster named $CLUSTER exists:"
if [ "$DRY_RUN" = 1 ] || ! kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
  run kind create cluster --name "$CLUSTER" --config deploy/kind/cluster.yaml --wait 120s
fi
quiet kubectl config use-context "kind-$CLUSTER"
# Is the node port published on the host (a cluster made before cluster.yaml had the mapping is not)?
published=1
if [ "$DRY_RUN" = 1 ]; then
  run docker port "$CLUSTER-control-plane" "$NODE_PORT/tcp"
elif ! docker port "$CLUSTER-control-plane" "$NODE_PORT/tcp" >/dev/null 2>&1; then
  published=0
  echo "up.sh: kind cluster $CLUSTER was created without deploy/kind/cluster.yaml's port mapping;" \
    "$HOST_URL will not answer (deploy/kind/down.sh, then up.sh again, adds it)" >&2
fi

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  run make image IMAGE="$IMAGE"
fi
run kind load docker-image "$IMAGE" --name "$CLUSTER"

extra=()
if [ "$MONITORING" = 1 ]; then
  quiet helm repo add prometheus-community https://prometheus-community.github.io/helm-charts
  quiet helm repo update prometheus-community
  # Select ServiceMonitors, PrometheusRules and dashboards from every namespace and release.
  run helm upgrade --install kube-prometheus-stack prometheus-community/kube-prometheus-stack \
    --namespace "$MON_NS" --create-namespace --wait --timeout 10m \
    --set prometheus.prometheusSpec.serviceMonitorSelectorNilUsesHelmValues=false \
    --set prometheus.prometheusSpec.ruleSelectorNilUsesHelmValues=false \
    --set grafana.sidecar.dashboards.searchNamespace=ALL
else
  extra+=(--set metrics.serviceMonitor.enabled=false --set metrics.prometheusRule.enabled=false)
fi
if [ -n "${VALUES:-}" ]; then
  extra+=(-f "$VALUES")
fi

run helm upgrade --install "$RELEASE" deploy/helm/taskraft \
  --namespace "$NAMESPACE" --create-namespace \
  --set image.repository="${IMAGE%:*}" --set image.tag="${IMAGE##*:}" --set image.pullPolicy=Never \
  --set replicaCount="$REPLICAS" \
  --set service.type=NodePort --set service.nodePort="$NODE_PORT" \
  "${extra[@]}"

run kubectl -n "$NAMESPACE" rollout status "statefulset/$FULLNAME" --timeout=10m
run kubectl -n "$NAMESPACE" wait pod -l "app.kubernetes.io/instance=$RELEASE,app.kubernetes.io/component=server" \
  --for=condition=Ready --timeout=5m
run kubectl -n "$NAMESPACE" get pods -l "app.kubernetes.io/instance=$RELEASE" -L taskraft.io/role -o wide

if [ "$published" = 0 ]; then
  api="(not published on this cluster: use the port-forward below)"
else
  api="$HOST_URL  (node port $NODE_PORT: any ready member, across pod deletions)"
fi
cat <<MSG

taskraft is up in kind cluster "$CLUSTER", namespace "$NAMESPACE".

  Token:      every /api/v1 call needs one; the first admin token is in Secret $SECRET:
              export TOKEN="\$(kubectl -n $NAMESPACE get secret $SECRET -o jsonpath='{.data.admin-token}' | base64 -d)"
  API:        $api
              curl -s -H "Authorization: Bearer \$TOKEN" $HOST_URL/api/v1/cluster
              curl -s -X POST -H "Authorization: Bearer \$TOKEN" -H 'Content-Type: application/json' \\
                -d '{"title":"hello"}' $HOST_URL/api/v1/tasks
              TASKRAFT_TOKEN="\$TOKEN" taskraft cluster status --url $HOST_URL
  Or a port-forward: it picks one pod when it starts and stops working when that pod goes (even
  through svc/$FULLNAME). Forward to a follower, so that deleting the leader leaves it running, and
  start it again after deleting its own pod:
              kubectl -n $NAMESPACE port-forward "\$(kubectl -n $NAMESPACE get pod -o name \\
                -l 'app.kubernetes.io/instance=$RELEASE,taskraft.io/role!=leader' | head -1)" 8081:8080
  Leader:     kubectl -n $NAMESPACE port-forward svc/$FULLNAME-leader 8082:8080
  Failover:   kubectl -n $NAMESPACE delete pod -l taskraft.io/role=leader
              kubectl -n $NAMESPACE get pods -L taskraft.io/role -w
  helm test:  helm test $RELEASE -n $NAMESPACE
MSG
if [ "$MONITORING" = 1 ]; then
  cat <<MSG
  Prometheus: kubectl -n $MON_NS port-forward svc/kube-prometheus-stack-prometheus 9090:9090
              (Alerts tab: TaskraftNoLeader, TaskraftQuorumAtRisk, TaskraftMemberDown, ...)
  Grafana:    kubectl -n $MON_NS port-forward svc/kube-prometheus-stack-grafana 3000:80
              user admin, password: kubectl -n $MON_NS get secret kube-prometheus-stack-grafana \\
                -o jsonpath='{.data.admin-password}' | base64 -d
              dashboard "taskraft"
MSG
fi
echo "  Tear down:  deploy/kind/down.sh"
