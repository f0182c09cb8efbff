"""Figures of runs and sweeps. Each function stands alone and returns a `Plot`: the matplotlib
figure and a DataFrame of exactly the numbers drawn, so tests (and readers) can check them.

Every function takes a file path or a Dataset from `load_dataset` where it plots series, and
plain arrays where it plots agent snapshots. Axis labels carry units; titles say what is compared.
Matplotlib runs on the Agg backend (no display needed).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import xarray as xr  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402
from scipy.stats import binned_statistic_2d  # noqa: E402

from .load import as_ensemble, final_values, label, load_dataset, parameter_units, units
from .load import metrics as series_names  # noqa: E402

#: The outcomes shown first for each model (those present and not all NaN are used).
KEY_METRICS = {
    "exchange": ["gini", "top10_share", "top1_share", "below_mean_share"],
    "cpr": ["stock", "effort", "rent", "income_gini"],
    "ishigami": ["y"],
}
#: Quantiles of the ensemble band (5-95 %) around the median.
BAND = (0.05, 0.95)
#: Grid designs with at most this many distinct values per parameter are drawn cell by cell.
MAX_GRID_LEVELS = 15


@dataclass
class Plot:
    """A figure and the numbers it shows (one DataFrame; `data.attrs` holds derived values)."""
    figure: plt.Figure
    data: pd.DataFrame
    title: str = ""
    extra: dict = field(default_factory=dict)

    def save(self, path, dpi: int = 120) -> None:
        """Writes the figure (PNG by the file's extension) and closes it."""
        self.figure.savefig(path, dpi=dpi, bbox_inches="tight")
        plt.close(self.figure)


def _dataset(source) -> xr.Dataset:
    return source if isinstance(source, xr.Dataset) else load_dataset(source)


def unit_text(unit: str | None, name: str = "") -> str:
    """A unit as it should read in a label: "1" is dimensionless, a unit named like the axis is the
    model's own unit (the exchange model's time has no physical unit)."""
    if unit in (None, "", "1"):
        return "dimensionless"
    if unit == name:
        return f"model {unit} units"
    return unit


def axis_label(ds_or_units, name: str) -> str:
    """`name (units)` from a Dataset's attributes or a {name: units} dict."""
    unit_map = units(ds_or_units) if isinstance(ds_or_units, xr.Dataset) else ds_or_units
    return f"{name} ({unit_text(unit_map.get(name), name)})"


def _time_axis(ds: xr.Dataset) -> tuple[np.ndarray, str]:
    """Values and label of the x axis: the time coordinate along step, else the step number."""
    for name in ("year", "time"):
        if name in ds.coords and ds[name].dims == ("step",):
            return ds[name].values, axis_label(ds, name)
    return ds["step"].values, "step (records)"


def key_metrics(ds: xr.Dataset, limit: int = 4) -> list[str]:
    """The model's key outcomes present in the file, else its first varying series."""
    names = [m for m in series_names(ds) if np.isfinite(ds[m].values).any()]
    preferred = [m for m in KEY_METRICS.get(ds.attrs.get("model", ""), []) if m in names]
    varying = [m for m in names if m not in preferred and np.nanstd(ds[m].values) > 0]
    return (preferred + varying)[:limit]


def band(ds: xr.Dataset, metric: str, quantiles=BAND) -> pd.DataFrame:
    """Median and quantiles of `metric` over runs, per step (NaN ignored): the band's numbers."""
    values = as_ensemble(ds)[metric].transpose("run", "step").values
    x, _ = _time_axis(ds)
    with np.errstate(all="ignore"):
        low, median, high = np.nanquantile(values, [quantiles[0], 0.5, quantiles[1]], axis=0)
    return pd.DataFrame({"step": ds["step"].values, "x": x, "median": median, "low": low,
                         "high": high, "runs": np.isfinite(values).sum(axis=0)})


def _draw_band(ax, data: pd.DataFrame, color, name: str) -> None:
    ax.fill_between(data["x"], data["low"], data["high"], color=color, alpha=0.25, linewidth=0)
    ax.plot(data["x"], data["median"], color=color, linewidth=2, label=name)


def _band_note(runs: int) -> str:
    return "1 run" if runs == 1 else f"median and {int(BAND[0] * 100)}-{int(BAND[1] * 100)} % band of {runs} runs"


def ensemble_band(source, metric: str, by: str | None = None, ax=None) -> Plot:
    """Time series of `metric`: the median over runs and its 5-95 % band, one band per value of
    the swept parameter `by` (or one band over all runs). A run file gives a single line.

    data: step, x (time), median, low, high, runs, and the `by` value when given.
    """
    ds = as_ensemble(_dataset(source))
    fig, ax = _axes(ax)
    frames = []
    groups = [(None, ds)] if by is None else [
        (value, ds.isel(run=np.flatnonzero(ds[by].values == value))) for value in np.unique(ds[by].values)]
    colors = plt.cm.viridis(np.linspace(0, 0.9, len(groups))) if by else ["C0"]
    for (value, part), color in zip(groups, colors):
        data = band(part, metric)
        name = _band_note(part.sizes["run"]) if by is None else f"{by} = {value:g}"
        _draw_band(ax, data, color, name)
        if by is not None:
            data[by] = value
        frames.append(data)
    data = pd.concat(frames, ignore_index=True)
    ax.set_xlabel(_time_axis(ds)[1])
    ax.set_ylabel(axis_label(ds, metric))
    what = _band_note(ds.sizes["run"]) if by is None else f"median and 5-95 % band per value of {by}"
    title = f"{metric} over time, {label(ds)}: {what}"
    ax.set_title(title)
    ax.legend(loc="best", fontsize=9)
    ax.grid(alpha=0.3)
    return Plot(fig, data, title)


def _axes(ax, size=(8, 4.5)):
    if ax is not None:
        return ax.figure, ax
    fig, ax = plt.subplots(figsize=size, layout="constrained")
    return fig, ax


def scenario_comparison(sources, metrics: list[str] | None = None, labels: list[str] | None = None) -> Plot:
    """Key outcomes of several files side by side: one panel per outcome, each file's median (and
    5-95 % band for a sweep) over time in its own colour.

    data: scenario, metric, step, x, median, low, high, runs (long format).
    """
    datasets = [_dataset(s) for s in sources]
    labels = labels or [label(ds) for ds in datasets]
    names = metrics or key_metrics(datasets[0])
    names = [m for m in names if any(m in ds for ds in datasets)]
    cols = min(2, len(names))
    rows = int(np.ceil(len(names) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(6.5 * cols, 3.6 * rows), layout="constrained", squeeze=False)
    frames = []
    for ax, metric in zip(axes.flat, names):
        for i, (ds, name) in enumerate(zip(datasets, labels)):
            if metric not in ds:
                continue
            data = band(ds, metric)
            _draw_band(ax, data, f"C{i}", name)
            frames.append(data.assign(scenario=name, metric=metric))
        ax.set_xlabel(_time_axis(datasets[0])[1])
        ax.set_ylabel(axis_label(datasets[0], metric))
        ax.set_title(metric)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(names):]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=9)
    compared = " vs ".join(labels)
    title = f"Key outcomes: {compared}" if len(labels) > 1 else f"Key outcomes of {compared}"
    fig.suptitle(title + " (line: median; band: 5-95 % of runs)" if any(
        "run" in ds.dims and ds.sizes["run"] > 1 for ds in datasets) else title)
    data = pd.concat(frames, ignore_index=True)
    data = data[["scenario", "metric"] + [c for c in data if c not in ("scenario", "metric")]]
    return Plot(fig, data, title)


def lorenz_points(values) -> tuple[np.ndarray, np.ndarray, float]:
    """Lorenz curve (population share, wealth share, both from 0 to 1) and the Gini coefficient.

    Gini = 1 - 2 * area under the curve (trapezoids on the n + 1 points), which for sorted
    values equals sum_i (2i - n - 1) x_i / (n sum x) exactly.
    """
    x = np.sort(np.asarray(values, dtype=float))
    x = x[np.isfinite(x)]
    cumulative = np.concatenate([[0.0], np.cumsum(x)]) / x.sum()
    population = np.linspace(0.0, 1.0, len(x) + 1)
    gini = 1.0 - 2.0 * np.trapz(cumulative, population)
    return population, cumulative, float(gini)


def lorenz_curve(values, name: str = "wealth", ax=None, what: str = "agents") -> Plot:
    """Lorenz curve of a snapshot field (wealth by default) with the line of equality; the title
    gives the Gini coefficient. data: population_share, share; attrs gini."""
    population, share, gini = lorenz_points(values)
    fig, ax = _axes(ax, size=(5.5, 5))
    ax.plot([0, 1], [0, 1], color="0.5", linestyle="--", label="equality")
    ax.plot(population, share, color="C3", linewidth=2, label=f"{name} (Gini {gini:.3f})")
    ax.set_xlabel(f"cumulative share of {what}, poorest first (dimensionless)")
    ax.set_ylabel(f"cumulative share of {name} (dimensionless)")
    title = f"Lorenz curve of {name} over {len(np.asarray(values))} {what}: Gini {gini:.3f}"
    ax.set_title(title)
    ax.set_xlim(0, 1)
    ax.legend(loc="upper left")
    ax.grid(alpha=0.3)
    data = pd.DataFrame({"population_share": population, "share": share})
    data.attrs["gini"] = gini
    return Plot(fig, data, title)


def wealth_distribution(values, name: str = "wealth", unit: str = "credits", bins: int = 40, ax=None,
                        what: str = "agents") -> Plot:
    """Histogram (probability density, log scale) of a snapshot field, with the exponential
    (Boltzmann-Gibbs) density of the same mean, the steady state of random exchange, for reference.

    data: left, right, density, exponential (the reference at bin centres).
    """
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    density, edges = np.histogram(x, bins=bins, density=True)
    centres = 0.5 * (edges[1:] + edges[:-1])
    mean = x.mean()
    reference = np.where(centres >= 0, np.exp(-centres / mean) / mean, 0.0) if mean > 0 else np.nan * centres
    fig, ax = _axes(ax)
    ax.stairs(density, edges, fill=True, alpha=0.6, color="C0", label=f"{name} of {len(x)} {what}")
    ax.plot(centres, reference, color="k", linestyle="--", label=f"exponential, mean {mean:.3g}")
    ax.set_yscale("log")
    ax.set_xlabel(f"{name} ({unit_text(unit, name)})")
    ax.set_ylabel(f"probability density (1/{unit_text(unit, name)})")
    title = f"Distribution of {name} over {what} against an exponential of the same mean"
    ax.set_title(title)
    ax.legend()
    ax.grid(alpha=0.3, which="both")
    data = pd.DataFrame({"left": edges[:-1], "right": edges[1:], "density": density, "exponential": reference})
    data.attrs["mean"] = mean
    return Plot(fig, data, title)


def _grid_or_bins(x: np.ndarray, y: np.ndarray, z: np.ndarray, bins: int):
    """Median of z per (x, y) cell: on the design's own grid when it is one, else on bins."""
    if len(np.unique(x)) <= MAX_GRID_LEVELS and len(np.unique(y)) <= MAX_GRID_LEVELS:
        table = pd.DataFrame({"x": x, "y": y, "z": z}).groupby(["y", "x"])["z"]
        stat = table.median().unstack("x")
        return stat.columns.to_numpy(), stat.index.to_numpy(), stat.to_numpy(), table.size().max(), True
    result = binned_statistic_2d(x, y, z, statistic=np.nanmedian, bins=bins)
    xc = 0.5 * (result.x_edge[1:] + result.x_edge[:-1])
    yc = 0.5 * (result.y_edge[1:] + result.y_edge[:-1])
    return xc, yc, result.statistic.T, None, False


def heat_map(source, x: str, y: str, metric: str, bins: int = 8, ax=None) -> Plot:
    """Final value of `metric` over two swept parameters: the median over replicates in each grid
    cell (a grid design), or over the runs falling in each bin (Latin hypercube and the like).

    data: rows y values, columns x values (a pivot table of the medians).
    """
    ds = _dataset(source)
    finals = final_values(ds)
    # A parameter with text values (a regime, a rule) is an axis of categories, in sorted order.
    xv, x_names = _axis_values(finals[x])
    yv, y_names = _axis_values(finals[y])
    xs, ys, z, replicates, on_grid = _grid_or_bins(xv, yv, finals[metric].to_numpy(float), bins)
    fig, ax = _axes(ax, size=(7, 5.5))
    if on_grid:
        image = ax.imshow(z, origin="lower", aspect="auto", cmap="viridis")
        ax.set_xticks(range(len(xs)), [x_names[int(v)] if x_names else f"{v:g}" for v in xs])
        ax.set_yticks(range(len(ys)), [y_names[int(v)] if y_names else f"{v:g}" for v in ys])
        if z.size <= 100:
            for (i, j), value in np.ndenumerate(z):
                if np.isfinite(value):
                    ax.text(j, i, f"{value:.3g}", ha="center", va="center", fontsize=8,
                            color="white" if value < np.nanmean(z) else "black")
    else:
        image = ax.pcolormesh(xs, ys, z, shading="nearest", cmap="viridis")
    unit_map = units(ds)
    fig.colorbar(image, ax=ax, label=f"final {axis_label(unit_map, metric)}")
    ax.set_xlabel(axis_label(_param_units(ds, x), x))
    ax.set_ylabel(axis_label(_param_units(ds, y), y))
    how = f"median of {replicates} replicates per cell" if on_grid else "median per bin of runs"
    title = f"Final {metric} by {x} and {y} ({how})"
    ax.set_title(title)
    if x_names:
        xs = [x_names[int(v)] for v in xs]
    if y_names:
        ys = [y_names[int(v)] for v in ys]
    data = pd.DataFrame(z, index=pd.Index(ys, name=y), columns=pd.Index(xs, name=x))
    return Plot(fig, data, title)


def _axis_values(column: pd.Series) -> tuple[np.ndarray, list[str] | None]:
    """Numbers for a heat-map axis: the values themselves, or category codes and their names."""
    if pd.api.types.is_numeric_dtype(column):
        return column.to_numpy(float), None
    names = sorted(column.astype(str).unique())
    codes = column.astype(str).map({name: i for i, name in enumerate(names)})
    return codes.to_numpy(float), names


def _param_units(ds: xr.Dataset, name: str) -> dict:
    """Units of a swept parameter if the file records them (`/runs/<name>` attribute)."""
    unit = ds[name].attrs.get("units") if name in ds.coords else None
    unit = unit or parameter_units().get(name)
    return {name: unit} if unit is not None else {name: "units not recorded"}


def sensitivity_bars(indices: pd.DataFrame, ax=None) -> Plot:
    """Bar chart of sensitivity indices with their confidence intervals.

    Sobol (columns S1, ST): first-order and total index per parameter; the gap between them is the
    share of variance due to interactions. Morris (column mu_star): mu* and sigma per parameter.
    data: the indices as given.
    """
    fig, ax = _axes(ax)
    names = list(indices["parameter"])
    position = np.arange(len(names))
    metric = indices.attrs.get("metric", "the output")
    if "S1" in indices:
        pairs = [("S1", "first order S1"), ("ST", "total ST")]
        ax.set_ylabel("share of output variance (dimensionless)")
        title = f"Sobol indices of final {metric}: share of its variance due to each parameter"
    else:
        pairs = [("mu_star", "mu* (mean |effect|)"), ("sigma", "sigma (non-linearity, interactions)")]
        unit = unit_text(indices.attrs.get("units"), metric)
        ax.set_ylabel(f"elementary effect ({unit} per parameter range)")
        title = f"Morris screening of final {metric}: influence (mu*) and interactions (sigma)"
    width = 0.38
    for i, (column, text) in enumerate(pairs):
        values = indices[column].to_numpy(float)
        error = None
        if f"{column}_low" in indices:
            error = np.abs(np.vstack([values - indices[f"{column}_low"], indices[f"{column}_high"] - values]))
        ax.bar(position + (i - 0.5) * width, values, width, yerr=error, capsize=4, label=text, color=f"C{i}")
    ax.set_xticks(position, names)
    ax.set_xlabel("parameter (error bars: 95 % bootstrap interval)" if any(
        c.endswith("_low") for c in indices) else "parameter")
    ax.axhline(0, color="k", linewidth=0.8)
    ax.set_title(title)
    ax.legend()
    ax.grid(alpha=0.3, axis="y")
    return Plot(fig, indices.copy(), title)


def phase_plot(source, x: str = "effort", y: str = "stock", ax=None) -> Plot:
    """Stock-effort phase plot (cpr): the trajectory of (effort, stock) coloured by time, from the
    start (circle) to the end (square). Open access spirals into the bionomic equilibrium.

    For a sweep every run is drawn (thin) and its median in bold. data: step, time, x, y (median
    over runs for a sweep).
    """
    ds = _dataset(source)
    ens = as_ensemble(ds)
    t, t_label = _time_axis(ds)
    fig, ax = _axes(ax, size=(7, 5.5))
    if ens.sizes["run"] > 1:
        for run in range(ens.sizes["run"]):
            ax.plot(ens[x].isel(run=run), ens[y].isel(run=run), color="0.7", linewidth=0.6)
    xs = np.nanmedian(ens[x].transpose("run", "step").values, axis=0)
    ys = np.nanmedian(ens[y].transpose("run", "step").values, axis=0)
    points = np.column_stack([xs, ys]).reshape(-1, 1, 2)
    lines = LineCollection(np.concatenate([points[:-1], points[1:]], axis=1), cmap="plasma", linewidth=2)
    lines.set_array(t[:-1])
    ax.add_collection(lines)
    ax.autoscale()
    fig.colorbar(lines, ax=ax, label=t_label)
    ax.plot(xs[0], ys[0], "o", color="k", label="start")
    ax.plot(xs[-1], ys[-1], "s", color="k", label="end")
    ax.set_xlabel(axis_label(ds, x))
    ax.set_ylabel(axis_label(ds, y))
    title = f"{label(ds)}: {y} against {x} over time" + (" (median of runs)" if ens.sizes["run"] > 1 else "")
    ax.set_title(title)
    ax.legend()
    ax.grid(alpha=0.3)
    data = pd.DataFrame({"step": ds["step"].values, "time": t, x: xs, y: ys})
    return Plot(fig, data, title)
