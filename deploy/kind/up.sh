#!/usr/bin/env bash
# Creates a kind cluster, builds and loads the taskraft image, optionally installs
# kube-prometheus-stack, installs the chart and waits until every member is ready.
#   deploy/kind/up.sh                      # cluster + taskraft
#   MONITORING=1 deploy/kind/up.sh         # also kube-prometheus-stack (Prometheus, Grafana, alerts)
# Needs docker, kind, kubectl and helm. Environment knobs:
#   CLUSTER (taskraft), NAMESPACE (taskraft), RELEASE (taskraft), IMAGE (taskraft:<version>),
#   REPLICAS (3), VALUES (extra values file), SKIP_BUILD=1 (reuse an existing image)
set -euo pipefail
cd "$(dirname "$0")/../.."
CLUSTER="${CLUSTER:-taskraft}"
NAMESPACE="${NAMESPACE:-taskraft}"
RELEASE="${RELEASE:-taskraft}"
VERSION="$(sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)"
IMAGE="${IMAGE:-taskraft:$VERSION}"
REPLICAS="${REPLICAS:-3}"
MONITORING="${MONITORING:-0}"
MON_NS=monitoring

for tool in docker kind kubectl helm; do
  command -v "$tool" >/dev/null || { echo "up.sh: $tool is required" >&2; exit 1; }
done

if ! kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
  kind create cluster --name "$CLUSTER" --config deploy/kind/cluster.yaml --wait 120s
fi
kubectl config use-context "kind-$CLUSTER" >/dev/null

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  make image IMAGE="$IMAGE"
fi
kind load docker-image "$IMAGE" --name "$CLUSTER"

extra=()
if [ "$MONITORING" = 1 ]; then
  helm repo add prometheus-community https://prometheus-community.github.io/helm-charts >/dev/null
  helm repo update prometheus-community >/dev/null
  # Select ServiceMonitors, PrometheusRules and dashboards from every namespace and release.
  helm upgrade --install kube-prometheus-stack prometheus-community/kube-prometheus-stack \
    --namespace "$MON_NS" --create-namespace --wait --timeout 10m \
    --set prometheus.prometheusSpec.serviceMonitorSelectorNilUsesHelmValues=false \
    --set prometheus.prometheusSpec.ruleSelectorNilUsesHelmValues=false \
    --set grafana.sidecar.dashboards.searchNamespace=ALL
else
  extra+=(--set metrics.serviceMonitor.enabled=false --set metrics.prometheusRule.enabled=false)
fi
[ -n "${VALUES:-}" ] && extra+=(-f "$VALUES")

helm upgrade --install "$RELEASE" deploy/helm/taskraft \
  --namespace "$NAMESPACE" --create-namespace \
  --set image.repository="${IMAGE%:*}" --set image.tag="${IMAGE##*:}" --set image.pullPolicy=Never \
  --set replicaCount="$REPLICAS" \
  "${extra[@]}"

kubectl -n "$NAMESPACE" rollout status "statefulset/$RELEASE" --timeout=10m
kubectl -n "$NAMESPACE" wait pod -l "app.kubernetes.io/instance=$RELEASE,app.kubernetes.io/component=server" \
  --for=condition=Ready --timeout=5m
kubectl -n "$NAMESPACE" get pods -l "app.kubernetes.io/instance=$RELEASE" -L taskraft.io/role -o wide

cat <<MSG

taskraft is up in kind cluster "$CLUSTER", namespace "$NAMESPACE".

  API:        kubectl -n $NAMESPACE port-forward svc/$RELEASE 8080:8080
              curl -s localhost:8080/api/v1/cluster
  Leader:     kubectl -n $NAMESPACE port-forward svc/$RELEASE-leader 8081:8080
  Failover:   kubectl -n $NAMESPACE delete pod -l taskraft.io/role=leader
              kubectl -n $NAMESPACE get pods -L taskraft.io/role -w
  helm test:  helm test $RELEASE -n $NAMESPACE
MSG
if [ "$MONITORING" = 1 ]; then
  cat <<MSG
  Prometheus: kubectl -n $MON_NS port-forward svc/kube-prometheus-stack-prometheus 9090:9090
              (Alerts tab: TaskraftNoLeader, TaskraftQuorumAtRisk, ...)
  Grafana:    kubectl -n $MON_NS port-forward svc/kube-prometheus-stack-grafana 3000:80
              user admin, password: kubectl -n $MON_NS get secret kube-prometheus-stack-grafana \\
                -o jsonpath='{.data.admin-password}' | base64 -d
              dashboard "taskraft"
MSG
fi
echo "  Tear down:  deploy/kind/down.sh"
