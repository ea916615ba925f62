#!/usr/bin/env bash
# System packages the slow tier needs beyond Python (`make system-deps`; `make test` runs it): a Docker
# engine for the image test (Debian's docker.io: dockerd, containerd, runc and the client), debootstrap,
# which builds the image's base from Debian's mirror, and the tools listed below. Installs only what is
# missing, and only as root: elsewhere it says what is missing and leaves the decision to the tests
# (skipped locally, failed when CI=true).
set -euo pipefail

# command -> Debian package that provides it
# promtool (Debian's prometheus package) checks deploy/prometheus/ and the dashboard's PromQL.
# wrk drives `make bench-serve`. shellcheck: actionlint checks the workflows' run: scripts with it.
# chromium: the page's browser tests (Playwright drives /usr/bin/chromium; it downloads no browser).
declare -A wanted=([dockerd]=docker.io [debootstrap]=debootstrap [promtool]=prometheus [wrk]=wrk [shellcheck]=shellcheck [chromium]=chromium)

# A Chromium or Chrome named by CHROMIUM_PATH (CI's Ubuntu runner has Chrome) stands in for Debian's.
if [[ -n ${CHROMIUM_PATH:-} && -x ${CHROMIUM_PATH} ]]; then
    unset 'wanted[chromium]'
fi

missing=()
for command in "${!wanted[@]}"; do
    if ! command -v "$command" >/dev/null 2>&1 && [[ ! -x /usr/sbin/$command ]]; then
        missing+=("${wanted[$command]}")
    fi
done
if ((${#missing[@]} == 0)); then
    exit 0
fi
if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
    echo "system-deps: missing ${missing[*]}; install them as root with apt-get (the image test needs them)" >&2
    exit 0
fi

# Packages must not start the system-wide engine on its default socket: the tests start their own.
# policy-rc.d answering 101 tells invoke-rc.d "do not start services"; put one in only if none exists.
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 0755 /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
echo "system-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
