"""``dataprep plan --params N [--flops C] [--pool STAGE_DIR]``: how many tokens, and how many epochs.

The token budget comes from Hoffmann et al. 2022 (Chinchilla): the fitted law's
compute-optimal tokens for N parameters (or, with --flops, what C = 6ND buys at that size,
beside the law's compute-optimal N and D for C), and the ~20 tokens per parameter rule of
thumb, both printed. With --pool (a finished stage, e.g. runs/x/03-decontaminate), the
budget is spread over its domains (by --weights, else the pool's own mixture), giving the
epochs per domain and the effective data under repetition of Muennighoff et al. 2023, with a
warning for every domain past ~4 epochs. See dataprep/mix/scaling.py for the formulas.

    dataprep plan --params 7e9 --pool runs/qs/03-decontaminate --weights web=0.5,code=0.5
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

import yaml


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "plan",
        help="token budget from scaling laws, and epochs per domain of a pool",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--params", type=float, required=True, help="model parameters, e.g. 7e9")
    p.add_argument("--flops", type=float, help="training compute in FLOPs (default: the law's optimum for --params)")
    p.add_argument("--budget", choices=["law", "rule"], default="law", help="which budget spreads over the pool")
    p.add_argument("--pool", help="a finished stage directory whose tokens per domain the budget is spread over")
    p.add_argument("--weights", help="domain=weight,... (default: the pool's mixture, else its natural shares)")
    p.add_argument("--tokenizer", help="tokenizer.json for counting (default: the run's, else an estimate)")
    p.add_argument("--json", action="store_true", help="print the plan as JSON")
    p.set_defaults(func=_plan)


def parse_weights(text: str) -> dict[str, float]:
    out = {}
    for part in text.split(","):
        name, sep, value = part.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"--weights takes domain=weight,..., got {part!r}")
        out[name.strip()] = float(value)
    return out


def run_tokenizer(stage_dir: str) -> str | None:
    """The tokenizer the run's pipeline names, if that file still is the one the run used."""
    from dataprep.core.storage import Storage

    run_root = Storage(stage_dir).parent()
    if not run_root.exists("run.json"):
        return None
    pipe = run_root.read_json("run.json").get("pipeline") or {}
    path = pipe.get("path")
    if not path:
        return None
    folder = Storage(os.path.dirname(path))
    name = os.path.basename(path)
    if not folder.exists(name) or folder.sha256(name) != pipe.get("sha256"):
        return None
    tok = (yaml.safe_load(folder.read_bytes(name)) or {}).get("tokenizer")
    return os.path.normpath(os.path.join(os.path.dirname(path), tok)) if tok else None


def build_plan(args: argparse.Namespace) -> dict[str, Any]:
    from dataprep.mix.pool import pool_tokens
    from dataprep.mix.scaling import EPOCH_WARNING, R_STAR_D, chinchilla_budget, repetition_plan

    if args.params <= 0 or (args.flops is not None and args.flops <= 0):
        raise ValueError("--params and --flops must be positive")
    budget = chinchilla_budget(args.params, args.flops)
    plan: dict[str, Any] = {"budget": budget.as_dict()}
    if args.pool:
        pool = pool_tokens(args.pool, args.tokenizer or run_tokenizer(args.pool))
        given = parse_weights(args.weights) if args.weights else None
        if given:
            unknown = sorted(set(given) - set(pool.unique))
            if unknown:
                raise ValueError(f"--weights names {', '.join(unknown)}; the pool has {', '.join(pool.unique)}")
        weights = given or pool.weights or {d: float(u) for d, u in pool.unique.items()}
        spread = budget.tokens if args.budget == "law" else budget.rule_tokens
        rows = repetition_plan(spread, {d: float(u) for d, u in pool.unique.items()}, weights)
        plan["pool"] = {
            "stage": pool.stage,
            "units": pool.units,
            "budget_tokens": spread,
            "r_star_d": R_STAR_D,
            "epoch_warning": EPOCH_WARNING,
            "domains": [{**r.__dict__, "warn": r.warn} for r in rows],
        }
    return plan


def _plan(args: argparse.Namespace) -> int:
    plan = build_plan(args)
    print(json.dumps(plan, indent=1) if args.json else render(plan))
    return 0


def _g(x: float) -> str:
    return f"{x:.3g}"


def render(plan: dict[str, Any]) -> str:
    b = plan["budget"]
    k = b["constants"]
    n = b["params"]
    lines = [
        f"model: {_g(n)} parameters",
        f"Hoffmann et al. 2022 fitted law: L(N, D) = {k['E']} + {k['A']}/N^{k['alpha']} + {k['B']}/D^{k['beta']}, "
        "C = 6ND",
        f"  compute-optimal tokens for N = {_g(n)}: {b['law_tokens']:,.0f} ({b['law_tokens'] / n:.1f} per parameter, "
        f"C = {_g(6 * n * b['law_tokens'])} FLOPs)",
        f"  rule of thumb, {b['tokens_per_parameter_rule']} tokens per parameter (Table 3, approach 1): "
        f"{b['rule_tokens']:,.0f} (C = {_g(6 * n * b['rule_tokens'])} FLOPs)",
    ]
    if b["law_optimum_for_flops"] is not None:
        n_opt, d_opt = b["law_optimum_for_flops"]
        lines += [
            f"  with C = {_g(b['flops'])} FLOPs: {b['tokens']:,.0f} tokens at N = {_g(n)} (C / 6N); "
            f"the law's optimum for C is N = {_g(n_opt)}, D = {d_opt:,.0f}",
        ]
    pool = plan.get("pool")
    if pool:
        lines += [
            "",
            f"pool: {pool['stage']} ({pool['units']})",
            f"budget spread: {pool['budget_tokens']:,.0f} tokens; effective data D' = U + U R* (1 - exp(-R/R*)), "
            f"R = epochs - 1, R* = {pool['r_star_d']} (Muennighoff et al. 2023)",
            f"  {'domain':<16} {'unique tokens':>16} {'weight':>7} {'tokens':>20} {'epochs':>12} {'effective':>20}",
        ]
        for r in pool["domains"]:
            lines.append(
                f"  {r['domain']:<16} {r['unique']:>16,.0f} {r['weight']:>7.3f} {r['tokens']:>20,.0f} "
                f"{r['epochs']:>12,.2f} {r['effective']:>20,.0f}"
            )
        total_t = sum(r["tokens"] for r in pool["domains"])
        total_e = sum(r["effective"] for r in pool["domains"])
        lines.append(
            f"  {'total':<16} {sum(r['unique'] for r in pool['domains']):>16,.0f} {'':>7} {total_t:>20,.0f} "
            f"{'':>12} {total_e:>20,.0f}"
        )
        for r in pool["domains"]:
            if r["warn"]:
                lines.append(
                    f"warning: {r['domain']} would be seen {r['epochs']:,.2f} times (> {pool['epoch_warning']:g} "
                    f"epochs): its {r['tokens']:,.0f} tokens are worth {r['effective']:,.0f} unique tokens "
                    "(Muennighoff et al. 2023); find more data for it or lower its weight"
                )
    return "\n".join(lines)
