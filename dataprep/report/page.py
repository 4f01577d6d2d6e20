"""The report page: one self-contained HTML file (inline CSS, figures as base64 PNG, no script).

Nothing is fetched when the page is viewed, so it opens offline and from an archive. Every
figure is an ``<img>`` holding the same PNG as ``report/<name>.png``, inside a
``<figure class="plot">``. Everything that depends on the clock sits between ``TIMING_START``
and ``TIMING_END``, so two runs of the same input and config give the same page outside it.
"""

from __future__ import annotations

import base64
import html
import os
from collections.abc import Iterable

from dataprep.core.storage import Storage
from dataprep.report.collect import RunData

TIMING_START, TIMING_END = "<!-- timing -->", "<!-- /timing -->"

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d1d1f;background:#fafafa}
header{background:#1f3b57;color:#fff;padding:18px 32px}header h1{margin:0 0 4px;font-size:22px}
header code{background:#ffffff26}
nav{position:sticky;top:0;background:#fff;border-bottom:1px solid #ddd;padding:8px 32px;z-index:1}
nav a{margin-right:14px;color:#1f3b57;text-decoration:none;font-weight:600}
main{padding:8px 32px 48px;max-width:1600px}
section{background:#fff;border:1px solid #e3e3e3;border-radius:6px;padding:4px 20px 16px;margin:18px 0}
h2{font-size:18px;border-bottom:2px solid #1f3b57;padding-bottom:4px}h3{font-size:15px;margin:14px 0 6px}
figure.plot{margin:10px 0}figure.plot img{max-width:100%;height:auto;display:block}
figcaption{color:#555;font-size:12.5px;margin-top:4px}
.signals{display:grid;grid-template-columns:repeat(auto-fill,minmax(480px,1fr));gap:4px 16px}
.tables{display:flex;flex-wrap:wrap;gap:10px 28px;align-items:flex-start}.tables>div{overflow-x:auto}
table{border-collapse:collapse;font-size:12.5px;margin:4px 0}
th,td{border-bottom:1px solid #e6e6e6;padding:3px 9px;text-align:left;white-space:nowrap}
th{background:#f2f4f7}td.n{text-align:right;font-variant-numeric:tabular-nums}
.note{color:#555;font-size:13px}code{background:#f2f4f7;padding:0 3px;border-radius:3px}
"""

SECTIONS = (
    ("funnel", "Funnel"),
    ("rejections", "Rejections"),
    ("quality", "Quality signals"),
    ("languages", "Languages"),
    ("dedup", "Duplicates"),
    ("contamination", "Contamination"),
    ("mixture", "Mixture"),
    ("tokens", "Tokens and lengths"),
    ("timings", "Timings"),
)


def e(value: object) -> str:
    return html.escape(str(value), quote=True)


def num(value: float, digits: int = 0) -> str:
    return f'<td class="n">{value:,.{digits}f}</td>'


def table(header: Iterable[str], rows: Iterable[Iterable[str]], caption: str = "") -> str:
    """A table; ``rows`` hold cells already rendered (``<td>...``)."""
    head = "".join(f"<th>{e(h)}</th>" for h in header)
    body = "".join(f"<tr>{''.join(r)}</tr>" for r in rows)
    title = f"<h3>{e(caption)}</h3>" if caption else ""
    return f"<div>{title}<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"


def figure(name: str, png: bytes, width: int, caption: str) -> str:
    data = base64.b64encode(png).decode()
    return (
        f'<figure class="plot" id="plot-{e(name)}"><img alt="{e(caption)}" width="{width}" '
        f'src="data:image/png;base64,{data}"><figcaption>{e(caption)}</figcaption></figure>'
    )


def link(out: Storage, run: RunData, rel: str) -> str:
    """A link from the report's folder to a file of ``run``: relative when both are local."""
    if out.is_local and run.storage.is_local:
        return os.path.relpath(os.path.join(run.storage.base, rel), out.base)
    return run.storage.uri(rel) if not run.storage.is_local else run.storage.full(rel)


def page(runs: list[RunData], body: dict[str, str]) -> str:
    """The whole document: header, navigation, then every section in ``SECTIONS`` order."""
    title = "dataprep report: " + " vs ".join(r.label for r in runs)
    nav = "".join(f'<a href="#{key}">{e(name)}</a>' for key, name in SECTIONS if key in body)
    sections = "".join(
        (TIMING_START if key == "timings" else "")
        + f'<section id="{key}"><h2>{e(name)}</h2>{body[key]}</section>'
        + (TIMING_END if key == "timings" else "")
        for key, name in SECTIONS
        if key in body
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{e(title)}</title><style>{CSS}</style></head><body>"
        f"<header><h1>{e(title)}</h1>{summary(runs)}</header><nav>{nav}</nav><main>{sections}</main>"
        "</body></html>\n"
    )


def summary(runs: list[RunData]) -> str:
    parts = []
    for r in runs:
        v = r.run.get("versions", {})
        pipe = r.run.get("pipeline", {})
        parts.append(
            f"<div><b>{e(r.label)}</b>: pipeline <code>{e(r.run.get('name'))}</code> "
            f"(sha256 {e(str(pipe.get('sha256', ''))[:12])}), seed {e(r.run.get('seed'))}, "
            f"status {e(r.run.get('status'))}, {len(r.stages)} stages, "
            f"dataprep {e(v.get('dataprep'))} ({e(str(v.get('git_commit') or '')[:10])})</div>"
        )
    return "".join(parts)
