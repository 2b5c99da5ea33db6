#!/usr/bin/env bash
# Installs the external tools the test suites need, and nothing else. Idempotent: safe to run
# again (and run by .ci/run before the tests).
#
#   scripts/setup-test-deps.sh          # everything
#
# Each dependency has its own function below; add new ones as a function plus one line in
# main().
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

log() { printf 'setup-test-deps: %s\n' "$*" >&2; }

need() {
    command -v "$1" >/dev/null 2>&1 || { log "error: '$1' is required but not on PATH${2:+ ($2)}"; exit 1; }
}

# tests/interop: openid-client (npm), exactly as pinned by tests/interop/package-lock.json.
# Used by tests/e2e/interop.rs.
setup_interop_node() {
    need node "Node.js 20 or later"
    need npm
    local major
    major="$(node -p 'process.versions.node.split(".")[0]')"
    if [ "$major" -lt 20 ]; then
        log "error: Node.js 20 or later is required (found $(node --version))"
        exit 1
    fi
    log "installing tests/interop npm dependencies (npm ci)"
    npm ci --prefix tests/interop --no-audit --no-fund --silent
}

# tests/browser: Debian's Chromium (used headless by tests/e2e/browser.rs) and
# playwright-core (npm) to drive it, as pinned by tests/browser/package-lock.json.
setup_browser() {
    if ! command -v chromium >/dev/null 2>&1; then
        need apt-get "Debian's package manager, to install chromium"
        local sudo=""
        if [ "$(id -u)" -ne 0 ]; then
            need sudo "root rights to install chromium"
            sudo="sudo"
        fi
        log "installing Debian's chromium (apt-get)"
        $sudo apt-get update -q >/dev/null
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends chromium >/dev/null
    fi
    log "installing tests/browser npm dependencies (npm ci)"
    npm ci --prefix tests/browser --no-audit --no-fund --silent
}

main() {
    setup_interop_node
    setup_browser
    log "done"
}

main "$@"
