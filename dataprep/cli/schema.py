"""``dataprep schema > pipeline.schema.json``: the JSON Schema of the pipeline format.

Editors that read JSON Schemas (VS Code's YAML extension, JetBrains) then complete stage names
and settings and flag a misspelt key while you type; CI can check pipelines with it too.
"""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("schema", help="print the JSON Schema of pipeline files", description=__doc__)
    p.set_defaults(func=_schema)


def _schema(args: argparse.Namespace) -> int:
    from dataprep.config import pipeline_schema

    print(json.dumps(pipeline_schema(), indent=1, sort_keys=True))
    return 0
