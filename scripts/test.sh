#!/usr/bin/env bash
# Install everything the test suite needs on a fresh Debian machine, then run it.
# Used as-is by the README and by .ci/run. Safe to re-run: each step is skipped when done.
set -euo pipefail
cd "$(dirname "$0")/.."

# Label Studio installs into its own venv meanwhile (the longest step on a new machine).
label_studio_path="$(mktemp)"
scripts/install-label-studio.sh >"$label_studio_path" &
label_studio_install=$!
trap 'kill "$label_studio_install" 2>/dev/null || true; rm -f "$label_studio_path"' EXIT

need_apt=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || need_apt+=(postgresql)
command -v chromium >/dev/null || need_apt+=(chromium)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "==> apt-get install ${need_apt[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  else
    echo "==> missing Debian packages: ${need_apt[*]} (run as root or install them)" >&2
  fi
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
echo "==> pip install -e .[test]"
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[test]"

# The real-Label-Studio integration tests run with the rest (tests/connectors).
wait "$label_studio_install" || { echo "==> installing Label Studio failed" >&2; exit 1; }
ANNOTATION_INSIGHTS_LABEL_STUDIO="$(cat "$label_studio_path")"
export ANNOTATION_INSIGHTS_LABEL_STUDIO
trap - EXIT
rm -f "$label_studio_path"

echo "==> pytest"
exec .venv/bin/python -m pytest "$@"
