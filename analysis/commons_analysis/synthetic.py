"""SYNTHETIC files in the commons-sim layout, for tests and demonstrations. Not model output.

`commons-sim sweep` and the `cpr` model are not written yet, so the sweep and cpr code of this
package is exercised on files made here, in exactly the layout of DESIGN.md §6-7 and the sweep
issue: `/series/<name>` [run, step] with `/series/step` (scale of dimension 1) and `/series/run`
(scale of dimension 0), `/runs` (run, seed, replicate, status, error and one float64 column per
varied parameter), `/sweep` attributes (design, samples, replicates, trajectories, levels), `/meta`
and `/scenario`. Every file says what it is: `/meta` attribute `synthetic` and `command_line`
"synthetic: ...". The values come from toy formulas, not from the models.

    /usr/bin/python3 -m commons_analysis.synthetic DIR     writes one file of each kind into DIR
"""
from __future__ import annotations

import sys
from pathlib import Path

import h5py
import numpy as np

from .sensitivity import (ISHIGAMI_BOUNDS, ishigami, morris_trajectories, saltelli_matrices,
                          saltelli_runs)

SYNTHETIC_NOTE = "yes: written by commons_analysis.synthetic from toy formulas, not by commons-sim"
STR = h5py.string_dtype("utf-8")


def _meta(f: h5py.File, model: str, seed: int, steps: int, what: str) -> None:
    meta = f.create_group("meta")
    for key, value in {"format": "commons-sim/1", "version": "synthetic", "git_commit": "unknown",
                       "command_line": f"synthetic: {what}", "model": model, "status": "complete",
                       "start_time": "", "end_time": "", "synthetic": SYNTHETIC_NOTE}.items():
        meta.attrs.create(key, value, dtype=STR)
    meta.attrs["seed"] = np.uint64(seed)
    meta.attrs["threads"] = np.int64(1)
    meta.attrs["steps_completed"] = np.int64(steps)
    meta.attrs["wall_seconds"] = 0.0
    meta.create_dataset("progress", data=np.int64(steps))


def _scenario(f: h5py.File, model: str, parameters: dict) -> None:
    group = f.create_group("scenario")
    sections: dict[str, list[str]] = {}
    for key, value in {"sim.model": model, **parameters}.items():
        section, name = key.split(".", 1)
        sections.setdefault(section, []).append(f"{name} = {value}")
        group.attrs.create(key, str(value), dtype=STR)
    text = "# SYNTHETIC scenario (commons_analysis.synthetic): not a commons-sim run\n" + "\n".join(
        f"[{s}]\n" + "\n".join(lines) + "\n" for s, lines in sections.items())
    group.attrs.create("text", text, dtype=STR)
    group.attrs.create("file", "synthetic", dtype=STR)


def _series_group(f: h5py.File, step: np.ndarray, time_name: str, time: np.ndarray, time_units: str,
                  series: dict, runs: int | None) -> None:
    """Writes /series with dimension scales (step, and run for a sweep) and CF coordinates."""
    g = f.create_group("series")
    step_ds = g.create_dataset("step", data=np.asarray(step, dtype=np.int64))
    step_ds.make_scale("step")
    run_ds = None
    if runs is not None:
        run_ds = g.create_dataset("run", data=np.arange(runs, dtype=np.int64))
        run_ds.make_scale("run")
    t = g.create_dataset(time_name, data=np.asarray(time, dtype=float))
    t.attrs.create("units", time_units, dtype=STR)
    t.dims[0].attach_scale(step_ds)
    for name, (values, unit, description) in series.items():
        ds = g.create_dataset(name, data=np.asarray(values, dtype=float))
        ds.attrs.create("units", unit, dtype=STR)
        ds.attrs.create("description", description, dtype=STR)
        ds.attrs.create("coordinates", time_name, dtype=STR)
        if run_ds is not None:
            ds.dims[0].attach_scale(run_ds)
            ds.dims[1].attach_scale(step_ds)
        else:
            ds.dims[0].attach_scale(step_ds)


def write_sweep(path, params: dict[str, np.ndarray], series: dict, step, time, design: str,
                sweep_attrs: dict | None = None, replicate=None, seed=None, status=None,
                model: str = "exchange", time_name: str = "time", time_units: str = "time",
                base: dict | None = None) -> Path:
    """Writes a SYNTHETIC sweep file in the layout of DESIGN.md §6-7.

    params: dotted name -> value per run; series: name -> (values [run, step], units, description).
    replicate, seed, status default to 0, run + 1 and "complete".
    """
    path = Path(path)
    runs = len(next(iter(params.values())))
    replicate = np.zeros(runs, dtype=np.int64) if replicate is None else np.asarray(replicate, dtype=np.int64)
    seed = np.arange(1, runs + 1, dtype=np.uint64) if seed is None else np.asarray(seed, dtype=np.uint64)
    status = ["complete"] * runs if status is None else list(status)
    with h5py.File(path, "w", libver="latest") as f:
        _series_group(f, step, time_name, time, time_units, series, runs)
        g = f.create_group("runs")
        g.create_dataset("run", data=np.arange(runs, dtype=np.int64))
        g.create_dataset("seed", data=seed)
        g.create_dataset("replicate", data=replicate)
        g.create_dataset("status", data=np.array(status, dtype=object), dtype=STR)
        g.create_dataset("error", data=np.array([""] * runs, dtype=object), dtype=STR)
        for name, values in params.items():
            g.create_dataset(name, data=np.asarray(values, dtype=float))
        sweep = f.create_group("sweep")
        sweep.attrs.create("design", design, dtype=STR)
        sweep.attrs["replicates"] = np.int64(len(np.unique(replicate)))
        for key, value in (sweep_attrs or {}).items():
            sweep.attrs[key] = value
        _meta(f, model, 1, int(np.max(step)), f"{design} sweep of {', '.join(params)}")
        _scenario(f, model, {**(base or {}), **{k: f"{np.min(v):g}..{np.max(v):g}" for k, v in params.items()}})
    return path


def write_run(path, series: dict, step, time, model: str, time_name: str = "time",
              time_units: str = "time", parameters: dict | None = None, snapshots: dict | None = None) -> Path:
    """Writes a SYNTHETIC single-run file (the layout of docs/output.md, without /flows)."""
    path = Path(path)
    with h5py.File(path, "w", libver="latest") as f:
        _series_group(f, step, time_name, time, time_units, series, None)
        _meta(f, model, 1, int(np.max(step)), f"{model} run")
        _scenario(f, model, parameters or {})
    if snapshots:
        add_snapshots(path, snapshots)
    return path


def add_snapshots(path, snapshots: dict[int, dict[str, dict[str, np.ndarray]]]) -> None:
    """Adds agent snapshots `/snapshots/<step>/<kind>/<field>` to an existing file."""
    with h5py.File(path, "a") as f:
        root = f.require_group("snapshots")
        for step, kinds in snapshots.items():
            for kind, fields in kinds.items():
                group = root.require_group(f"{step}/{kind}")
                for field, values in fields.items():
                    group.create_dataset(field, data=np.asarray(values))


def _toy_gini(chi, saving, t, rng):
    """Toy inequality dynamics: relaxes to a level that falls with redistribution and saving."""
    level = 0.5 * (1 - saving) ** 0.5 / (1 + 8 * chi)
    return level[:, None] * (1 - np.exp(-t[None, :] / 0.4)) + rng.normal(0, 0.01, (len(chi), len(t)))


def exchange_grid_sweep(path, chi=(0.0, 0.02, 0.05, 0.1), saving=(0.0, 0.25, 0.5, 0.75),
                        replicates: int = 3, steps: int = 100, record_every: int = 5, seed: int = 0) -> Path:
    """SYNTHETIC grid sweep over exchange.chi x exchange.saving with replicates (toy formulas)."""
    rng = np.random.default_rng(seed)
    grid_chi, grid_saving = (a.ravel() for a in np.meshgrid(chi, saving, indexing="ij"))
    chi_runs = np.repeat(grid_chi, replicates)
    saving_runs = np.repeat(grid_saving, replicates)
    replicate = np.tile(np.arange(replicates), len(grid_chi))
    step = np.arange(0, steps + 1, record_every)
    t = step * 0.01
    gini = np.clip(_toy_gini(chi_runs, saving_runs, t, rng), 0, 1)
    gini[:, 0] = 0.0
    top10 = 0.1 + 0.5 * gini
    series = {"gini": (gini, "1", "Gini coefficient of wealth (SYNTHETIC)"),
              "top10_share": (top10, "1", "Share of wealth of the richest 10 % (SYNTHETIC)"),
              "mean": (np.ones_like(gini), "credits", "Mean wealth (SYNTHETIC)")}
    return write_sweep(path, {"exchange.chi": chi_runs, "exchange.saving": saving_runs}, series, step, t,
                       "grid", {"samples": np.int64(len(grid_chi))}, replicate=replicate,
                       base={"exchange.agents": 1000, "exchange.rule": "yard_sale"})


def ishigami_sobol_sweep(path, n: int = 256, seed: int = 0, replicates: int = 1) -> Path:
    """SYNTHETIC sobol sweep whose output `y` is the Ishigami function of ishigami.x1..x3.

    Runs in the Saltelli layout A, B, AB_1..AB_3 (N rows each); `y` ramps from 0 to its value
    over two records so it is a time series like any other.
    """
    design = saltelli_matrices(ISHIGAMI_BOUNDS, n, seed=seed)
    X = np.tile(saltelli_runs(design), (replicates, 1))
    y = ishigami(X)
    names = [f"ishigami.x{i + 1}" for i in range(3)]
    series = {"y": (np.column_stack([np.zeros_like(y), y]), "1", "Ishigami function (SYNTHETIC)")}
    return write_sweep(path, dict(zip(names, X.T)), series, [0, 1], [0.0, 1.0], "sobol",
                       {"samples": np.int64(n)}, replicate=np.repeat(np.arange(replicates), len(y) // replicates),
                       model="ishigami")


def ishigami_morris_sweep(path, trajectories: int = 20, levels: int = 4, seed: int = 0) -> Path:
    """SYNTHETIC morris sweep of the Ishigami function (trajectories one after another)."""
    design = morris_trajectories(ISHIGAMI_BOUNDS, trajectories, levels, seed=seed)
    y = ishigami(design.X)
    names = [f"ishigami.x{i + 1}" for i in range(3)]
    series = {"y": (np.column_stack([np.zeros_like(y), y]), "1", "Ishigami function (SYNTHETIC)")}
    return write_sweep(path, dict(zip(names, design.X.T)), series, [0, 1], [0.0, 1.0], "morris",
                       {"trajectories": np.int64(trajectories), "levels": np.int64(levels)},
                       model="ishigami")


def gordon_schaefer(r=0.5, K=1000.0, q=0.01, price=2.0, cost=6.0, adjust=0.02, S0=1000.0, E0=5.0,
                    dt=0.05, steps=4000):
    """Open-access Gordon-Schaefer dynamics by Euler steps: dS = rS(1 - S/K) - qES, dE = k (pqS - c) E.

    Effort grows while fishing pays; the orbit spirals into the bionomic equilibrium
    S* = c / (p q), E* = r (1 - S*/K) / q.
    """
    S, E = np.empty(steps + 1), np.empty(steps + 1)
    S[0], E[0] = S0, E0
    for i in range(steps):
        S[i + 1] = S[i] + dt * (r * S[i] * (1 - S[i] / K) - q * E[i] * S[i])
        E[i + 1] = max(E[i] + dt * adjust * (price * q * S[i] - cost) * E[i], 0.0)
    return S, E


def cpr_run(path, record_every: int = 10, seed: int = 0) -> Path:
    """SYNTHETIC cpr run: stock (t) and effort from open-access Gordon-Schaefer, plus a snapshot of
    harvesters' wealth (log-normal) at the last step."""
    S, E = gordon_schaefer()
    step = np.arange(0, len(S), record_every)
    dt = 0.05
    series = {"stock": (S[step], "t", "Resource stock (SYNTHETIC Gordon-Schaefer)"),
              "effort": (E[step], "effort", "Fishing effort (SYNTHETIC Gordon-Schaefer)"),
              "harvest": (0.01 * E[step] * S[step], "t/time", "Catch per unit time (SYNTHETIC)")}
    wealth = np.random.default_rng(seed).lognormal(0.0, 0.8, 500)
    return write_run(path, series, step, step * dt, "cpr", parameters={"cpr.regime": "open_access"},
                     snapshots={int(step[-1]): {"harvesters": {"wealth": wealth}}})


def main(argv=None) -> int:
    """Writes one SYNTHETIC file of each kind into the folder named on the command line."""
    argv = sys.argv[1:] if argv is None else argv
    folder = Path(argv[0] if argv else ".")
    folder.mkdir(parents=True, exist_ok=True)
    for name, make in (("synthetic_exchange_grid.h5", exchange_grid_sweep),
                       ("synthetic_ishigami_sobol.h5", ishigami_sobol_sweep),
                       ("synthetic_ishigami_morris.h5", ishigami_morris_sweep),
                       ("synthetic_cpr_run.h5", cpr_run)):
        print(make(folder / name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
