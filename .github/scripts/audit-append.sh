#!/usr/bin/env bash
# Append one entry to the audit trail: audit.jsonl on the `audit` branch of `origin`.
#   audit-append.sh KIND [options of `mlops-template audit record`]    KIND: trained|gate|deploy|rollback
# One commit per entry on top of the branch's tip (the branch starts as an orphan holding only the
# log), pushed as a fast forward and never forced: `mlops-template github bootstrap` forbids force
# pushes and deletion on it. A push that loses a race with another workflow is redone on the new tip.
# The commit is built from git objects in a temporary directory: the job's checkout is left as it was.
# AUDIT_TOKEN (a token with contents: write) authenticates fetch and push to github.com; it goes into a
# masked header only. The new entry's sha256 goes to the run summary, where `audit verify --expect`
# can later prove the log still holds it.
set -euo pipefail

kind=${1:?usage: audit-append.sh trained|gate|deploy|rollback [audit record options]}
shift
branch=audit
file=audit.jsonl
work=$(mktemp -d "${RUNNER_TEMP:-/tmp}/audit.XXXXXX")
trap 'rm -rf "$work"' EXIT

auth=()
if [[ -n ${AUDIT_TOKEN:-} ]]; then
    basic=$(printf 'x-access-token:%s' "$AUDIT_TOKEN" | base64 -w0)
    echo "::add-mask::$basic"
    auth=(-c "http.https://github.com/.extraheader=AUTHORIZATION: basic $basic")
fi
bot=(-c "user.name=github-actions[bot]" -c "user.email=41898282+github-actions[bot]@users.noreply.github.com")

# The checkout's own module with any python3 (>= 3.11): appending needs only the standard library.
record() {
    PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" python3 -m mlops_template.release.audit record "$@"
}

for attempt in 1 2 3 4 5; do
    parent=()
    rm -f "$work/$file"
    found=0
    git "${auth[@]}" ls-remote --exit-code --heads origin "$branch" >/dev/null || found=$?
    if [[ $found -eq 0 ]]; then
        git "${auth[@]}" fetch --quiet --no-tags origin "+refs/heads/$branch:refs/remotes/origin/$branch"
        tip=$(git rev-parse "refs/remotes/origin/$branch")
        if git cat-file -e "$tip:$file" 2>/dev/null; then
            git show "$tip:$file" >"$work/$file"
        elif [[ -n $(git log --format=%H -1 "$tip" -- "$file") ]]; then
            echo "::error::audit: $file was deleted on $branch (see mlops-template audit verify --ref); not starting over"
            exit 1
        fi # else: a branch created empty, so that it could be protected before its first entry
        parent=(-p "$tip")
    elif [[ $found -ne 2 ]]; then
        echo "::error::audit: cannot list origin's branches (git ls-remote exit $found)"
        exit 1
    fi
    said=$(record "$kind" --log "$work/$file" "$@")
    blob=$(git hash-object -w "$work/$file")
    tree=$(printf '100644 blob %s\t%s\n' "$blob" "$file" | git mktree)
    commit=$(git "${bot[@]}" commit-tree "$tree" "${parent[@]}" -m "$said")
    if git "${auth[@]}" push --quiet origin "$commit:refs/heads/$branch"; then
        echo "$said (commit $commit on $branch)"
        if [[ -n ${GITHUB_STEP_SUMMARY:-} ]]; then
            {
                echo "**Audit trail:** ${said#audit: }, on branch \`$branch\`."
                echo "Check it later: \`mlops-template audit verify --ref origin/$branch --expect ${said##* }\`"
                echo
            } >>"$GITHUB_STEP_SUMMARY"
        fi
        exit 0
    fi
    echo "audit: the push lost a race (attempt $attempt); appending again on the new tip"
    sleep "$attempt"
done
echo "::error::audit: could not append the $kind entry after 5 attempts"
exit 1
