"""Explore the applicants before modelling them: a data report, with what each plot shows computed from the data.

    $ make explore PROJECT=credit_risk
    $ python -m projects.credit_risk.explore [--data applicants.csv] [--set data.separator=semicolon] [--out FOLDER]

Reads the applicants through data.load, as train.py does (so --data explores your own file the same way),
and writes runs/credit_risk-explore/: report.md (it reads on its own), report.json (its numbers) and plots/.
1. the target: how many applicants defaulted, in the development and the test part;
2. each attribute: how its values are spread, and the default rate of each category (of each quantile bin,
   for numbers), with counts;
3. Information Value and weight of evidence, the credit-scoring standard measure of how well one attribute
   alone separates defaulters from payers, in Siddiqi's bands, against the IV that chance alone gives an
   attribute with as many categories (a chi-squared test); leakage suspects are flagged;
4. how the attributes go together (Cramér's V, bias-corrected): pairs that tell the model the same thing twice;
5. the sensitive attributes (sex, age under 25) and their default rates: what the fairness report compares.
Steps 2 to 5 look at the development part only: the test applicants stay unseen here, as in train.py, so
nothing chosen from this report has peeked at the test set.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from scipy.stats import chi2_contingency
from sklearn.metrics import roc_auc_score

from mlstarter import paths
from mlstarter.explore import Report, explore_parser, percent, write
from mlstarter.scripts import load_config, run_script

from . import data
from .config import Config

PROJECT = paths.project_name(__package__)
NUMERIC_BINS = 5  # quantile bins of a number: 160 development applicants (~48 defaulters) each, rates within ±7 points
MIN_SHOWN = 30  # a category's rate is quoted in a caption only with this many applicants (±16 points at 30%)
# Information Value bands, Siddiqi (2006), "Credit Risk Scorecards", ch. 6, the industry's rule of thumb; his
# "suspicious" above 0.5 is split: 0.5 to 1 happens to honest attributes (checking_account here), above 1 rarely
IV_BANDS = [
    (0.02, "useless"),
    (0.1, "weak"),
    (0.3, "medium"),
    (0.5, "strong"),
    (1.0, "very strong"),
    (np.inf, "suspicious"),
]
LEAK_IV = 1.0  # above: too good to be true for one attribute; check how it was recorded (a leakage suspect)
LEAK_AUC = 0.95  # one attribute whose categories alone rank defaulters above payers this well predicts almost perfectly
CHANCE_P = 0.01  # chi-squared p under which an attribute's IV is beyond chance: of 20 unrelated attributes, 0.2 pass
SMOOTHING = 0.5  # added to every cell's count, so a category with no defaulters (or no payers) has a finite WoE


def report(cfg: Config) -> Report:
    """The data report of the configured applicants (the UCI file, or --data), built in memory, one section a step."""
    loaded = data.load(cfg)
    frame, develop = loaded.frame, loaded.splits["develop"]
    source = cfg.data.path or f"{data.DATASET.name} ({', '.join(loaded.files)})"
    found = Report(PROJECT, f"{source}: {len(frame):,} applicants, {len(data.FEATURES)} attributes.")
    target(found, frame, develop, loaded.splits["test"])
    y = develop[data.TARGET]  # sections 2 to 5: the development part only
    bins = binned(develop)
    summary = attribute_summary(bins, y)
    default_rates(found, bins, y, summary)
    information_value(found, bins, y, summary)
    v = association(found, bins, list(summary.index))
    sensitive(found, develop, v, list(summary.index))
    return found


def target(found: Report, frame: pd.DataFrame, develop: pd.DataFrame, test: pd.DataFrame) -> None:
    """1. How many defaulted, and is the split stratified?"""
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


def chance_iv(table: pd.DataFrame, y: pd.Series) -> float:
    """The IV an attribute of these k categories gets on average when it has nothing to do with the target.

    For small differences IV ~ sum_i (g_i - b_i)^2 / p_i (g_i, b_i: the category's share of payers, of
    defaulters; p_i: of everyone), and with no relation g_i - b_i has variance p_i (1 - p_i) (1/payers +
    1/defaulters); summed: (k - 1) (1/payers + 1/defaulters). 10 categories, 560 payers, 240 defaulters: 0.054."""
    defaulters = int(y.sum())
    return (len(table) - 1) * (1 / max(len(y) - defaulters, 1) + 1 / max(defaulters, 1))


def chance_p(table: pd.DataFrame) -> float:
    """The chi-squared test of independence of the 2 x k table (payers and defaulters per category): the chance
    that an attribute unrelated to the target separates them at least this well. 1.0 with a single category."""
    defaulters = np.rint(table["default_rate"] * table["count"])  # (k,) back to counts
    observed = np.array([table["count"] - defaulters, defaulters])  # (2, k): payers, defaulters per category
    if len(table) < 2 or (observed.sum(axis=1) == 0).any():
        return 1.0
    return float(chi2_contingency(observed, correction=False).pvalue)


def attribute_summary(bins: pd.DataFrame, y: pd.Series) -> pd.DataFrame:
    """Per attribute: IV and its band, the IV chance alone gives and the chi-squared p, the AUC of its default
    rates as a score, and its riskiest and safest category (among those with at least MIN_SHOWN applicants, when
    two have that many: `quotable`). Sorted by IV, the best separator first."""
    rows = []
    for column in data.FEATURES:
        table = woe_table(bins[column], y)
        score = bins[column].map(table["default_rate"]).astype(float)  # each applicant's category's default rate
        auc = roc_auc_score(y, score) if y.nunique() == 2 else float("nan")
        quotable = bool((table["count"] >= MIN_SHOWN).sum() >= 2)
        big = table[table["count"] >= MIN_SHOWN] if quotable else table
        rows.append({
            "attribute": column,
            "iv": float(table["iv"].sum()),
            "band": band(float(table["iv"].sum())),
            "chance_iv": chance_iv(table, y),
            "chi2_p": chance_p(table),
            "auc": float(auc),
            "quotable": quotable,
            "riskiest": str(big["default_rate"].idxmax()),
            "riskiest_rate": float(big["default_rate"].max()),
            "riskiest_count": int(big.loc[big["default_rate"].idxmax(), "count"]),
            "safest": str(big["default_rate"].idxmin()),
            "safest_rate": float(big["default_rate"].min()),
            "safest_count": int(big.loc[big["default_rate"].idxmin(), "count"]),
        })  # fmt: skip
    summary = pd.DataFrame(rows).set_index("attribute").sort_values("iv", ascending=False)
    summary["beyond_chance"] = summary["chi2_p"] < CHANCE_P
    # a leakage suspect predicts too well for one attribute, and not by chance (a tiny file can rank perfectly)
    summary["leakage_suspect"] = summary["beyond_chance"] & ((summary["iv"] > LEAK_IV) | (summary["auc"] >= LEAK_AUC))
    return summary


def default_rates(found: Report, bins: pd.DataFrame, y: pd.Series, summary: pd.DataFrame) -> None:
    """2. Each attribute's categories (numbers: quantile bins), their counts and default rates."""
    found.section("2. Each attribute and its default rates")
    found.text(
        f"The {len(y):,} development applicants. Numbers are cut into {NUMERIC_BINS} bins of equal counts "
        f"(or kept as they are with {NUMERIC_BINS} values or fewer). Captions quote only categories with at least "
        f"{MIN_SHOWN} applicants: a rate over fewer moves by chance."
    )
    quotable = summary[summary["quotable"]]
    if len(quotable):
        spread = (quotable["riskiest_rate"] - quotable["safest_rate"]).idxmax()
        top = quotable.loc[spread]
        finding = (
            f"The default rate differs most across {spread}: {percent(top['riskiest_rate'])} for '{top['riskiest']}' "
            f"({top['riskiest_count']} applicants) against {percent(top['safest_rate'])} for '{top['safest']}' "
            f"({top['safest_count']})"
        )
    else:  # a small file of your own
        finding = f"No attribute has two categories of {MIN_SHOWN}+ applicants, so no rate is quoted (too few to trust)"
    found.plot(
        "attributes",
        attributes_figure(bins, y, list(summary.index)),
        f"{finding}; the dashed line is the overall rate, {percent(y.mean())}. Panels in order of IV.",
    )


def information_value(found: Report, bins: pd.DataFrame, y: pd.Series, summary: pd.DataFrame) -> None:
    """3. How well each attribute alone separates defaulters from payers, against chance; leakage suspects."""
    found.section("3. Information Value and weight of evidence")
    found.text(
        "IV = Σ (share of payers − share of defaulters) × WoE over an attribute's categories, with WoE = ln(share "
        "of payers / share of defaulters). Bands (Siddiqi 2006, *Credit Risk Scorecards*): < 0.02 useless, 0.02 to "
        "0.1 weak, 0.1 to 0.3 medium, 0.3 to 0.5 strong, 0.5 to 1 very strong (check it is known when the "
        f"applicant applies, not recorded after the loan went bad), > {LEAK_IV:g} suspicious. Chance alone gives an "
        "attribute of k categories an IV of about (k − 1)(1/payers + 1/defaulters): on a small file, a 'weak' or "
        f"'medium' IV can be noise. An attribute is within noise when the chi-squared test of its categories "
        f"against the target has p ≥ {CHANCE_P}. AUC alone: the attribute's own default rates used as a score. A "
        f"leakage suspect is beyond noise with AUC alone ≥ {LEAK_AUC} or IV > {LEAK_IV:g}: it predicts too well "
        "for one attribute."
    )
    best = summary.index[0]
    suspects = list(summary.index[summary["leakage_suspect"]])
    noise = list(summary.index[~summary["beyond_chance"]])
    very_strong = list(summary.index[(summary["band"] == "very strong") & ~summary["leakage_suspect"]])
    notes = [
        f"leakage suspects to check: {', '.join(suspects)}" if suspects
        else f"no leakage suspect (AUC alone ≥ {LEAK_AUC} or IV > {LEAK_IV:g})",
        f"very strong, check each is known at application time: {', '.join(very_strong)}" if very_strong else "",
        f"{len(noise)} of {len(summary)} within noise (χ² p ≥ {CHANCE_P})" + (f": {', '.join(noise)}" if noise else ""),
    ]  # fmt: skip
    found.plot(
        "information_value",
        iv_figure(summary),
        f"{best} separates best: IV {summary.loc[best, 'iv']:.2f} ({summary.loc[best, 'band']}; chance alone gives "
        f"about {summary.loc[best, 'chance_iv']:.3f}), AUC alone {summary.loc[best, 'auc']:.2f}; "
        + "; ".join(note for note in notes if note)
        + ".",
    )
    found.table(
        ["attribute", "IV", "band", "IV by chance", "χ² p", "AUC alone", "riskiest category", "safest category",
         "leakage suspect"],
        [[name, f"{s['iv']:.3f}", s["band"] if s["beyond_chance"] else f"{s['band']} (within noise)",
          f"{s['chance_iv']:.3f}", _p(s["chi2_p"]), f"{s['auc']:.2f}", *category_cells(s),
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
    found.numbers["within_noise"] = noise


def category_cells(s: pd.Series) -> list[str]:
    """The riskiest and safest category of an attribute, for the table: rate of count, and a note when no two
    categories have MIN_SHOWN applicants (the rates are then over a handful)."""
    few = "" if s["quotable"] else f" (under {MIN_SHOWN})"
    return [f"{s[k]}: {percent(s[f'{k}_rate'])} of {s[f'{k}_count']}{few}" for k in ("riskiest", "safest")]


def _p(p: float) -> str:
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def cramers_v(a: pd.Series, b: pd.Series) -> float:
    """Cramér's V of two categorical columns, 0 = independent, 1 = the same information, bias-corrected (Bergsma
    2013): the plain sqrt(chi^2 / (n (min(r, k) - 1))) is above 0 for unrelated columns on small data.
        phi^2~ = max(0, chi^2/n - (r-1)(k-1)/(n-1));  r~ = r - (r-1)^2/(n-1), k~ likewise
        V~ = sqrt(phi^2~ / min(r~ - 1, k~ - 1))"""
    ka, kb = len(a.cat.categories), len(b.cat.categories)
    cells = np.bincount(a.cat.codes.to_numpy() * kb + b.cat.codes.to_numpy(), minlength=ka * kb)
    observed = cells.reshape(ka, kb).astype(float)  # (categories of a, categories of b)
    observed = observed[observed.sum(axis=1) > 0][:, observed.sum(axis=0) > 0]  # categories nobody is in: none
    n, (r, k) = observed.sum(), observed.shape
    if min(r, k) < 2 or n < 2:
        return 0.0
    expected = observed.sum(axis=1, keepdims=True) * observed.sum(axis=0, keepdims=True) / n
    chi2 = ((observed - expected) ** 2 / expected).sum()
    phi2 = max(0.0, chi2 / n - (r - 1) * (k - 1) / (n - 1))
    r_corrected, k_corrected = r - (r - 1) ** 2 / (n - 1), k - (k - 1) ** 2 / (n - 1)
    denominator = min(r_corrected - 1, k_corrected - 1)
    return float(np.sqrt(phi2 / denominator)) if denominator > 0 else 0.0


def association(found: Report, bins: pd.DataFrame, names: list[str]) -> np.ndarray:
    """4. Cramér's V between every pair of attributes: pairs that carry the same information. Returns V."""
    found.section("4. How the attributes go together")
    v = np.eye(len(names))
    for i in range(len(names)):
        for j in range(i):
            v[i, j] = v[j, i] = cramers_v(bins[names[i]], bins[names[j]])
    pairs = sorted(((v[i, j], names[i], names[j]) for i in range(len(names)) for j in range(i)), reverse=True)
    (v1, a1, b1), (v2, a2, b2) = pairs[0], pairs[1]
    found.plot(
        "association",
        association_figure(v, names),
        f"The most associated pair is {a1} and {b1} (Cramér's V {v1:.2f}, bias-corrected), then {a2} and {b2} "
        f"({v2:.2f}): a pair this close tells the model much the same thing twice, and a linear model's weights "
        "split between them.",
    )
    found.numbers["association"] = {f"{a} / {b}": float(value) for value, a, b in pairs[:10]}
    return v


def short(label: object, width: int = 16) -> str:
    text = str(label)
    return text if len(text) <= width else text[: width - 1] + "…"


def sensitive(found: Report, develop: pd.DataFrame, v: np.ndarray, names: list[str]) -> None:
    """5. The sensitive attributes' default rates (the fairness report compares approvals across these groups),
    and the attributes that stand in for them."""
    found.section("5. Sensitive attributes and their base rates")
    y = develop[data.TARGET]
    groups = data.sensitive_features(develop)
    rates = {column: y.groupby(groups[column]).agg(["mean", "size"]).sort_values("mean") for column in groups.columns}
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


def iv_figure(summary: pd.DataFrame) -> Figure:
    """Information Value per attribute, coloured by Siddiqi's band (grey within noise), with the band edges and
    the IV that chance alone gives each attribute (its number of categories)."""
    colours = {
        "useless": "#bbbbbb",
        "weak": "#9ecae1",
        "medium": "#4292c6",
        "strong": "#08519c",
        "very strong": "#ff7f0e",
        "suspicious": "#d62728",
    }
    ordered = summary.sort_values("iv")
    fig = Figure(figsize=(7, 0.3 * len(ordered) + 1.5))
    ax = fig.subplots()
    bars = [colours[b] if real else colours["useless"] for b, real in zip(ordered["band"], ordered["beyond_chance"],
                                                                          strict=True)]  # fmt: skip
    ax.barh(ordered.index, ordered["iv"], color=bars)
    ax.scatter(ordered["chance_iv"], ordered.index, marker="|", s=120, color="black", zorder=3)
    for upper, _ in IV_BANDS[:-1]:
        if upper < ordered["iv"].max() * 1.2:  # the edges within the plot: 1.0 would squash a German Credit plot
            ax.axvline(upper, color="grey", linestyle=":", linewidth=0.8)
            ax.text(upper, len(ordered) - 0.4, f" {upper:g}", fontsize=7, color="grey")
    ax.set(xlabel="Information Value (development part)", title="Which attributes separate defaulters from payers?")
    handles = [Patch(color=c, label=n) for n, c in colours.items()]
    handles[0] = Patch(color=colours["useless"], label="useless or within noise")
    handles.append(ax.scatter([], [], marker="|", s=120, color="black", label="IV by chance"))
    ax.legend(handles=handles, loc="lower right", fontsize=8)
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
