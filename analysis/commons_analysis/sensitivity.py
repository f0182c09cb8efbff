"""Global sensitivity analysis: Sobol indices (Saltelli/Jansen) and Morris elementary effects.

Two halves, usable apart:

* design generators (`saltelli_matrices`, `saltelli_runs`, `morris_trajectories`) that produce the
  sample matrices a `sweep` with design "sobol" or "morris" should run, so the C++ sweep can be
  checked against them and tests can evaluate known functions (Ishigami) on them;
* estimators (`sobol_indices`, `morris_indices`) that take model outputs and the matrices
  explicitly, so they do not depend on how a file orders its runs.

`sensitivity_from_sweep` ties them to a sweep file. It assumes the Saltelli layout of DESIGN.md §7:
with N base samples and k parameters a sobol sweep's runs (of each replicate, in run order) are A
(N rows), B (N rows), then AB_1 ... AB_k (N rows each), where AB_i is A with column i taken from B.
It checks that assumption on the parameter columns and says so when it does not hold. A morris sweep's
runs are its trajectories one after another, k + 1 runs each.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import qmc

from .load import final_values, load_dataset

#: Analytic indices of the Ishigami function with a = 7, b = 0.1 (Saltelli et al. 2008, §4.10;
#: Sobol' & Levitan 1999): first order S_i and total ST_i for x1, x2, x3.
ISHIGAMI_S1 = (0.3139, 0.4424, 0.0)
ISHIGAMI_ST = (0.5576, 0.4424, 0.2437)
ISHIGAMI_BOUNDS = [(-np.pi, np.pi)] * 3


def ishigami(x: np.ndarray, a: float = 7.0, b: float = 0.1) -> np.ndarray:
    """The Ishigami test function sin x1 + a sin^2 x2 + b x3^4 sin x1 on rows of x (x_i in [-pi, pi])."""
    x = np.asarray(x, dtype=float)
    return np.sin(x[:, 0]) + a * np.sin(x[:, 1]) ** 2 + b * x[:, 2] ** 4 * np.sin(x[:, 0])


def _scale(unit: np.ndarray, bounds) -> np.ndarray:
    """Maps points of the unit cube to the parameter box `bounds` = [(lo, hi), ...]."""
    bounds = np.asarray(bounds, dtype=float)
    return bounds[:, 0] + unit * (bounds[:, 1] - bounds[:, 0])


def _unit(x: np.ndarray, bounds) -> np.ndarray:
    bounds = np.asarray(bounds, dtype=float)
    return (np.asarray(x, dtype=float) - bounds[:, 0]) / (bounds[:, 1] - bounds[:, 0])


@dataclass
class SaltelliDesign:
    """Saltelli's matrices: A and B [N, k] and AB [k, N, k] (AB[i] is A with column i from B)."""
    A: np.ndarray
    B: np.ndarray
    AB: np.ndarray

    @property
    def n(self) -> int:
        return self.A.shape[0]

    @property
    def k(self) -> int:
        return self.A.shape[1]


def saltelli_matrices(bounds, n: int, seed: int | None = None, method: str = "sobol") -> SaltelliDesign:
    """Builds A, B and the AB_i from a 2k-dimensional base sample of n points.

    method "sobol": a scrambled Sobol' sequence (scipy.stats.qmc; n should be a power of 2 to keep
    its balance); "random": independent uniform draws. The first k columns of the base give A, the
    last k give B (Saltelli 2002).
    """
    k = len(bounds)
    if method == "sobol":
        sampler = qmc.Sobol(d=2 * k, scramble=True, seed=seed)
        m = int(np.log2(n))
        base = sampler.random_base2(m) if 2 ** m == n else sampler.random(n)
    elif method == "random":
        base = np.random.default_rng(seed).random((n, 2 * k))
    else:
        raise ValueError(f"method must be 'sobol' or 'random', not {method!r}")
    A, B = _scale(base[:, :k], bounds), _scale(base[:, k:], bounds)
    AB = np.repeat(A[None], k, axis=0)
    for i in range(k):
        AB[i, :, i] = B[:, i]
    return SaltelliDesign(A, B, AB)


def saltelli_runs(design: SaltelliDesign) -> np.ndarray:
    """The design's runs in sweep order: A, B, AB_1, ..., AB_k stacked, shape [N (k + 2), k]."""
    return np.vstack([design.A, design.B, *design.AB])


def split_saltelli(values: np.ndarray, n: int, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Splits outputs (or parameter rows) in sweep order into (A part, B part, AB parts [k, N, ...])."""
    values = np.asarray(values)
    if values.shape[0] != n * (k + 2):
        raise ValueError(f"{values.shape[0]} runs do not make a Saltelli design of N = {n}, k = {k} "
                         f"(N (k + 2) = {n * (k + 2)} runs)")
    return values[:n], values[n:2 * n], values[2 * n:].reshape((k, n) + values.shape[1:])


def _sobol_point(yA: np.ndarray, yB: np.ndarray, yAB: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First-order (Saltelli 2010) and total (Jansen 1999) indices; rows may be batched in front.

    S_i  = mean(yB (yAB_i - yA)) / V,   ST_i = mean((yA - yAB_i)^2) / (2 V),
    with V the variance of yA and yB pooled. Shapes: yA, yB [..., N]; yAB [..., k, N].
    """
    variance = np.var(np.concatenate([yA, yB], axis=-1), axis=-1, ddof=1)[..., None]
    first = np.mean(yB[..., None, :] * (yAB - yA[..., None, :]), axis=-1) / variance
    total = 0.5 * np.mean((yA[..., None, :] - yAB) ** 2, axis=-1) / variance
    return first, total


def sobol_indices(yA, yB, yAB, names=None, n_boot: int = 1000, confidence: float = 0.95,
                  seed: int | None = 0) -> pd.DataFrame:
    """Sobol first-order S1 and total ST indices with percentile bootstrap confidence intervals.

    yA, yB: outputs on A and B [N]; yAB: outputs on AB_i [k, N]. The bootstrap resamples the N
    base rows (the same rows for A, B and every AB_i, as the estimator pairs them) `n_boot` times.
    Returns one row per parameter: S1, S1_low, S1_high, ST, ST_low, ST_high.
    """
    yA, yB, yAB = (np.asarray(v, dtype=float) for v in (yA, yB, yAB))
    k, n = yAB.shape
    names = list(names) if names is not None else [f"x{i + 1}" for i in range(k)]
    first, total = _sobol_point(yA, yB, yAB)
    frame = pd.DataFrame({"parameter": names, "S1": first, "ST": total})
    if n_boot:
        rows = np.random.default_rng(seed).integers(0, n, size=(n_boot, n))
        boot_first, boot_total = _sobol_point(yA[rows], yB[rows], np.moveaxis(yAB[:, rows], 0, 1))
        tail = 100 * (1 - confidence) / 2
        for name, boot in (("S1", boot_first), ("ST", boot_total)):
            frame[f"{name}_low"], frame[f"{name}_high"] = np.percentile(boot, [tail, 100 - tail], axis=0)
    columns = ["parameter"] + [c for s in ("S1", "ST") for c in (s, f"{s}_low", f"{s}_high") if c in frame]
    return frame[columns]


@dataclass
class MorrisDesign:
    """Morris trajectories: X [r (k + 1), k] in parameter units, trajectory after trajectory."""
    X: np.ndarray
    trajectories: int
    levels: int
    bounds: np.ndarray

    @property
    def delta(self) -> float:
        """The step on the unit cube, levels / (2 (levels - 1)) (Morris 1991)."""
        return self.levels / (2 * (self.levels - 1))


def morris_trajectories(bounds, trajectories: int, levels: int = 4, seed: int | None = None) -> MorrisDesign:
    """Random one-at-a-time trajectories on a `levels`-level grid (Morris 1991).

    Each trajectory starts at a random grid point and moves every parameter once, in random order,
    by +-delta (delta = levels / (2 (levels - 1)), so every point stays on the grid; levels should
    be even). Returns k + 1 points per trajectory.
    """
    if levels < 2 or levels % 2:
        raise ValueError("levels must be even and at least 2")
    k = len(bounds)
    rng = np.random.default_rng(seed)
    delta = levels / (2 * (levels - 1))
    low_starts = np.arange(levels // 2) / (levels - 1)  # grid points from which +delta stays <= 1
    points = []
    for _ in range(trajectories):
        up = rng.random(k) < 0.5
        start = rng.choice(low_starts, size=k)
        x = np.where(up, start, start + delta)
        points.append(x.copy())
        for i in rng.permutation(k):
            x[i] += delta if up[i] else -delta
            points.append(x.copy())
    unit = np.clip(np.array(points), 0.0, 1.0)
    return MorrisDesign(_scale(unit, bounds), trajectories, levels, np.asarray(bounds, dtype=float))


def elementary_effects(X, y, trajectories: int, bounds=None) -> np.ndarray:
    """Elementary effects [trajectories, k] from runs in trajectory order.

    Each effect is the change of y over the change of the parameter that moved, measured as a
    fraction of the parameter's range (bounds; the observed min and max when None), so effects
    of parameters in different units compare. The moved parameter is read from X, not assumed.
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    k = X.shape[1]
    if X.shape[0] != trajectories * (k + 1):
        raise ValueError(f"{X.shape[0]} runs are not {trajectories} trajectories of k + 1 = {k + 1} points")
    if bounds is None:
        bounds = np.column_stack([X.min(axis=0), X.max(axis=0)])
    unit = _unit(X, bounds).reshape(trajectories, k + 1, k)
    dy = np.diff(y.reshape(trajectories, k + 1), axis=1)
    dx = np.diff(unit, axis=1)                                   # [r, k, k]: one non-zero per row
    moved = np.argmax(np.abs(dx), axis=2)                          # [r, k]
    effects = np.full((trajectories, k), np.nan)
    r_index = np.arange(trajectories)[:, None]
    effects[r_index, moved] = dy / np.take_along_axis(dx, moved[..., None], axis=2)[..., 0]
    return effects


def morris_indices(X, y, trajectories: int, bounds=None, names=None, n_boot: int = 1000,
                   confidence: float = 0.95, seed: int | None = 0) -> pd.DataFrame:
    """Morris mu, mu* (mean absolute effect) and sigma (standard deviation of the effects).

    mu* ranks influence; sigma measures non-linearity and interactions (Campolongo et al. 2007).
    Effects are per fraction of each parameter's range (see `elementary_effects`). A bootstrap over
    trajectories gives a confidence interval for mu*.
    """
    effects = elementary_effects(X, y, trajectories, bounds)
    k = effects.shape[1]
    names = list(names) if names is not None else [f"x{i + 1}" for i in range(k)]
    frame = pd.DataFrame({"parameter": names, "mu": effects.mean(axis=0),
                          "mu_star": np.abs(effects).mean(axis=0),
                          "sigma": effects.std(axis=0, ddof=1) if trajectories > 1 else np.zeros(k)})
    if n_boot and trajectories > 1:
        rows = np.random.default_rng(seed).integers(0, trajectories, size=(n_boot, trajectories))
        boot = np.abs(effects[rows]).mean(axis=1)
        tail = 100 * (1 - confidence) / 2
        frame["mu_star_low"], frame["mu_star_high"] = np.percentile(boot, [tail, 100 - tail], axis=0)
    return frame


def _check_saltelli(X: np.ndarray, n: int, k: int) -> None:
    """Raises if parameter rows are not in the assumed A, B, AB_1..AB_k layout."""
    A, B, AB = split_saltelli(X, n, k)
    for i in range(k):
        expected = A.copy()
        expected[:, i] = B[:, i]
        if not np.allclose(AB[i], expected):
            raise ValueError(f"runs {2 * n + i * n}..{2 * n + (i + 1) * n - 1} are not AB_{i + 1} "
                             "(A with column i from B): the sweep is not in the Saltelli layout "
                             "A, B, AB_1..AB_k this code assumes")


def _by_replicate(table: pd.DataFrame, params: list[str], metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Parameter rows and the metric averaged over replicates, in run order.

    Replicates of one design point share its parameters; the runs of each replicate, in run order,
    follow the design. Averaging them leaves the sampling noise of the model out of the indices.
    """
    table = table.sort_values("run")
    groups = [g for _, g in table.groupby("replicate", sort=True)] if "replicate" in table else [table]
    sizes = {len(g) for g in groups}
    if len(sizes) != 1:
        raise ValueError("replicates hold different numbers of runs (some failed?): cannot pair them")
    X = groups[0][params].to_numpy(dtype=float)
    y = np.mean([g[metric].to_numpy(dtype=float) for g in groups], axis=0)
    return X, y


def sensitivity_from_sweep(source, metric: str, n_boot: int = 1000, seed: int | None = 0) -> pd.DataFrame:
    """Sobol or Morris indices of a sweep's final `metric`, by the sweep's design.

    Uses every run (failed runs too: the design needs them all; their last finite value stands
    in) and raises if the design is neither "sobol" nor "morris". The result's attrs hold the
    design, the metric, N or the trajectory count, and the number of replicates averaged.
    """
    ds = source if hasattr(source, "attrs") and hasattr(source, "dims") else load_dataset(source)
    design = ds.attrs.get("design")
    params = list(ds.attrs.get("parameters", []))
    table = final_values(ds, complete_only=False)
    X, y = _by_replicate(table, params, metric)
    k = len(params)
    if not np.all(np.isfinite(y)):
        raise ValueError(f"{metric}: some design points have no finite value")
    if design == "sobol":
        n = int(ds.attrs.get("sweep.samples") or len(y) // (k + 2))
        _check_saltelli(X, n, k)
        yA, yB, yAB = split_saltelli(y, n, k)
        result = sobol_indices(yA, yB, yAB, names=params, n_boot=n_boot, seed=seed)
        result.attrs["samples"] = n
    elif design == "morris":
        r = int(ds.attrs.get("sweep.trajectories") or len(y) // (k + 1))
        result = morris_indices(X, y, r, names=params, n_boot=n_boot, seed=seed)
        result.attrs["trajectories"] = r
    else:
        raise ValueError(f"design {design!r} has no sensitivity indices (need 'sobol' or 'morris')")
    result.attrs.update(design=design, metric=metric, units=ds[metric].attrs.get("units", ""),
                        replicates=int(table["replicate"].nunique()) if "replicate" in table else 1)
    return result
