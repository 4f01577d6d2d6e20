"""The report's figures: matplotlib, one panel per run side by side on shared axes.

Figures are built with ``matplotlib.figure.Figure`` (no pyplot): no global backend is chosen,
so importing this in a notebook changes nothing, and PNGs are drawn by Agg, which gives the
same bytes for the same figure (no date or version is written into them). The page embeds the
same PNG bytes it writes to ``report/``: one render per figure, half the CPU of drawing an
SVG as well (0.14 s vs 0.34 s for a signal histogram here, constrained layout excluded).
"""

from __future__ import annotations

import io
from collections.abc import Callable

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from dataprep.report.collect import LENGTH_EDGES, Bins, RunData

PANEL_WIDTH = 5.0  # inches per run
ROW_HEIGHT = 3.0
PNG_DPI = 150  # shown at 100 px per inch: sharp on high-density screens
CSS_DPI = 100
STYLE = {
    "font.size": 8.5,
    "axes.titlesize": 9.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "legend.fontsize": 7.5,
    "legend.frameon": False,
}
KEPT, REJECTED, THRESHOLD = "#4c78a8", "#e45756", "#222222"
MAX_BARS = 20  # languages, reasons: the most frequent ones


def render(fig: Figure) -> tuple[bytes, int]:
    """The PNG bytes of ``fig`` and the width in CSS pixels to show it at."""
    png = io.BytesIO()
    with matplotlib.rc_context(STYLE):
        fig.savefig(png, format="png", dpi=PNG_DPI, metadata={"Software": None})
    return png.getvalue(), round(fig.get_figwidth() * CSS_DPI)


def _grid(
    runs: list[RunData], rows: int = 1, height: float = ROW_HEIGHT, sharey: bool = True, fixed: bool = False
) -> np.ndarray:
    """A figure with one column per run (titled by its label) and ``rows`` rows; axes as a 2-D array.

    ``fixed``: fixed margins instead of constrained layout, which costs as much as drawing the figure
    again; for the many small signal histograms whose labels are short.
    """
    width, h = PANEL_WIDTH * len(runs), height * rows
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(width, h), layout=None if fixed else "constrained")
        if fixed:  # margins in inches: room for tick labels and one axis label
            fig.subplots_adjust(left=0.6 / width, right=1 - 0.15 / width, bottom=0.5 / h, top=1 - 0.3 / h,
                                wspace=0.5 * len(runs) / width)  # fmt: skip
        axes = fig.subplots(rows, len(runs), squeeze=False, sharey="row" if sharey else False)
    for col, run in enumerate(runs):
        axes[0, col].set_title(run.label, fontweight="bold", loc="left")
    return axes


def _styled(draw: Callable[..., Figure | None]) -> Callable[..., Figure | None]:
    """Draw inside the report's style, so ticks and labels made while drawing follow it too."""

    def wrapper(*args: object) -> Figure | None:
        with matplotlib.rc_context(STYLE):
            return draw(*args)

    return wrapper


def _empty(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="#777777")
    ax.set_axis_off()


def _barh(ax: Axes, labels: list[str], values: list[float], color: str, xlabel: str) -> None:
    y = np.arange(len(labels))
    ax.barh(y, values, color=color)
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)


def palette(runs: list[RunData]) -> dict[str, tuple[float, ...]]:
    """One colour per domain across every run, so a domain looks the same in every panel."""
    domains = sorted({d for r in runs for s in r.stages for (d, _) in [*s.kept, *s.rejected]})
    cmap = matplotlib.colormaps["tab10" if len(domains) <= 10 else "tab20"]
    return {d: cmap(i % cmap.N) for i, d in enumerate(domains)}


@_styled
def funnel(runs: list[RunData]) -> Figure:
    """Documents and MB kept after each stage, stacked by domain (the input bar: what ingest read)."""
    colors = palette(runs)
    axes = _grid(runs, rows=2)
    for col, run in enumerate(runs):
        steps = [("input", _input_totals(run))] + [(s.name, s.totals("kept", "domain")) for s in run.stages]
        for row, (unit, scale) in enumerate((("documents", 1), ("MB of text", 1e6))):
            ax = axes[row, col]
            bottom = np.zeros(len(steps))
            for domain, color in colors.items():
                values = np.array([t.get(domain, [0, 0])[row] / scale for _, t in steps])
                ax.bar(range(len(steps)), values, bottom=bottom, color=color, label=domain)
                bottom += values
            ax.set_xticks(range(len(steps)), [n for n, _ in steps], rotation=30, ha="right")
            ax.set_ylabel(unit)
    axes[0, -1].legend(loc="upper right", ncols=2)
    return axes[0, 0].figure


def _input_totals(run: RunData) -> dict[str, list[int]]:
    """What the first stage read: its kept plus its rejected rows, by domain."""
    if not run.stages:
        return {}
    first = run.stages[0]
    out = {d: list(v) for d, v in first.totals("kept", "domain").items()}
    for d, (docs, size) in first.totals("rejected", "domain").items():
        out.setdefault(d, [0, 0])
        out[d][0] += docs
        out[d][1] += size
    return out


@_styled
def rejections(runs: list[RunData]) -> Figure:
    """Rejected documents per stage and reason (the most frequent reasons)."""
    axes = _grid(runs, height=max(ROW_HEIGHT, 0.22 * _max_reasons(runs) + 1), sharey=False)
    for col, run in enumerate(runs):
        items = [
            (f"{s.name}: {r}", n) for s in run.stages for r, n in sorted(s.manifest["counts"]["by_reason"].items())
        ]
        items = sorted(items, key=lambda kv: (-kv[1], kv[0]))[:MAX_BARS]
        if items:
            _barh(axes[0, col], [k for k, _ in items], [v for _, v in items], REJECTED, "documents rejected")
        else:
            _empty(axes[0, col], "nothing rejected")
    return axes[0, 0].figure


def _max_reasons(runs: list[RunData]) -> int:
    return min(MAX_BARS, max((sum(len(s.manifest["counts"]["by_reason"]) for s in r.stages) for r in runs), default=1))


@_styled
def quality_rules(runs: list[RunData]) -> Figure | None:
    """Per rule: share of documents failing it, and share it removed (the first rule a document failed)."""
    if not any(r.rules for r in runs):
        return None
    n = max(len(r.rules) for r in runs)
    axes = _grid(runs, height=0.26 * n + 1.2, sharey=False)
    for col, run in enumerate(runs):
        ax = axes[0, col]
        if not run.rules:
            _empty(ax, "no quality stage")
            continue
        y = np.arange(len(run.rules))
        ax.barh(y - 0.2, [100 * r["fail_share"] for r in run.rules], 0.4, color="#f2a541", label="fail the rule")
        ax.barh(y + 0.2, [100 * r["removed_share"] for r in run.rules], 0.4, color=REJECTED, label="removed by it")
        ax.set_yticks(y, [f"{r['name']} ({bound(r)})" for r in run.rules])
        ax.invert_yaxis()
        ax.set_xlabel("% of documents")
        ax.legend(loc="lower right")
    return axes[0, 0].figure


def bound(rule: dict) -> str:
    if "allowed" in rule:
        return "in " + ",".join(rule["allowed"])
    return f"min {rule['min']:g}" if "min" in rule else f"max {rule['max']:g}"


@_styled
def signal(runs: list[RunData], name: str, bins: Bins) -> Figure:
    """Histogram of one signal over every document of the quality stage, kept and rejected stacked,
    with each rule's threshold on it."""
    axes = _grid(runs, height=2.6, fixed=True)
    edges = bins.edges
    for col, run in enumerate(runs):
        ax = axes[0, col]
        counts = run.signals.get(name)
        if counts is None:
            _empty(ax, "signal not computed")
            continue
        ax.stairs(counts["kept"], edges, fill=True, color=KEPT, label="kept")
        ax.stairs(counts["kept"] + counts["rejected"], edges, baseline=counts["kept"], fill=True, color=REJECTED,
                  label="rejected")  # fmt: skip
        for rule in (r for r in run.rules if r["signal"] == name and ("min" in r or "max" in r)):
            ax.axvline(rule.get("min", rule.get("max")), color=THRESHOLD, linestyle="--", linewidth=1)
            ax.text(rule.get("min", rule.get("max")), 0.98, f" {bound(rule)}: {100 * rule['removed_share']:.1f}% "
                    "removed", transform=ax.get_xaxis_transform(), va="top", fontsize=7)  # fmt: skip
        if bins.log:
            ax.set_xscale("symlog", linthresh=1)
        ax.set_xlabel(name)
        ax.set_ylabel("documents")
    return axes[0, 0].figure


@_styled
def languages(runs: list[RunData]) -> Figure | None:
    """Documents per identified language, kept and rejected (the most frequent languages)."""
    if not any(r.langs for r in runs):
        return None
    axes = _grid(runs)
    for col, run in enumerate(runs):
        ax = axes[0, col]
        top = sorted(run.langs.items(), key=lambda kv: (-sum(kv[1]), kv[0]))[:MAX_BARS]
        x = np.arange(len(top))
        ax.bar(x - 0.2, [v[0] for _, v in top], 0.4, color=KEPT, label="kept")
        ax.bar(x + 0.2, [v[1] for _, v in top], 0.4, color=REJECTED, label="rejected")
        ax.set_xticks(x, [k for k, _ in top])
        ax.set_yscale("symlog", linthresh=1)
        ax.set_ylabel("documents")
        ax.legend()
    return axes[0, 0].figure


def dedup_stages(run: RunData) -> list:
    """Stages reporting duplicate clusters (dedup; the line/substring dedup stages when they do too)."""
    return [s for s in run.stages if "cluster_sizes" in s.stats]


@_styled
def dedup(runs: list[RunData]) -> Figure | None:
    """Cluster-size distribution, and the share of documents removed by domain and by source."""
    if not any(dedup_stages(r) for r in runs):
        return None
    axes = _grid(runs, rows=3, sharey=False)
    for col, run in enumerate(runs):
        stages = dedup_stages(run)
        if not stages:
            for row in range(3):
                _empty(axes[row, col], "no dedup stage")
            continue
        stats = stages[0].stats
        # bucket labels ("2", "3-4", "5-8", ...), ordered by their lower bound
        sizes = sorted(stats["cluster_sizes"].items(), key=lambda kv: int(kv[0].split("-")[0]))
        if sizes:
            axes[0, col].bar([str(k) for k, _ in sizes], [v for _, v in sizes], color=KEPT)
            axes[0, col].set_xlabel("documents in a duplicate cluster")
            axes[0, col].set_ylabel("clusters")
        else:
            _empty(axes[0, col], f"{stages[0].name}: no duplicate clusters")
        for row, by in ((1, "domain"), (2, "source")):
            shares = sorted(stats.get(f"removed_fraction_by_{by}", {}).items())
            ax = axes[row, col]
            ax.bar([k for k, _ in shares], [100 * v for _, v in shares], color=REJECTED)
            ax.set_ylabel(f"% removed, by {by}")
            ax.tick_params(axis="x", labelrotation=30)
            ax.set_ylim(0, max(1.0, *(100 * v for _, v in shares)) * 1.1)
    return axes[0, 0].figure


@_styled
def contamination(runs: list[RunData]) -> Figure | None:
    """Per benchmark split: % of its items found in the corpus, with the count."""
    if not any(r.contamination for r in runs):
        return None
    axes = _grid(runs)
    for col, run in enumerate(runs):
        ax = axes[0, col]
        if not run.contamination:
            _empty(ax, "no decontaminate stage")
            continue
        rows = sorted(run.contamination["summary"], key=lambda s: (s["benchmark"], s["split"]))
        labels = [f"{s['benchmark']}/{s['split']}" for s in rows]
        bars = ax.bar(labels, [s["contaminated_pct"] for s in rows], color=REJECTED)
        ax.bar_label(bars, [f"{s['contaminated_items']}/{s['items']}" for s in rows], fontsize=7)
        ax.set_ylabel("% of items contaminated")
        ax.set_ylim(0, max(1.0, *(s["contaminated_pct"] for s in rows)) * 1.2)
        ax.tick_params(axis="x", labelrotation=30)
    return axes[0, 0].figure


SHARES = (
    ("weight", "requested", "#bab0ac"),
    ("target_weight", "target", "#72b7b2"),
    ("achieved_weight", "achieved", KEPT),
)


def mix_stats(run: RunData) -> dict | None:
    stage = next((s for s in run.stages if "mix" in s.stats), None)
    return stage.stats["mix"] if stage else None


@_styled
def mixture(runs: list[RunData]) -> Figure | None:
    """Per domain: requested, target (after epoch caps) and achieved shares; epochs with the cap."""
    if not any(mix_stats(r) for r in runs):
        return None
    axes = _grid(runs, rows=2)
    for col, run in enumerate(runs):
        mix = mix_stats(run)
        if not mix:
            for row in range(2):
                _empty(axes[row, col], "no mix stage")
            continue
        names = sorted(mix["domains"])
        d = [mix["domains"][n] for n in names]
        x = np.arange(len(names))
        ax = axes[0, col]
        for i, (key, label, color) in enumerate(SHARES):
            ax.bar(x + (i - 1) * 0.27, [100 * v[key] for v in d], 0.27, color=color, label=label)
        ax.set_xticks(x, names, rotation=30, ha="right")
        ax.set_ylabel(f"% of {_units(mix)}")
        ax.legend()
        ax = axes[1, col]
        ax.bar(x, [v["achieved_epochs"] for v in d], color=KEPT)
        caps = [v["cap"] / v["available"] for v in d if v.get("available")]
        if caps:
            ax.axhline(max(caps), color=THRESHOLD, linestyle="--", linewidth=1, label="epoch cap")
            ax.legend()
        ax.set_xticks(x, names, rotation=30, ha="right")
        ax.set_ylabel("epochs")
    return axes[0, 0].figure


def _units(mix: dict) -> str:
    return "tokens" if str(mix.get("units", "")).startswith("tokens") else "units"


@_styled
def tokens(runs: list[RunData]) -> Figure:
    """Tokens written per domain, and the distribution of document lengths."""
    axes = _grid(runs, rows=2, sharey=False)
    colors = palette(runs)
    for col, run in enumerate(runs):
        ax = axes[0, col]
        if run.tokens_by_domain:
            names = list(run.tokens_by_domain)
            ax.bar(names, list(run.tokens_by_domain.values()), color=[colors.get(n, KEPT) for n in names])
            ax.set_ylabel("tokens written")
            ax.tick_params(axis="x", labelrotation=30)
        else:
            _empty(ax, "no tokenize stage")
        ax = axes[1, col]
        ax.stairs(run.lengths, LENGTH_EDGES, fill=True, color=KEPT)
        ax.set_xscale("symlog", linthresh=1)
        filled = np.nonzero(run.lengths)[0]
        if filled.size:
            ax.set_xlim(LENGTH_EDGES[filled[0]], LENGTH_EDGES[filled[-1] + 1])
        ax.set_xlabel(f"document length ({run.length_unit}, last stage)")
        ax.set_ylabel("documents")
    return axes[0, 0].figure


@_styled
def timings(runs: list[RunData]) -> Figure:
    """Wall seconds per stage, labelled with the workers it ran on."""
    axes = _grid(runs)
    for col, run in enumerate(runs):
        ax = axes[0, col]
        names = [s.name for s in run.stages]
        bars = ax.bar(names, [s.manifest["timing"]["wall_seconds"] for s in run.stages], color=KEPT)
        ax.bar_label(bars, [f"{s.manifest['timing']['workers']} w" for s in run.stages], fontsize=7)
        ax.set_ylabel("wall seconds")
        ax.tick_params(axis="x", labelrotation=30)
    return axes[0, 0].figure
