#!/usr/bin/env bash
# Install a real Label Studio into its own virtualenv (.venv-ls, gitignored) and print the
# path of its `label-studio` binary. Label Studio pins Django and dozens of packages, so it
# never goes into the project's .venv. Also initializes, once, an empty Label Studio data
# directory (.venv-ls/data-template: its SQLite database migrated, no user, no project)
# that the integration tests copy, so that each test run starts Label Studio in seconds
# instead of migrating a new database for a minute. Skipped when already done.
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
if [ ! -f .venv-ls/data-template/label_studio.sqlite3 ]; then
  echo "==> label-studio init (the tests' data template)" >&2
  start=$(date +%s)
  rm -rf .venv-ls/data-template.partial
  mkdir .venv-ls/data-template.partial
  (cd .venv-ls/data-template.partial &&
   LABEL_STUDIO_BASE_DATA_DIR="$PWD" ../bin/label-studio init --no-browser -q >init.log 2>&1) || {
    cat .venv-ls/data-template.partial/init.log >&2; exit 1; }
  rm .venv-ls/data-template.partial/init.log
  rm -rf .venv-ls/data-template
  mv .venv-ls/data-template.partial .venv-ls/data-template
  echo "==> Label Studio data template initialized in $(( $(date +%s) - start )) s" >&2
fi
echo "$PWD/.venv-ls/bin/label-studio"
