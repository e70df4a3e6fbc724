#!/usr/bin/env bash
# Install a real Label Studio into its own virtualenv (.venv-ls, gitignored) and print the
# path of its `label-studio` binary. Label Studio pins Django and dozens of packages, so it
# never goes into the project's .venv. Skipped when already installed.
set -euo pipefail
cd "$(dirname "$0")/.."

LS_VERSION="${LABEL_STUDIO_VERSION:-1.23.2}"
if [ ! -x .venv-ls/bin/label-studio ]; then
  echo "==> python3 -m venv .venv-ls && pip install label-studio==${LS_VERSION}" >&2
  start=$(date +%s)
  python3 -m venv .venv-ls
  .venv-ls/bin/python -m pip install -q --disable-pip-version-check "label-studio==${LS_VERSION}" >&2
  echo "==> Label Studio installed in $(( $(date +%s) - start )) s" >&2
fi
echo "$PWD/.venv-ls/bin/label-studio"
