#!/usr/bin/env bash
# Smoke test of a rolled-out deployment: the pods run the expected image (by digest), the API answers
# /health and /ready through the Service, and (with an API key) /v1/model serves the expected model.
#   smoke.sh NAMESPACE IMAGE_REF MODEL_VERSION      (env: SMOKE_API_KEY, optional)
# Talks to the cluster through `kubectl port-forward` on 127.0.0.1; every wait is bounded.
set -euo pipefail

namespace=${1:?namespace}
image=${2:?image reference (name@sha256:...)}
model_version=${3:-}
port=18080

kubectl -n "$namespace" rollout status deployment/mlops-api --timeout=300s
running=$(kubectl -n "$namespace" get deployment/mlops-api -o jsonpath='{.spec.template.spec.containers[0].image}')
if [[ $running != "$image" ]]; then
    echo "::error::deployment/mlops-api in $namespace runs $running, expected $image"
    exit 1
fi

kubectl -n "$namespace" port-forward --address 127.0.0.1 service/mlops-api "$port:80" >/dev/null &
forward=$!
trap 'kill "$forward" 2>/dev/null || true' EXIT
for _ in $(seq 1 30); do
    if curl --silent --fail --max-time 2 "http://127.0.0.1:$port/health" >/dev/null; then
        break
    fi
    sleep 1
done
curl --silent --show-error --fail --max-time 5 "http://127.0.0.1:$port/health"
echo
curl --silent --show-error --fail --max-time 5 "http://127.0.0.1:$port/ready"
echo
if [[ -n ${SMOKE_API_KEY:-} && -n $model_version ]]; then
    served=$(curl --silent --show-error --fail --max-time 5 -H "X-API-Key: $SMOKE_API_KEY" \
        "http://127.0.0.1:$port/v1/model" | python3 -c 'import json, sys; print(json.load(sys.stdin)["version"])')
    if [[ $served != "$model_version" ]]; then
        echo "::error::$namespace serves model $served, expected $model_version"
        exit 1
    fi
    echo "smoke: $namespace serves model $served"
fi
echo "smoke: $namespace OK ($image)"
