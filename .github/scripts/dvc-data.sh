#!/usr/bin/env bash
# The workflows' data step: `pull` or `push` DVC data, from/to the team's remote when the
# DVC_REMOTE_URL secret is set (its credentials come from the job's env, e.g. AWS_* for S3), else
# from/to the seed remote committed in .dvc/storage. Fork PRs get no secrets, so they use the seed.
#   dvc-data.sh pull     data/ (and, from a team remote, the cached stage outputs)
#   dvc-data.sh push     everything `dvc repro` produced, to the team remote only
#   dvc-data.sh publish  the new data/: to the team remote (and data.dvc unpinned from the seed),
#                        else into the seed remote, i.e. into git (.dvc/storage)
# Prints which remote it used; `remote=team|seed` goes to $GITHUB_OUTPUT when there is one.
set -euo pipefail

action=${1:?usage: dvc-data.sh pull|push|publish}
if [[ -n "${DVC_REMOTE_URL:-}" ]]; then
    remote=team
    # The default remote of this checkout only (.dvc/config.local): data.dvc keeps naming the seed
    # for the shipped history until a retrain publishes new weeks to the team remote.
    dvc remote add --local --force --default team "$DVC_REMOTE_URL"
else
    remote=seed
fi
if [[ -n "${GITHUB_OUTPUT:-}" ]]; then
    echo "remote=$remote" >>"$GITHUB_OUTPUT"
fi

case "$action:$remote" in
    pull:team)
        echo "dvc: pulling from the team remote (data/ from the remote data.dvc names)"
        # Stage outputs a previous run pushed let `dvc repro` skip their stages; missing ones are rebuilt.
        dvc pull --allow-missing
        if [[ ! -d data ]]; then
            echo "dvc: data/ is on no remote: push it to the team remote first" >&2
            exit 1
        fi
        ;;
    pull:seed)
        echo "dvc: no team remote (DVC_REMOTE_URL unset): pulling data/ from the seed remote"
        dvc pull --remote seed data.dvc
        ;;
    push:team)
        echo "dvc: pushing data and stage outputs to the team remote"
        dvc push
        ;;
    push:seed)
        echo "dvc: no team remote: nothing pushed (the pipeline is reproducible from git and the seed)"
        ;;
    publish:team)
        # data.dvc names the seed remote for the shipped history; new weeks live on the team remote.
        python - <<'PY'
from pathlib import Path
import yaml
path = Path("data.dvc")
spec = yaml.safe_load(path.read_text())
for out in spec["outs"]:
    out.pop("remote", None)
path.write_text(yaml.safe_dump(spec, sort_keys=False))
PY
        dvc push data.dvc
        echo "dvc: data/ pushed to the team remote; data.dvc no longer pinned to the seed"
        ;;
    publish:seed)
        dvc push --remote seed data.dvc
        echo "dvc: no team remote: data/ stored in the seed remote, .dvc/storage, which is committed to git"
        ;;
    *)
        echo "dvc-data.sh: unknown action '$action' (pull, push or publish)" >&2
        exit 2
        ;;
esac
