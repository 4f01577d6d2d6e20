#!/usr/bin/env bash
# Install the peer (datatrove 0.10.1 with spaCy for its word splitter) into its own venv,
# so its pins never touch ours. Prints the venv's python; benchmarks take it from
# $DATATROVE_PYTHON or this default location.
set -euo pipefail
venv="${DATATROVE_VENV:-$(cd "$(dirname "$0")/.." && pwd)/.bench/datatrove-venv}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  # lxml_html_clean: trafilatura (datatrove's extractor) needs it with lxml >= 5.2
  "$venv/bin/pip" install -q "datatrove[processing,io]==0.10.1" spacy lxml_html_clean
fi
echo "$venv/bin/python"
