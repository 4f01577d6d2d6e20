"""``write_report``: read runs, draw every figure, write ``report.html`` and ``report/*.png``."""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib.figure import Figure

from dataprep.core.storage import Storage
from dataprep.report import plots
from dataprep.report.collect import RunData, collect, open_run, signal_bins
from dataprep.report.page import e, figure, link, num, page, table

REPORT_HTML = "report.html"
PNG_DIR = "report"


def write_report(run_dirs: Sequence[str], output: str | None = None) -> str:
    """Write the report of one run (into it) or the side-by-side comparison of several (into ``output``).

    Returns the path or URI of ``report.html``; the PNG of every figure lands in ``report/`` beside it.
    """
    if not run_dirs:
        raise ValueError("no run directory given")
    if output is None and len(run_dirs) > 1:
        raise ValueError("comparing several runs needs --output (a folder for report.html)")
    runs = [open_run(p) for p in run_dirs]
    if len(runs) == 1:  # named by its pipeline, not its folder: the same run anywhere gives the same report
        runs[0].label = runs[0].run.get("name") or runs[0].label
    elif len({r.label for r in runs}) < len(runs):
        for i, r in enumerate(runs):
            r.label = f"{i + 1}: {r.label}"
    bins = signal_bins(runs)
    for run in runs:
        collect(run, bins)
    out = Storage(output or run_dirs[0])
    out.makedirs(PNG_DIR)
    draw = _Drawer(out)
    body = {
        "funnel": _funnel(runs, draw),
        "rejections": draw(plots.rejections(runs), "rejections", "Rejected documents per stage and reason."),
        "quality": _quality(runs, bins, draw),
        "languages": _languages(runs, draw),
        "dedup": _dedup(runs, draw),
        "contamination": _contamination(runs, draw, out),
        "mixture": _mixture(runs, draw),
        "tokens": _tokens(runs, draw),
        "timings": _timings(runs, draw),
    }
    out.write_bytes(REPORT_HTML, page(runs, {k: v for k, v in body.items() if v}).encode())
    return out.uri(REPORT_HTML)


class _Drawer:
    """Renders a figure once: its PNG to ``report/<name>.png`` and into the page."""

    def __init__(self, out: Storage) -> None:
        self.out = out

    def __call__(self, fig: Figure | None, name: str, caption: str) -> str:
        if fig is None:
            return ""
        png, width = plots.render(fig)
        self.out.write_bytes(f"{PNG_DIR}/{name}.png", png)
        return figure(name, png, width, caption)


def _tables(runs: list[RunData], make) -> str:
    return '<div class="tables">' + "".join(make(r) for r in runs) + "</div>"


def _funnel(runs: list[RunData], draw: _Drawer) -> str:
    fig = draw(plots.funnel(runs), "funnel", "Documents and MB of text kept after each stage, by domain.")

    def counts(run: RunData) -> str:
        rows = []
        for s in run.stages:
            c = s.manifest["counts"]
            kept = sum(v[1] for v in s.kept.values())
            rejected = sum(v[1] for v in s.rejected.values())
            cells = [f"<td>{e(s.name)}</td>", *(num(c[k]) for k in ("in", "added", "out", "rejected"))]
            rows.append(cells + [num(kept / 1e6, 2), num(rejected / 1e6, 2)])
        head = ["stage", "docs in", "added", "docs out", "rejected", "MB out", "MB rejected"]
        return table(head, rows, f"{run.label}: per stage")

    def by(key: str):
        def make(run: RunData) -> str:
            names = sorted({k for s in run.stages for k in s.totals("kept", key)} | set(_first_in(run, key)))
            rows = [
                [f"<td>{e(n)}</td>", num(_first_in(run, key).get(n, 0))]
                + [num(s.totals("kept", key).get(n, [0, 0])[0]) for s in run.stages]
                for n in names
            ]
            return table([key, "input", *(s.name for s in run.stages)], rows, f"{run.label}: documents by {key}")

        return make

    return fig + _tables(runs, counts) + _tables(runs, by("domain")) + _tables(runs, by("source"))


def _first_in(run: RunData, key: str) -> dict[str, int]:
    """Documents the first stage read (kept + rejected) by domain or source."""
    if not run.stages:
        return {}
    first = run.stages[0]
    out: dict[str, int] = {}
    for which in ("kept", "rejected"):
        for name, (docs, _) in first.totals(which, key).items():
            out[name] = out.get(name, 0) + docs
    return out


def _quality(runs: list[RunData], bins: dict, draw: _Drawer) -> str:
    rules = draw(
        plots.quality_rules(runs),
        "quality-rules",
        "Share of documents failing each rule, and the share it removed (a removed document counts for its "
        "first failing rule, its reason).",
    )
    if not rules:
        return '<p class="note">No quality stage in these runs.</p>'

    def rule_table(run: RunData) -> str:
        rows = [
            [f"<td>{e(r['name'])}</td>", f"<td><code>{e(r['signal'])}</code></td>", f"<td>{e(plots.bound(r))}</td>"]
            + [num(100 * r["fail_share"], 2), num(100 * r["removed_share"], 2)]
            for r in run.rules
        ]
        return table(["rule", "signal", "threshold", "% fail", "% removed"], rows, f"{run.label}: rules")

    rules_of: dict[str, list[str]] = {}
    for run in runs:
        for r in run.rules:
            text = f"{r['name']} {plots.bound(r)}"
            if text not in rules_of.setdefault(r["signal"], []):
                rules_of[r["signal"]].append(text)
    order = [n for n in rules_of if n in bins] + sorted(n for n in bins if n not in rules_of)
    signals = "".join(
        draw(plots.signal(runs, n, bins[n]), f"signal-{n}", f"{n}: " + ("; ".join(rules_of.get(n, [])) or "no rule"))
        for n in order
    )
    note = (
        '<p class="note">Every document entering the quality stage: <b style="color:#4c78a8">kept</b> and '
        '<b style="color:#e45756">rejected</b> (by any rule) stacked. Signals with a rule come first, in rule '
        "order; the dashed line is the threshold, labelled with the share that rule removed.</p>"
    )
    return rules + _tables(runs, rule_table) + note + f'<div class="signals">{signals}</div>'


def _languages(runs: list[RunData], draw: _Drawer) -> str:
    fig = draw(plots.languages(runs), "languages", "Documents per identified language (fastText lid.176).")
    if not fig:
        return ""

    def make(run: RunData) -> str:
        rows = [[f"<td>{e(k)}</td>", num(v[0]), num(v[1])] for k, v in run.langs.items()]
        return table(["language", "kept", "rejected"], rows, f"{run.label}: languages")

    return fig + _tables(runs, make)


def _dedup(runs: list[RunData], draw: _Drawer) -> str:
    fig = draw(
        plots.dedup(runs), "dedup", "Duplicate cluster sizes, and the share of documents removed by domain and source."
    )
    if not fig:
        return ""
    keys = ("threshold", "bands", "rows", "candidate_probability_at_threshold", "candidate_pairs", "verified_pairs",
            "exact_groups", "clusters")  # fmt: skip

    def make(run: RunData) -> str:
        stages = plots.dedup_stages(run)
        stats = stages[0].stats if stages else {}
        rows = [[f"<td>{e(k)}</td>", f'<td class="n">{e(stats[k])}</td>'] for k in keys if k in stats]
        return table(["figure", "value"], rows, f"{run.label}: dedup")

    return fig + _tables(runs, make)


def _contamination(runs: list[RunData], draw: _Drawer, out: Storage) -> str:
    fig = draw(plots.contamination(runs), "contamination", "Share of each benchmark's items found in the corpus.")
    if not fig:
        return ""

    def make(run: RunData) -> str:
        report = run.contamination
        if not report:
            return f"<div><h3>{e(run.label)}</h3><p class='note'>No decontaminate stage.</p></div>"
        anchor = f"contam-{runs.index(run)}"
        rows = []
        for s in sorted(report["summary"], key=lambda s: (s["benchmark"], s["split"])):
            key = f"{s['benchmark']}/{s['split']}"
            items = f'<a href="#{anchor}-{e(key)}">items</a>' if s["contaminated_items"] else ""
            rows.append(
                [f"<td>{e(key)}</td>", num(s["items"]), num(s["contaminated_items"]), num(s["contaminated_pct"], 2)]
                + [num(s["documents"]), f"<td>{items}</td>"]
            )
        files = " ".join(
            f'<a href="{e(link(out, run, f"{run.contamination_dir}/contamination.{x}"))}">contamination.{x}</a>'
            for x in ("md", "json")
        )
        head = ["benchmark", "items", "contaminated", "%", "documents", ""]
        parts = [table(head, rows, f"{run.label}: per benchmark"), f"<p class='note'>Full report: {files}</p>"]
        by_bench: dict[str, list] = {}
        for item in report.get("items", []):
            by_bench.setdefault(f"{item['benchmark']}/{item['split']}", []).append(item)
        for key, items in sorted(by_bench.items()):
            rows = [
                [f"<td><code>{e(i['item_id'])}</code></td>", num(i["ngrams"]), num(100 * i["max_overlap"], 1)]
                + [f"<td>{e(', '.join(i['documents']))}</td>"]
                for i in items
            ]
            parts.append(
                f'<div id="{anchor}-{e(key)}">'
                + table(["item", "n-grams", "largest % in one doc", "documents"], rows, f"{run.label}: {key} items")
                + "</div>"
            )
        return "<div>" + "".join(parts) + "</div>"

    return fig + _tables(runs, make)


def _mixture(runs: list[RunData], draw: _Drawer) -> str:
    fig = draw(plots.mixture(runs), "mixture", "Mixture: requested, target and achieved shares; epochs per domain.")
    if not fig:
        return ""

    def make(run: RunData) -> str:
        mix = plots.mix_stats(run)
        if not mix:
            return f"<div><h3>{e(run.label)}</h3><p class='note'>No mix stage.</p></div>"
        rows = [
            [f"<td>{e(n)}</td>", num(d["available"]), num(d["target"]), num(d["achieved"])]
            + [num(100 * d["weight"], 1), num(100 * d["target_weight"], 1), num(100 * d["achieved_weight"], 1)]
            + [num(d["achieved_epochs"], 2)]
            for n, d in sorted(mix["domains"].items())
        ]
        head = [mix["by"], "available", "target", "achieved", "% requested", "% target", "% achieved", "epochs"]
        return table(head, rows, f"{run.label}: {mix['units']}")

    return fig + _tables(runs, make)


def _tokens(runs: list[RunData], draw: _Drawer) -> str:
    fig = draw(plots.tokens(runs), "tokens", "Tokens written per domain; document lengths of the last stage.")

    def make(run: RunData) -> str:
        total = sum(run.tokens_by_domain.values()) or 1
        rows = [[f"<td>{e(k)}</td>", num(v), num(100 * v / total, 1)] for k, v in run.tokens_by_domain.items()]
        return table(["domain", "tokens", "%"], rows, f"{run.label}: tokens") if rows else ""

    return fig + _tables(runs, make)


def _timings(runs: list[RunData], draw: _Drawer) -> str:
    fig = draw(plots.timings(runs), "timings", "Wall seconds per stage (w: workers).")

    def make(run: RunData) -> str:
        rows = []
        for s in run.stages:
            t = s.manifest["timing"]
            cpu = sum(v for k, v in s.stats.items() if k.endswith("cpu_seconds") and isinstance(v, int | float))
            rows.append(
                [f"<td>{e(s.name)}</td>", f"<td>{e(t['start'])}</td>", num(t["wall_seconds"], 1), num(t["workers"])]
                + [num(t["wall_seconds"] * t["workers"], 1), num(cpu, 2) if cpu else "<td></td>"]
                + [num(t.get("retries", 0))]
            )
        head = ["stage", "start", "wall s", "workers", "worker-seconds", "CPU s recorded", "retries"]
        span = f"{run.label}: {run.run.get('start')} to {run.run.get('end')}"
        return table(head, rows, span)

    note = (
        '<p class="note">The engine records wall time and workers per stage; worker-seconds (wall × workers) bound '
        "the CPU a stage used. CPU seconds appear where a stage measures its own.</p>"
    )
    return fig + _tables(runs, make) + note
