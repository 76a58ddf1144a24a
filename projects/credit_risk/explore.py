"""Explore the applicants before modelling them: a data report, with what each plot shows computed from the data.

    $ make explore PROJECT=credit_risk
    $ python -m projects.credit_risk.explore [--data applicants.csv] [--set data.separator=semicolon] [--out FOLDER]

Reads the applicants through data.load, as train.py does (so --data explores your own file the same way),
and writes runs/credit_risk-explore/: report.md (it reads on its own), report.json (its numbers) and plots/.
1. the target: how many applicants defaulted, in the development and the test part;
2. each attribute: how its values are spread, and the default rate of each category (of each quantile bin,
   for numbers), with counts;
3. Information Value and weight of evidence, the credit-scoring standard measure of how well one attribute
   alone separates defaulters from payers, in Siddiqi's bands; leakage suspects are flagged;
4. how the attributes go together (Cramér's V): pairs that tell the model the same thing twice;
5. the sensitive attributes (sex, age under 25) and their default rates: what the fairness report compares.
Steps 2 to 5 look at the development part only: the test applicants stay unseen here, as in train.py, so
nothing chosen from this report has peeked at the test set.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from sklearn.metrics import roc_auc_score

from mlstarter import paths
from mlstarter.explore import Report, explore_parser, percent, write
from mlstarter.scripts import load_config, run_script

from . import data
from .config import Config

PROJECT = paths.project_name(__package__)
NUMERIC_BINS = 5  # quantile bins of a number: 160 development applicants (~48 defaulters) each, rates within ±7 points
MIN_SHOWN = 30  # a category's rate is quoted in a caption only with this many applicants (±16 points at 30%)
# Information Value bands, Siddiqi (2006), "Credit Risk Scorecards", ch. 6: the industry's rule of thumb
IV_BANDS = [(0.02, "useless"), (0.1, "weak"), (0.3, "medium"), (0.5, "strong"), (np.inf, "suspicious")]
LEAK_IV = 0.5  # above: "suspicious" (Siddiqi): too good to be true for one attribute; check how it was recorded
LEAK_AUC = 0.95  # one attribute whose categories alone rank defaulters above payers this well predicts almost perfectly
SMOOTHING = 0.5  # added to every cell's count, so a category with no defaulters (or no payers) has a finite WoE


def binned(frame: pd.DataFrame) -> pd.DataFrame:
    """Every attribute as categories: categorical ones as they are, numbers in quantile bins ("24 to 36")."""
    out = {}
    for column in data.FEATURES:
        values = frame[column]
        if column in data.CATEGORICAL:
            out[column] = values.cat.remove_unused_categories()
        elif values.nunique() <= NUMERIC_BINS:  # few distinct values (installment_rate 1-4): each its own bin
            out[column] = pd.Categorical(values.astype(str), categories=[str(v) for v in sorted(values.unique())])
        else:
            edges = np.unique(np.quantile(values, np.linspace(0, 1, NUMERIC_BINS + 1)).round())  # whole numbers
            # bins (a, b] of whole numbers: "a+1 to b"; the first one holds its lower edge too
            labels = [f"{edges[0]:g} to {edges[1]:g}"]
            labels += [f"{a + 1:g} to {b:g}" for a, b in zip(edges[1:-1], edges[2:], strict=True)]
            out[column] = pd.cut(values, edges, labels=labels, include_lowest=True)
    return pd.DataFrame(out, index=frame.index)


def woe_table(categories: pd.Series, y: pd.Series) -> pd.DataFrame:
    """Count, default rate and weight of evidence of each category, as in a scorecard's coarse classing.

    WoE_i = ln(share of all payers in i / share of all defaulters in i): > 0 is safer than average, < 0 riskier.
    IV = sum_i (share of payers_i - share of defaulters_i) * WoE_i  (Siddiqi 2006), counts smoothed by +0.5.
    """
    counts = y.groupby(categories, observed=True).agg(["size", "sum"])  # (categories, [applicants, defaulters])
    payers, defaulters = counts["size"] - counts["sum"] + SMOOTHING, counts["sum"] + SMOOTHING
    good_share, bad_share = payers / payers.sum(), defaulters / defaulters.sum()
    woe = np.log(good_share / bad_share)
    return pd.DataFrame({
        "count": counts["size"],
        "default_rate": counts["sum"] / counts["size"],
        "woe": woe,
        "iv": (good_share - bad_share) * woe,  # each category's part of the IV
    })  # fmt: skip


def band(iv: float) -> str:
    return next(name for upper, name in IV_BANDS if iv < upper)


def attribute_summary(bins: pd.DataFrame, y: pd.Series) -> pd.DataFrame:
    """Per attribute: IV and its band, the AUC of its default rates as a score, and its riskiest and safest
    category (among those with at least MIN_SHOWN applicants). Sorted by IV, the best separator first."""
    rows = []
    for column in data.FEATURES:
        table = woe_table(bins[column], y)
        score = bins[column].map(table["default_rate"]).astype(float)  # each applicant's category's default rate
        auc = roc_auc_score(y, score) if y.nunique() == 2 else float("nan")
        big = table[table["count"] >= MIN_SHOWN] if (table["count"] >= MIN_SHOWN).sum() >= 2 else table
        rows.append({
            "attribute": column,
            "iv": float(table["iv"].sum()),
            "band": band(float(table["iv"].sum())),
            "auc": float(auc),
            "riskiest": str(big["default_rate"].idxmax()),
            "riskiest_rate": float(big["default_rate"].max()),
            "riskiest_count": int(big.loc[big["default_rate"].idxmax(), "count"]),
            "safest": str(big["default_rate"].idxmin()),
            "safest_rate": float(big["default_rate"].min()),
            "safest_count": int(big.loc[big["default_rate"].idxmin(), "count"]),
        })  # fmt: skip
    summary = pd.DataFrame(rows).set_index("attribute").sort_values("iv", ascending=False)
    summary["leakage_suspect"] = (summary["iv"] > LEAK_IV) | (summary["auc"] >= LEAK_AUC)
    return summary


def cramers_v(a: pd.Series, b: pd.Series) -> float:
    """Cramér's V of two categorical columns: sqrt(chi^2 / (n (min(rows, cols) - 1))), 0 = independent, 1 = the
    same information."""
    ka, kb = len(a.cat.categories), len(b.cat.categories)
    cells = np.bincount(a.cat.codes.to_numpy() * kb + b.cat.codes.to_numpy(), minlength=ka * kb)
    observed = cells.reshape(ka, kb).astype(float)  # (categories of a, categories of b)
    observed = observed[observed.sum(axis=1) > 0][:, observed.sum(axis=0) > 0]  # categories nobody is in: none
    if min(observed.shape) < 2:
        return 0.0
    expected = observed.sum(axis=1, keepdims=True) * observed.sum(axis=0, keepdims=True) / observed.sum()
    chi2 = ((observed - expected) ** 2 / expected).sum()
    return float(np.sqrt(chi2 / (observed.sum() * (min(observed.shape) - 1))))


def short(label: object, width: int = 16) -> str:
    text = str(label)
    return text if len(text) <= width else text[: width - 1] + "…"


def attributes_figure(bins: pd.DataFrame, y: pd.Series, order: list[str]) -> Figure:
    """One panel per attribute: each category's default rate (bar), its count of applicants beside its name."""
    columns = 4
    tables = [woe_table(bins[column], y) for column in order]
    rows = -(-len(order) // columns)
    height = max(len(t) for t in tables) * 0.28 + 1.0
    fig = Figure(figsize=(4.6 * columns, height * rows))
    highest = min(100, 125 * max(t["default_rate"].max() for t in tables))  # one scale for all: rates compare
    axes = fig.subplots(rows, columns, squeeze=False, sharex=True)  # x tick labels on the bottom row only
    for ax, column, table in zip(axes.flat, order, tables, strict=False):
        ax.barh(np.arange(len(table)), 100 * table["default_rate"], color="#4C72B0")
        ax.set_yticks(np.arange(len(table)), [f"{short(c, 22)} (n={n})" for c, n in table["count"].items()])
        ax.axvline(100 * y.mean(), color="tab:red", linestyle="--", linewidth=0.8)
        ax.invert_yaxis()  # the first category at the top
        ax.set_xlim(0, highest)
        ax.set_xticks(np.arange(0, highest, 20))  # fixed ticks: matplotlib need not search for them in 20 panels
        ax.tick_params(labelsize=7)
        ax.set_title(column, fontsize=9)
    for ax in axes[-1]:
        ax.set_xlabel("default rate %", fontsize=8)
    for ax in list(axes.flat)[len(order) :]:
        ax.axis("off")
    return fig


def report(cfg: Config) -> Report:
    """The data report of the configured applicants (the UCI file, or --data), built in memory."""
    loaded = data.load(cfg)
    frame, develop, test = loaded.frame, loaded.splits["develop"], loaded.splits["test"]
    source = cfg.data.path or f"{data.DATASET.name} ({', '.join(loaded.files)})"
    found = Report(PROJECT, f"{source}: {len(frame):,} applicants, {len(data.FEATURES)} attributes.")

    # 1. The target: how many defaulted, and is the split stratified?
    found.section("1. The target")
    rate = float(frame[data.TARGET].mean())
    found.text(
        f"{percent(rate, 1)} of the {len(frame):,} applicants defaulted ({int(frame[data.TARGET].sum()):,}). "
        f"A model that approves everyone is right {percent(1 - rate, 1)} of the time: accuracy alone says little, "
        "which is why train.py reports ROC AUC and the cost of its decisions."
    )
    found.table(
        ["part", "applicants", "defaulted", "default rate"],
        [[name, len(part), int(part[data.TARGET].sum()), percent(part[data.TARGET].mean(), 1)]
         for name, part in (("all", frame), ("development", develop), ("test (not explored below)", test))],
    )  # fmt: skip
    found.numbers["target"] = {
        "applicants": len(frame),
        "default_rate": rate,
        "development_default_rate": float(develop[data.TARGET].mean()),
        "test_default_rate": float(test[data.TARGET].mean()),
    }

    # 2. Each attribute: its categories (numbers: quantile bins), their counts and default rates
    y = develop[data.TARGET]
    bins = binned(develop)
    summary = attribute_summary(bins, y)
    found.section("2. Each attribute and its default rates")
    found.text(
        f"The {len(develop):,} development applicants. Numbers are cut into {NUMERIC_BINS} bins of equal counts "
        f"(or kept as they are with {NUMERIC_BINS} values or fewer). Captions quote only categories with at least "
        f"{MIN_SHOWN} applicants: a rate over fewer moves by chance."
    )
    spread = (summary["riskiest_rate"] - summary["safest_rate"]).idxmax()
    top = summary.loc[spread]
    found.plot(
        "attributes",
        attributes_figure(bins, y, list(summary.index)),
        f"The default rate differs most across {spread}: {percent(top['riskiest_rate'])} for '{top['riskiest']}' "
        f"({top['riskiest_count']} applicants) against {percent(top['safest_rate'])} for '{top['safest']}' "
        f"({top['safest_count']}); the dashed line is the overall rate, {percent(y.mean())}. Panels in order of IV.",
    )

    # 3. Information Value: how well each attribute alone separates defaulters from payers
    found.section("3. Information Value and weight of evidence")
    found.text(
        "IV = Σ (share of payers − share of defaulters) × WoE over an attribute's categories, with WoE = ln(share "
        "of payers / share of defaulters). Bands (Siddiqi 2006, *Credit Risk Scorecards*): < 0.02 useless, 0.02 to "
        "0.1 weak, 0.1 to 0.3 medium, 0.3 to 0.5 strong, > 0.5 suspicious (too good for one attribute: check it "
        f"is known when the applicant applies, not recorded after the loan went bad). AUC alone: the attribute's "
        f"own default rates used as a score; {LEAK_AUC} or more predicts almost perfectly, another leakage sign."
    )
    best = summary.index[0]
    suspects = list(summary.index[summary["leakage_suspect"]])
    useless = list(summary.index[summary["band"] == "useless"])
    leak_note = (
        f"leakage suspects to check: {', '.join(suspects)} (IV > {LEAK_IV} or AUC alone ≥ {LEAK_AUC})"
        if suspects
        else f"no leakage suspect (IV > {LEAK_IV} or AUC alone ≥ {LEAK_AUC})"
    )
    found.plot(
        "information_value",
        iv_figure(summary),
        f"{best} separates best: IV {summary.loc[best, 'iv']:.2f} ({summary.loc[best, 'band']}), AUC alone "
        f"{summary.loc[best, 'auc']:.2f}; {leak_note}; {len(useless)} useless (IV < 0.02)"
        + (f": {', '.join(useless)}." if useless else "."),
    )
    found.table(
        ["attribute", "IV", "band", "AUC alone", "riskiest category", "safest category", "leakage suspect"],
        [[name, f"{s['iv']:.3f}", s["band"], f"{s['auc']:.2f}",
          f"{s['riskiest']}: {percent(s['riskiest_rate'])} of {s['riskiest_count']}",
          f"{s['safest']}: {percent(s['safest_rate'])} of {s['safest_count']}",
          "**yes**" if s["leakage_suspect"] else ""]
         for name, s in summary.iterrows()],
    )  # fmt: skip
    woe = woe_table(bins[best], y)
    found.text(f"The weight of evidence of {best}, the strongest attribute (> 0: safer than average):")
    found.table(
        ["category", "applicants", "default rate", "WoE"],
        [[c, int(r["count"]), percent(r["default_rate"]), f"{r['woe']:+.2f}"] for c, r in woe.iterrows()],
    )
    found.numbers["attributes"] = {
        name: {
            **{k: (v.item() if hasattr(v, "item") else v) for k, v in s.items()},
            "categories": {
                str(c): {"count": int(r["count"]), "default_rate": float(r["default_rate"]), "woe": float(r["woe"])}
                for c, r in woe_table(bins[name], y).iterrows()
            },
        }
        for name, s in summary.iterrows()
    }
    found.numbers["leakage_suspects"] = suspects

    # 4. Association: attributes that carry the same information
    found.section("4. How the attributes go together")
    names = list(summary.index)
    v = np.eye(len(names))
    for i in range(len(names)):
        for j in range(i):
            v[i, j] = v[j, i] = cramers_v(bins[names[i]], bins[names[j]])
    pairs = sorted(((v[i, j], names[i], names[j]) for i in range(len(names)) for j in range(i)), reverse=True)
    (v1, a1, b1), (v2, a2, b2) = pairs[0], pairs[1]
    found.plot(
        "association",
        association_figure(v, names),
        f"The most associated pair is {a1} and {b1} (Cramér's V {v1:.2f}), then {a2} and {b2} ({v2:.2f}): "
        "a pair this close tells the model much the same thing twice, and a linear model's weights split between them.",
    )
    found.numbers["association"] = {f"{a} / {b}": float(value) for value, a, b in pairs[:10]}

    # 5. The sensitive attributes: their default rates (the fairness report compares approvals across these groups)
    found.section("5. Sensitive attributes and their base rates")
    groups = data.sensitive_features(develop)
    rates = {
        column: develop[data.TARGET].groupby(groups[column]).agg(["mean", "size"]).sort_values("mean")
        for column in groups.columns
    }
    parts = [
        f"{column}: {percent(r['mean'].iloc[-1])} default for '{r.index[-1]}' ({int(r['size'].iloc[-1])}) against "
        f"{percent(r['mean'].iloc[0])} for '{r.index[0]}' ({int(r['size'].iloc[0])})"
        if len(r) > 1
        else f"{column}: only '{r.index[0]}' ({int(r['size'].iloc[0])}, {percent(r['mean'].iloc[0])} default)"
        for column, r in rates.items()
    ]
    found.plot(
        "sensitive",
        sensitive_figure(rates, float(y.mean())),
        "; ".join(parts) + ". A model that learns these rates approves the riskier groups less often: the "
        "evaluation's fairness section measures by how much.",
    )
    proxies = {  # the attribute that goes most with each sensitive one (Cramér's V, section 4)
        column: max((v[names.index(column), j], other) for j, other in enumerate(names) if other != column)
        for column in ("personal_status_sex", "age")
    }
    found.text(
        "Groups as data.sensitive_features defines them (sex from personal_status_sex; age under 25 or not). "
        "Leaving the attributes out of the model (`--set data.drop_features=personal_status_sex,age`) does not "
        "remove their signal where other attributes stand in for them: "
        + "; ".join(f"{column} goes most with {other} (Cramér's V {value:.2f})" for column, (value, other) in
                    proxies.items()) + "."
    )  # fmt: skip
    found.numbers["sensitive_proxies"] = {column: {other: float(value)} for column, (value, other) in proxies.items()}
    found.numbers["sensitive"] = {
        column: {str(g): {"default_rate": float(row["mean"]), "count": int(row["size"])} for g, row in r.iterrows()}
        for column, r in rates.items()
    }
    return found


def iv_figure(summary: pd.DataFrame) -> Figure:
    """Information Value per attribute, coloured by Siddiqi's band, with the band edges."""
    colours = {
        "useless": "#bbbbbb",
        "weak": "#9ecae1",
        "medium": "#4292c6",
        "strong": "#08519c",
        "suspicious": "#d62728",
    }
    ordered = summary.sort_values("iv")
    fig = Figure(figsize=(7, 0.3 * len(ordered) + 1.5))
    ax = fig.subplots()
    ax.barh(ordered.index, ordered["iv"], color=[colours[b] for b in ordered["band"]])
    for upper, _ in IV_BANDS[:-1]:
        ax.axvline(upper, color="grey", linestyle=":", linewidth=0.8)
        ax.text(upper, len(ordered) - 0.4, f" {upper:g}", fontsize=7, color="grey")
    ax.set(xlabel="Information Value (development part)", title="Which attributes separate defaulters from payers?")
    ax.legend(handles=[Patch(color=c, label=n) for n, c in colours.items()], loc="lower right", fontsize=8)
    return fig


def association_figure(v: np.ndarray, names: list[str]) -> Figure:
    """Cramér's V between every pair of attributes, as a heat map."""
    fig = Figure(figsize=(9, 8))
    ax = fig.subplots()
    image = ax.imshow(v, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(names)), names, rotation=90, fontsize=8)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    fig.colorbar(image, ax=ax, label="Cramér's V")
    ax.set_title("Association between attributes (numbers binned)")
    return fig


def sensitive_figure(rates: dict[str, pd.DataFrame], overall: float) -> Figure:
    """The default rate of each group of each sensitive attribute, with its count."""
    fig = Figure(figsize=(4 * len(rates), 3.5))
    for ax, (column, r) in zip(fig.subplots(1, len(rates), squeeze=False)[0], rates.items(), strict=True):
        bars = ax.bar([str(g) for g in r.index], 100 * r["mean"], color="#4C72B0")
        ax.bar_label(bars, [f"n={n}" for n in r["size"]], label_type="center", color="white", fontsize=9)
        ax.axhline(100 * overall, color="tab:red", linestyle="--", linewidth=0.8, label="all applicants")
        ax.set(title=column, ylabel="default rate %", ylim=(0, max(100 * r["mean"].max() * 1.25, 1)))
        ax.legend(fontsize=8)
    return fig


def main(argv: list[str] | None = None) -> int:
    args = explore_parser(__doc__, PROJECT).parse_args(argv)
    cfg = load_config(Config, args)  # --data and --set, as train.py takes them
    found = report(cfg)
    written = write(found, args.out)
    print(found.summary())
    print(f"Report: {paths.shown(written)} (plots in {paths.shown(written.parent / 'plots')})")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_script(main))
