"""Explore the price series before forecasting it: a data report, with what each plot shows computed from the data.

    $ make explore PROJECT=time_series
    $ python -m projects.time_series.explore [--data prices.csv --set data.price_column=Close] [--out FOLDER]

Reads the prices through data.load, as train.py does (so --data explores your own file the same way), and
writes runs/time_series-explore/: report.md (it reads on its own), report.json (its numbers) and plots/.
1. the prices and the daily log returns the models forecast;
2. the returns against a normal distribution: fat tails (excess kurtosis, the QQ plot, Jarque-Bera), which
   is why the volatility models use Student's t;
3. the autocorrelation of returns (with bands robust to volatility clustering) and of squared returns:
   direction is barely predictable, the size of a move is, which is what GARCH models;
4. volatility clustering: calm and wild spells, and how often a large move follows a large move (a binomial
   test against independent days);
5. gaps in the calendar: missing weeks that a model would read as one long day.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy import stats
from statsmodels.stats.diagnostic import acorr_ljungbox
from statsmodels.tsa.stattools import acf

from mlstarter import paths
from mlstarter.datasets import DataError
from mlstarter.explore import Report, explore_parser, percent, write
from mlstarter.scripts import load_config, run_script

from . import data
from .config import Config

PROJECT = paths.project_name(__package__)
LAGS = 20  # autocorrelation up to a trading month: the memory GARCH-type models capture
MIN_RETURNS = 4 * LAGS  # Box & Jenkins: estimate autocorrelations up to a quarter of the series' length at most
LARGE = 0.95  # a "large move": |return| above this quantile of the series' own |returns| (the top 5% of days)
CLUSTERED = 3  # squared returns' Ljung-Box Q this many times the returns': "far more predictable" in the caption
SIGMAS = 3  # a move beyond 3 standard deviations: a normal gives it on 0.27% of days
FAT_KURTOSIS = 1.0  # excess kurtosis above which the tails count as fat (Student's t with 10 degrees of freedom: 1)
SIGNIFICANT = 0.01  # p under which a test's verdict is stated: of a hundred series without the effect, one claims it


def report(cfg: Config) -> Report:
    """The data report of the configured prices (the S&P 500 series in `arch`, or --data), built in memory."""
    prices = data.load(cfg).prices
    price, r = prices.frame["price"], prices.returns  # r: daily log returns in percent, 100 * log(P_t / P_t-1)
    window = cfg.volatility.historical_window  # days of each realised volatility (section 4)
    needed = max(MIN_RETURNS, window + 1)
    if len(r) < needed:
        raise DataError(
            f"{prices.source}: {len(r)} daily returns; the report needs at least {needed} ({LAGS} lags of "
            f"autocorrelation want 4 times as many days, Box & Jenkins' rule, and a {window}-day volatility its window)"
        )
    first, last = price.index[0].date(), price.index[-1].date()
    found = Report(PROJECT, f"{prices.source}: {len(price):,} daily prices, {first} to {last}.")
    prices_and_returns(found, price, r)
    distribution(found, r)
    autocorrelation(found, r)
    volatility_clustering(found, r, window)
    calendar_gaps(found, price, prices.gaps, cfg.data.max_gap_days)
    return found


def prices_and_returns(found: Report, price: pd.Series, r: pd.Series) -> None:
    """1. The price series, and the daily log returns the models forecast."""
    found.section("1. Prices and returns")
    first, last = price.index[0].date(), price.index[-1].date()
    found.plot(
        "series",
        series_figure(price, r),
        f"From {price.iloc[0]:,.2f} on {first} to {price.iloc[-1]:,.2f} on {last}; the largest daily fall "
        f"{r.min():.1f}% on {r.idxmin().date()}, the largest rise {r.max():+.1f}% on {r.idxmax().date()}. The models "
        "forecast the returns (bottom), which hover around 0, not the price level (top), which wanders.",
    )
    found.numbers["series"] = {
        "prices": len(price),
        "first_date": str(first),
        "last_date": str(last),
        "min_return": float(r.min()),
        "min_return_date": str(r.idxmin().date()),
        "max_return": float(r.max()),
        "max_return_date": str(r.idxmax().date()),
    }


def distribution(found: Report, r: pd.Series) -> None:
    """2. The returns against a normal with the same mean and spread: fat tails or not."""
    found.section("2. Returns against the normal distribution")
    mean, sd = float(r.mean()), float(r.std())
    kurtosis, skew = float(stats.kurtosis(r)), float(stats.skew(r))  # excess kurtosis: 0 for a normal
    jb = stats.jarque_bera(r)  # JB = n/6 (skew^2 + kurtosis^2 / 4), chi^2 with 2 degrees of freedom if normal
    beyond = float((np.abs(r - mean) > SIGMAS * sd).mean())
    normal_beyond = float(2 * stats.norm.sf(SIGMAS))  # 0.27%
    fat = kurtosis > FAT_KURTOSIS and jb.pvalue < SIGNIFICANT
    found.plot(
        "distribution",
        distribution_figure(r, mean, sd),
        f"Excess kurtosis {kurtosis:.1f} (a normal has 0), skewness {skew:.2f}: {percent(beyond, 2)} of days move more "
        f"than {SIGMAS} standard deviations, {beyond / normal_beyond:.1f}x the normal's {percent(normal_beyond, 2)}; "
        + ("the QQ plot's ends leave the line: fat tails." if fat else
           f"the QQ plot's ends stay near the line: no clear sign of fat tails (that takes excess kurtosis over "
           f"{FAT_KURTOSIS:g} and Jarque-Bera p under {SIGNIFICANT}).")
        + f" Jarque-Bera test of normality: p {_p(jb.pvalue)}.",
    )  # fmt: skip
    found.text(
        f"Mean {mean:.3f}% a day, standard deviation {sd:.2f}%. "
        + ("A normal with the same mean and spread (the red line) has too few calm days and far too few extreme "
           "ones: a model that assumes it underrates crashes. The volatility models use Student's t (config: "
           "volatility.distribution) for this reason." if fat else
           "A normal with the same mean and spread (the red line) describes these returns' tails about as well as "
           "any: the volatility models' Student's t (config: volatility.distribution) costs little here, as it "
           "comes close to the normal when its degrees of freedom are many.")
    )  # fmt: skip
    found.numbers["distribution"] = {
        "mean": mean,
        "sd": sd,
        "skewness": skew,
        "excess_kurtosis": kurtosis,
        "share_beyond_3_sd": beyond,
        "normal_share_beyond_3_sd": normal_beyond,
        "jarque_bera": float(jb.statistic),
        "jarque_bera_p": float(jb.pvalue),
        "fat_tails": bool(fat),
    }


def robust_bands(r: pd.Series, lags: int) -> np.ndarray:
    """(lags,) the 95% band of each autocorrelation of r when r has no autocorrelation but its variance moves
    (volatility clustering), the heteroskedasticity-robust standard error (x: r minus its mean):
        band_k = 1.96 sqrt(sum_t x_t^2 x_(t-k)^2) / sum_t x_t^2
    For independent data it is the usual 1.96 / sqrt(n); where large moves cluster it is wider."""
    x = (r - r.mean()).to_numpy()
    return np.array([1.96 * np.sqrt((x[k:] ** 2 * x[:-k] ** 2).sum()) / (x**2).sum() for k in range(1, lags + 1)])


def autocorrelation(found: Report, r: pd.Series) -> None:
    """3. The autocorrelation of returns (direction) and of squared returns (size): why GARCH."""
    found.section("3. Autocorrelation: direction against size")
    lags = LAGS
    acf_r = acf(r, nlags=lags, fft=True)[1:]  # (lags,) corr(r_t, r_t-k) for k = 1..lags
    acf_r2 = acf(r**2, nlags=lags, fft=True)[1:]  # the same for squared returns: the size of the move
    band = 1.96 / np.sqrt(len(r))  # 95% band of an autocorrelation of independent data
    robust = robust_bands(r, lags)  # (lags,) the same, for returns whose variance moves
    # Ljung-Box Q = n(n+2) sum_k acf_k^2 / (n-k), chi^2(lags) for independent data; the robust Q* = sum_k
    # (acf_k / se_k)^2 with the robust standard errors, chi^2(lags) for returns uncorrelated but clustered
    ljung = acorr_ljungbox(r, lags=[lags]), acorr_ljungbox(r**2, lags=[lags])
    (q_r, p_r), (q_r2, p_r2) = ((float(t["lb_stat"].iloc[0]), float(t["lb_pvalue"].iloc[0])) for t in ljung)
    q_robust = float(((acf_r / (robust / 1.96)) ** 2).sum())
    p_robust = float(stats.chi2.sf(q_robust, lags))
    outside, outside_iid = int((np.abs(acf_r) > robust).sum()), int((np.abs(acf_r) > band).sum())
    garch = q_r2 > CLUSTERED * q_r and p_r2 < SIGNIFICANT
    verdict = (
        "the size of a move is predictable from recent sizes far more than its direction from recent directions. "
        "That is what GARCH models: the variance."
        if garch
        else "in this series the size of a move is not clearly more predictable than its direction: a GARCH model "
        "has little more to work with than the baselines."
    )
    found.plot(
        "autocorrelation",
        acf_figure(acf_r, acf_r2, robust, band),
        f"Returns: lag 1 {acf_r[0]:+.2f}, {outside} of {lags} lags outside their 95% band (±{robust.min():.3f} to "
        f"±{robust.max():.3f}, robust to volatility clustering; the ±{band:.3f} of independent data would put "
        f"{outside_iid} outside), robust Q({lags}) {q_robust:,.1f} (p {_p(p_robust)}; Ljung-Box Q {q_r:,.0f} assumes "
        f"independent returns and overstates). Squared returns: lag 1 {acf_r2[0]:+.2f}, "
        f"{int((np.abs(acf_r2) > band).sum())} of {lags} outside ±{band:.3f}, Ljung-Box Q({lags}) {q_r2:,.0f} "
        f"(p {_p(p_r2)}): {verdict}",
    )
    found.text(
        "The band of an autocorrelation assumes independent data; returns are not (their variance clusters), and "
        "the usual ±1.96/√n band and Ljung-Box Q then flag lags by mistake. The returns' bands here use the "
        "heteroskedasticity-robust standard error √(Σ x_t² x_{t−k}²) / Σ x_t²; squared returns keep the plain band, "
        "as the question there is whether they are independent."
    )
    found.numbers["autocorrelation"] = {
        "lags": lags,
        "band": float(band),
        "robust_bands": [float(b) for b in robust],
        "returns": [float(x) for x in acf_r],
        "squared_returns": [float(x) for x in acf_r2],
        "returns_outside_robust_band": outside,
        "returns_outside_iid_band": outside_iid,
        "robust_q_returns": q_robust,
        "robust_p_returns": p_robust,
        "ljung_box_q_returns": q_r,
        "ljung_box_q_squared_returns": q_r2,
        "ljung_box_p_returns": p_r,
        "ljung_box_p_squared_returns": p_r2,
        "garch_verdict": bool(garch),
    }


def volatility_clustering(found: Report, r: pd.Series, window: int) -> None:
    """4. Realised volatility over time, and whether a large move follows a large move more than by chance."""
    found.section("4. Volatility clustering")
    volatility = data.realised_volatility(r, window)  # annualised %, sd of the last `window` days * sqrt(252)
    large = (r.abs() > r.abs().quantile(LARGE)).to_numpy()
    followed, large_days = int(large[1:][large[:-1]].sum()), int(large[:-1].sum())  # k of m large days
    after_large = followed / large_days if large_days else float("nan")
    # binomial test: k of m large days followed by another, if each next day were large with chance 1 - LARGE
    p = float(stats.binomtest(followed, large_days, 1 - LARGE, alternative="greater").pvalue) if large_days else 1.0
    clustered = after_large > CLUSTERED * (1 - LARGE) and p < SIGNIFICANT
    found.plot(
        "volatility",
        volatility_figure(volatility, window),
        f"{window}-day volatility ran from {volatility.min():.0f}% a year ({volatility.idxmin().date()}) to "
        f"{volatility.max():.0f}% ({volatility.idxmax().date()}). After a day in the top {percent(1 - LARGE)} of moves, "
        f"the next day is in it too {percent(after_large)} of the time ({followed} of {large_days}), against "
        f"{percent(1 - LARGE)} if days were independent (binomial test p {_p(p)})"
        + (": calm and wild spells last." if clustered else ": no clear sign of spells."),
    )
    found.numbers["volatility"] = {
        "window_days": window,
        "min": float(volatility.min()),
        "min_date": str(volatility.idxmin().date()),
        "max": float(volatility.max()),
        "max_date": str(volatility.idxmax().date()),
        "large_after_large": after_large,
        "large_share": float(large.mean()),
        "large_after_large_p": p,
        "clustered": bool(clustered),
    }


def calendar_gaps(found: Report, price: pd.Series, gaps: list[str], max_gap_days: int) -> None:
    """5. Gaps in the calendar: a missing stretch that a model would read as one long day."""
    found.section("5. Gaps")
    days_apart = np.asarray((price.index[1:] - price.index[:-1]).days)  # calendar days between consecutive rows
    steps = pd.Series(days_apart).value_counts().sort_index()  # days apart -> how many times
    usual = int(steps.idxmax())
    found.plot(
        "gaps",
        gaps_figure(steps, max_gap_days),
        f"Consecutive prices are usually {usual} calendar day{'s' if usual != 1 else ''} apart "
        f"({percent(steps.max() / steps.sum())} of steps); {len(gaps)} gap{'s are' if len(gaps) != 1 else ' is'} "
        f"longer than {max_gap_days} days (data.max_gap_days)"
        + (f", the longest {int(steps.index.max())} days." if len(gaps) else "."),
    )
    if gaps:
        found.text("The gaps (a model reads the return across one as a single day's):")
        found.table(["gap"], [[g] for g in gaps[:20]])
        if len(gaps) > 20:
            found.text(f"... and {len(gaps) - 20} more (report.json lists them all).")
    found.numbers["gaps"] = {
        "steps_days": {str(int(k)): int(v) for k, v in steps.items()},
        "max_gap_days": max_gap_days,
        "gaps": gaps,
    }


def _p(p: float) -> str:
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def series_figure(price: pd.Series, r: pd.Series) -> Figure:
    fig = Figure(figsize=(9, 5.5))
    top, bottom = fig.subplots(2, 1, sharex=True)
    top.plot(price.index, price, linewidth=0.8)
    top.set(yscale="log", ylabel="price (log scale)", title="The series")
    bottom.plot(r.index, r, linewidth=0.5, color="#4C72B0")
    bottom.set(ylabel="daily log return %")
    return fig


def distribution_figure(r: pd.Series, mean: float, sd: float) -> Figure:
    """A histogram of the returns (log counts, so the tails show) against the normal, and a normal QQ plot."""
    fig = Figure(figsize=(10, 4))
    hist, qq = fig.subplots(1, 2)
    edges = np.linspace(r.min(), r.max(), 80)
    density, _, _ = hist.hist(r, bins=edges, density=True, color="#4C72B0", label="returns")
    hist.plot(edges, stats.norm.pdf(edges, mean, sd), color="tab:red", label="normal, same mean and sd")
    hist.set_ylim(density[density > 0].min() / 3, density.max() * 3)  # down to one day in a bin: the tails show
    hist.set(
        yscale="log", xlabel="daily log return %", ylabel="density (log scale)", title="Returns against the normal"
    )
    hist.legend(fontsize=7, loc="upper left")
    (theoretical, ordered), (slope, intercept, _) = stats.probplot(r, dist="norm")
    qq.scatter(theoretical, ordered, s=4, color="#4C72B0")
    qq.plot(theoretical, slope * theoretical + intercept, color="tab:red")
    qq.set(xlabel="normal quantiles", ylabel="return quantiles %", title="QQ plot: fat tails bend away")
    return fig


def acf_figure(acf_r: np.ndarray, acf_r2: np.ndarray, robust: np.ndarray, band: float) -> Figure:
    """The autocorrelations of returns (their robust band, one per lag) and of squared returns (the plain band)."""
    fig = Figure(figsize=(10, 3.8))
    lags = np.arange(1, len(acf_r) + 1)
    returns, squared = fig.subplots(1, 2, sharey=True)
    for ax, values, title in ((returns, acf_r, "returns"), (squared, acf_r2, "squared returns")):
        ax.bar(lags, values, color="#4C72B0")
        ax.axhline(0, color="black", linewidth=0.6)
        ax.set(xlabel="lag (trading days)", title=f"Autocorrelation of {title}")
    edges = np.append(lags - 0.5, lags[-1] + 0.5)
    returns.stairs(robust, edges, baseline=-robust, fill=True, color="grey", alpha=0.25,
                   label="95% band, robust to clustering")  # fmt: skip
    returns.axhline(band, color="grey", linestyle=":", linewidth=0.8, label="95% band if independent")
    returns.axhline(-band, color="grey", linestyle=":", linewidth=0.8)
    squared.axhspan(-band, band, color="grey", alpha=0.25, label="95% band if independent")
    returns.set_ylabel("autocorrelation")
    returns.legend(fontsize=8)
    squared.legend(fontsize=8)
    return fig


def volatility_figure(volatility: pd.Series, window: int) -> Figure:
    fig = Figure(figsize=(9, 3.5))
    ax = fig.subplots()
    ax.plot(volatility.index, volatility, linewidth=0.8, color="#4C72B0")
    ax.axhline(volatility.median(), color="grey", linestyle="--", linewidth=0.8, label="median")
    ax.set(ylabel="annualised volatility %", title=f"{window}-day realised volatility: calm and wild spells")
    ax.legend(fontsize=8)
    return fig


def gaps_figure(steps: pd.Series, max_gap: int) -> Figure:
    fig = Figure(figsize=(7, 3.5))
    ax = fig.subplots()
    ax.bar(
        steps.index.astype(int), steps.to_numpy(), color=["tab:red" if d > max_gap else "#4C72B0" for d in steps.index]
    )
    ax.set_yscale("log")
    ax.set(xlabel="calendar days between consecutive prices", ylabel="steps (log scale)",
           title=f"Steps between rows (red: longer than {max_gap} days)")  # fmt: skip
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
