#!/usr/bin/env bash
# Only the real-Label-Studio integration tests (scripts/test.sh runs them with everything
# else): a real Label Studio, offline on SQLite, is annotated through its own API with
# webhooks pointed at our server, and our stats are checked.
set -euo pipefail
cd "$(dirname "$0")/.."

ANNOTATION_INSIGHTS_LABEL_STUDIO="$(scripts/install-label-studio.sh)"
export ANNOTATION_INSIGHTS_LABEL_STUDIO
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[test]"
echo "==> pytest -m label_studio"
exec .venv/bin/python -m pytest -m label_studio tests/connectors "$@"
