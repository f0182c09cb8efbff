"""Loaders: a commons-sim HDF5 file (a run or a sweep) as xarray and pandas objects.

A run file holds `/series/<name>` shaped [step]; a sweep file holds them shaped [run, step] and has a
`/runs` table (one 1-D column per field along `run`: run, seed, replicate, status, error and one
float64 column per varied parameter, named by its dotted name such as `exchange.chi`). The presence of
`/runs` is what marks a sweep. Every loader returns the same shapes for both so that the figures and
the sensitivity code need not care: a run is a sweep of one run once it is in a DataFrame.

Files are read with h5py rather than `xr.open_dataset(..., engine="h5netcdf")` because h5netcdf
cannot open a file that HDF5 still marks as open for writing (a killed run, see docs/output.md).
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterator

import h5py
import numpy as np
import pandas as pd
import xarray as xr

#: Columns of `/runs` that describe a run rather than a varied parameter.
RUN_FIELDS = ("run", "seed", "point", "replicate", "status", "error")
#: Names the models give the time coordinate of `/series` (docs/output.md).
TIME_NAMES = ("year", "time")
#: Attributes copied from a dataset onto its xarray variable.
VARIABLE_ATTRS = ("units", "description", "long_name")

PathLike = str | os.PathLike


class DamagedFileError(OSError):
    """A run file whose stored values do not match their checksums (`/meta/record_hashes`)."""


# The checksums of a run file's stored values (docs/output.md, "Checksums of the stored values"):
# per value, FNV-1a 64 over its flat index and its 8 bytes, both little-endian; per dataset, the
# sum of those terms modulo 2^64 over the records covered.
_FNV_OFFSET = np.uint64(0xcbf29ce484222325)
_FNV_PRIME = np.uint64(0x100000001b3)
_MASK = (1 << 64) - 1
_BLOCK = 1 << 20  # values hashed at once


def _fnv1a_words(hash_: np.ndarray, words: np.ndarray) -> np.ndarray:
    for byte in range(8):
        hash_ = (hash_ ^ ((words >> np.uint64(8 * byte)) & np.uint64(0xFF))) * _FNV_PRIME
    return hash_


def _values_checksum(values: np.ndarray) -> int:
    """The checksum of `values` (float64 or int64, in row-major order from the first record)."""
    kind = "<f8" if values.dtype.kind == "f" else "<i8"
    words = np.ascontiguousarray(values, dtype=kind).reshape(-1).view("<u8")
    total = 0
    for start in range(0, len(words), _BLOCK):
        block = words[start:start + _BLOCK]
        index = np.arange(start, start + len(block), dtype=np.uint64)
        terms = _fnv1a_words(_fnv1a_words(np.full(len(block), _FNV_OFFSET), index), block)
        total = (total + int(terms.sum(dtype=np.uint64))) & _MASK
    return total


def _slot_check(slot: np.ndarray) -> int:
    words = [int(slot[0, 0])] + [int(w) for w in slot[1:].reshape(-1)]
    hash_ = int(_FNV_OFFSET)
    for word in words:
        for byte in range(8):
            hash_ = ((hash_ ^ ((word >> (8 * byte)) & 0xFF)) * int(_FNV_PRIME)) & _MASK
    return hash_


def _record_hashes(f: h5py.File, path: PathLike) -> dict[str, tuple[int, int]]:
    """{dataset path: (records covered, checksum)} from `/meta/record_hashes`: of its two slots,
    the one that passes its own check with the higher sequence. Empty for a file without it (a
    sweep, or a run written before commons-sim kept checksums)."""
    if "meta" not in f or "record_hashes" not in f["meta"]:
        return {}
    table = f["meta/record_hashes"]
    names = [_py(n) for n in np.atleast_1d(table.attrs["datasets"])]
    slots = np.asarray(table[()], dtype=np.uint64)
    if slots.shape != (2, 1 + len(names), 2):
        raise DamagedFileError(f"run file '{path}': /meta/record_hashes does not fit the datasets it names "
                               "(damaged file)")
    valid = [slot for slot in slots if int(slot[0, 1]) == _slot_check(slot)]
    if not valid:
        raise DamagedFileError(f"run file '{path}': both slots of /meta/record_hashes fail their own check "
                               "(damaged file)")
    slot = max(valid, key=lambda s: int(s[0, 0]))
    return {"/" + name: (int(slot[1 + k, 0]), int(slot[1 + k, 1])) for k, name in enumerate(names)}


def _verified(ds: h5py.Dataset, hashes: dict, path: PathLike, n: int | None = None) -> np.ndarray:
    """The first `n` records of `ds` (all when None), after checking the records its checksum
    covers; DamagedFileError naming the file and the dataset when they do not match."""
    values = ds[()] if n is None else ds[:n]
    if ds.name not in hashes:
        return values
    records, expected = hashes[ds.name]
    covered = values[:records] if len(values) >= records else ds[:records]
    if len(covered) < records or _values_checksum(covered) != expected:
        raise DamagedFileError(f"run file '{path}': stored values of {ds.name} do not match their checksum "
                               "(damaged file)")
    return values


@contextlib.contextmanager
def open_h5(path: PathLike) -> Iterator[h5py.File]:
    """Opens a file read-only; falls back to SWMR mode for a file HDF5 marks as open for writing.

    A run killed by SIGKILL never closes its file, so HDF5 refuses a plain open ("file is already
    open for write"); a run still writing holds a lock. Both open as a SWMR reader
    (`libver="latest", swmr=True`), which sees every flushed record.
    """
    try:
        f = h5py.File(path, "r")
    except OSError as error:
        message = str(error).lower()
        if not any(s in message for s in ("open for write", "lock", "consistency flags")):
            raise
        f = h5py.File(path, "r", libver="latest", swmr=True)
    try:
        yield f
    finally:
        f.close()


def _py(value):
    """Converts an HDF5 attribute or dataset value to plain Python (str, int, float, list)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray):
        if value.ndim == 0:
            return _py(value[()])
        return [_py(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _plain_attrs(attrs) -> dict:
    """The attributes that are plain values (skips object references such as DIMENSION_LIST)."""
    out = {}
    for key in attrs:
        try:
            value = _py(attrs[key])
        except (OSError, TypeError, ValueError):
            continue
        if isinstance(value, (str, int, float, bool, list)) and not _has_reference(value):
            out[key] = value
    return out


def _has_reference(value) -> bool:
    if isinstance(value, list):
        return any(_has_reference(v) for v in value)
    return isinstance(value, (h5py.Reference, h5py.RegionReference))


def _strings(array: np.ndarray) -> np.ndarray:
    """A string dataset as an array of str (h5py gives bytes or object arrays)."""
    return np.array([_py(v) for v in array.tolist()], dtype=object)


def _read_column(dataset: h5py.Dataset) -> np.ndarray:
    """Reads a 1-D dataset, decoding strings."""
    data = dataset[()]
    if dataset.dtype.kind in ("S", "O", "U"):
        return _strings(np.atleast_1d(data))
    return np.atleast_1d(data)


def is_sweep(source) -> bool:
    """True for a sweep file (it has a `/runs` table) or a Dataset loaded from one."""
    if isinstance(source, xr.Dataset):
        return "run" in source.dims and source.attrs.get("kind") == "sweep"
    with open_h5(source) as f:
        return "runs" in f


def read_meta(path: PathLike) -> dict:
    """The attributes of `/meta` (format, model, seed, status, ...) plus `/meta/progress`."""
    with open_h5(path) as f:
        if "meta" not in f:
            return {}
        meta = _plain_attrs(f["meta"].attrs)
        if "progress" in f["meta"]:
            meta["progress"] = _py(f["meta/progress"][()])
        return meta


def read_scenario(path: PathLike) -> tuple[str, dict]:
    """The resolved scenario text and its parameters (`section.key` -> value as written)."""
    with open_h5(path) as f:
        if "scenario" not in f:
            return "", {}
        attrs = _plain_attrs(f["scenario"].attrs)
    text = attrs.pop("text", "")
    attrs.pop("file", None)
    return text, attrs


def _sweep_attrs(f: h5py.File) -> dict:
    return _plain_attrs(f["sweep"].attrs) if "sweep" in f else {}


def _runs_table(f: h5py.File) -> pd.DataFrame:
    """`/runs` as a DataFrame (one row per run), or a one-row table built from `/meta` for a run."""
    if "runs" not in f:
        meta = _plain_attrs(f["meta"].attrs) if "meta" in f else {}
        return pd.DataFrame({"run": [0], "seed": [meta.get("seed", 0)], "replicate": [0],
                             "status": [meta.get("status", "")], "error": [""]})
    columns = {name: _read_column(ds) for name, ds in f["runs"].items()
               if isinstance(ds, h5py.Dataset) and ds.ndim == 1}
    n = max((len(c) for c in columns.values()), default=0)
    table = pd.DataFrame({k: v for k, v in columns.items() if len(v) == n})
    if "run" not in table:
        table.insert(0, "run", np.arange(n))
    ordered = [c for c in RUN_FIELDS if c in table] + [c for c in table if c not in RUN_FIELDS]
    return table[ordered]


def load_runs(path: PathLike) -> pd.DataFrame:
    """One row per run: run, seed, replicate, status, error and the value of each varied parameter.

    For a single-run file it is one row with the run's seed and status, so that code written for
    sweeps works on runs too.
    """
    with open_h5(path) as f:
        return _runs_table(f)


def varied_parameters(source) -> list[str]:
    """The dotted names of the parameters a sweep varied (the non-reserved columns of `/runs`)."""
    if isinstance(source, xr.Dataset):
        return list(source.attrs.get("parameters", []))
    if isinstance(source, pd.DataFrame):
        return [c for c in source.columns if c not in RUN_FIELDS]
    return varied_parameters(load_runs(source))


def _time_name(group: h5py.Group) -> str | None:
    """The time coordinate of a group: named in the series' CF `coordinates`, else year or time."""
    for ds in group.values():
        coords = ds.attrs.get("coordinates") if isinstance(ds, h5py.Dataset) else None
        if coords is not None:
            for name in str(_py(coords)).split():
                if name in group:
                    return name
    return next((n for n in TIME_NAMES if n in group), None)


def _variable_attrs(ds: h5py.Dataset) -> dict:
    attrs = _plain_attrs(ds.attrs)
    return {k: attrs[k] for k in VARIABLE_ATTRS if k in attrs}


def _step_dims(ndim: int, sweep: bool, extra: tuple[str, ...] = ()) -> tuple[str, ...]:
    base = ("run", "step") if sweep else ("step",)
    return base + extra[: max(0, ndim - len(base))]


def _records(group: h5py.Group) -> int:
    """Records readable in every dataset (a killed run may have one dataset a record ahead)."""
    lengths = [ds.shape[-1] for ds in group.values()
               if isinstance(ds, h5py.Dataset) and ds.ndim in (1, 2) and ds.name.rsplit("/", 1)[-1] != "run"]
    return min(lengths) if lengths else 0


def load_dataset(path: PathLike, group: str = "series") -> xr.Dataset:
    """A run or sweep file's `/series` as an xarray.Dataset.

    Dims are (step,) for a run and (run, step) for a sweep. Coordinates: `step`, the time
    coordinate (`time` or `year`) along step, and for a sweep every `/runs` column along run (seed,
    replicate, status and the varied parameters by their dotted names). Each variable keeps its
    `units` and `description`. Dataset attributes: `source`, `kind` ("run" or "sweep"), `model`,
    `status`, `parameters` (varied, for a sweep), `design`, `meta.*` (all of `/meta`), `sweep.*`
    and `scenario_text`.
    """
    with open_h5(path) as f:
        g = f[group]
        sweep = "runs" in f
        n = _records(g)
        hashes = _record_hashes(f, path)
        step = _verified(g["step"], hashes, path, n)
        time_name = _time_name(g)
        coords = {"step": ("step", step)}
        if time_name:
            t = g[time_name]
            coords[time_name] = (("step",) if t.ndim == 1 else ("run", "step"),
                                 _verified(t, hashes, path, n) if t.ndim == 1 else t[..., :n],
                                 _variable_attrs(t))
        data_vars = {}
        skip = {"step", "run", time_name}
        for name, ds in g.items():
            if name in skip or not isinstance(ds, h5py.Dataset) or ds.ndim == 0:
                continue
            dims = _step_dims(ds.ndim, sweep)
            if len(dims) != ds.ndim:
                continue
            values = _verified(ds, hashes, path, n) if not sweep else ds[..., :n]
            data_vars[name] = (dims, values.astype(float), _variable_attrs(ds))
        runs = _runs_table(f)
        if sweep:
            for column in runs.columns:
                coords[column] = ("run", runs[column].to_numpy())
        attrs = _dataset_attrs(f, path, sweep, runs)
    return xr.Dataset(data_vars, coords=coords, attrs=attrs)


def _dataset_attrs(f: h5py.File, path: PathLike, sweep: bool, runs: pd.DataFrame) -> dict:
    meta = _plain_attrs(f["meta"].attrs) if "meta" in f else {}
    scenario = _plain_attrs(f["scenario"].attrs) if "scenario" in f else {}
    sweep_attrs = _sweep_attrs(f)
    attrs = {"source": str(path), "kind": "sweep" if sweep else "run",
             "model": meta.get("model", ""), "status": meta.get("status", ""),
             # /sweep names the varied parameters in design order; older or synthetic files
             # without it fall back to the non-reserved columns of /runs.
             "parameters": (list(sweep_attrs["factors"]) if "factors" in sweep_attrs
                            else varied_parameters(runs)) if sweep else [],
             "design": sweep_attrs.get("design", "run"),
             "scenario_text": scenario.get("text", "")}
    attrs.update({f"meta.{k}": v for k, v in meta.items()})
    attrs.update({f"sweep.{k}": v for k, v in sweep_attrs.items()})
    return attrs


def _dataset(source) -> xr.Dataset:
    return source if isinstance(source, xr.Dataset) else load_dataset(source)


def as_ensemble(ds: xr.Dataset) -> xr.Dataset:
    """The dataset with a `run` dimension (length 1 for a run, with its seed and status as
    coordinates along run), so that code written for sweeps works on runs too."""
    if "run" in ds.dims:
        return ds
    out = ds.expand_dims(run=[0])
    return out.assign_coords(seed=("run", [ds.attrs.get("meta.seed", 0)]), replicate=("run", [0]),
                             status=("run", [ds.attrs.get("status", "")]))


def metrics(ds: xr.Dataset) -> list[str]:
    """The series of a dataset (its data variables indexed by step)."""
    return [name for name, v in ds.data_vars.items() if "step" in v.dims]


def units(ds: xr.Dataset) -> dict[str, str]:
    """Units of every variable and coordinate that declares them."""
    out = {name: v.attrs["units"] for name, v in ds.variables.items() if "units" in v.attrs}
    return out


def load_frame(source, long: bool = False) -> pd.DataFrame:
    """A run or sweep as a tidy DataFrame.

    Wide (default): one row per (run, step), columns run, step, the time coordinate, seed,
    replicate, status, the varied parameters, then one column per series. Long (`long=True`):
    one row per (run, step, metric) with columns metric, value and units. Units of every column are
    in `df.attrs["units"]`; a run file gives run = 0.
    """
    ds = as_ensemble(_dataset(source))
    names = metrics(ds)
    frame = ds[names].to_dataframe().reset_index()
    params = list(ds.attrs.get("parameters", []))
    front = ["run", "step"] + [c for c in ds.coords if c not in ("run", "step") and c in frame]
    front += [p for p in params if p in frame and p not in front]
    frame = frame[front + [n for n in names if n not in front]]
    unit_map = units(ds)
    if long:
        frame = frame.melt(id_vars=front, value_vars=names, var_name="metric", value_name="value")
        frame["units"] = frame["metric"].map(unit_map)
    frame.attrs["units"] = unit_map
    frame.attrs["source"] = ds.attrs.get("source", "")
    return frame


def _last_finite(values: np.ndarray) -> np.ndarray:
    """The last finite value along the last axis (NaN where a row has none)."""
    finite = np.isfinite(values)
    last = values.shape[-1] - 1 - np.argmax(finite[..., ::-1], axis=-1)
    picked = np.take_along_axis(values, last[..., None], axis=-1)[..., 0]
    return np.where(finite.any(axis=-1), picked, np.nan)


def final_values(source, complete_only: bool = True) -> pd.DataFrame:
    """One row per run: its `/runs` columns and the last finite value of every series.

    This is the table sweep results are analysed from (heat maps, sensitivity). With
    `complete_only`, runs of a sweep whose status is not "complete" are left out (a failed run
    stops early and its last value is not the outcome asked about). Units in `df.attrs["units"]`.
    """
    ds = as_ensemble(_dataset(source))
    table = {c: ds[c].values for c in ds.coords if ds[c].dims == ("run",)}
    table["run"] = ds["run"].values
    for name in metrics(ds):
        table[name] = _last_finite(ds[name].transpose("run", "step").values)
    frame = pd.DataFrame(table)
    front = [c for c in RUN_FIELDS if c in frame]
    frame = frame[front + [c for c in frame if c not in front]]
    if complete_only and ds.attrs.get("kind") == "sweep" and "status" in frame:
        frame = frame[frame["status"] == "complete"].reset_index(drop=True)
    frame.attrs["units"] = units(ds)
    return frame


def load_flows(path: PathLike) -> xr.Dataset | None:
    """`/flows/matrix` [step, flow_type, sector] (or [run, step, ...]) as a Dataset; None if absent."""
    with open_h5(path) as f:
        if "flows" not in f or "matrix" not in f["flows"]:
            return None
        g = f["flows"]
        sweep = "runs" in f
        hashes = _record_hashes(f, path)
        n = g["step"].shape[0] if "step" in g else g["matrix"].shape[-3]
        coords = {"step": ("step", _verified(g["step"], hashes, path, n) if "step" in g else np.arange(n))}
        for name in ("flow_type", "sector"):
            if name in g:
                coords[name] = (name, _read_column(g[name]))
        time_name = _time_name(g)
        if time_name:
            coords[time_name] = ("step", _verified(g[time_name], hashes, path, n), _variable_attrs(g[time_name]))
        dims = _step_dims(g["matrix"].ndim, sweep, ("flow_type", "sector"))
        matrix = g["matrix"][:, :n] if sweep else _verified(g["matrix"], hashes, path, n)
        return xr.Dataset({"matrix": (dims, matrix, _variable_attrs(g["matrix"]))}, coords=coords,
                          attrs={"source": str(path)})


def load_regions(path: PathLike) -> xr.Dataset | None:
    """`/regions/<name>` [step, region] (or [run, step, region]) as a Dataset; None if absent."""
    with open_h5(path) as f:
        if "regions" not in f:
            return None
        g = f["regions"]
        sweep = "runs" in f
        hashes = _record_hashes(f, path)
        coords = {}
        if "step" in g:
            coords["step"] = ("step", _verified(g["step"], hashes, path))
        elif "series" in f and "step" in f["series"]:
            coords["step"] = ("step", f["series/step"][:])
        if "region" in g:
            coords["region"] = ("region", _read_column(g["region"]))
        data_vars = {}
        for name, ds in g.items():
            if name in ("step", "region") or not isinstance(ds, h5py.Dataset) or ds.ndim < 2:
                continue
            dims = _step_dims(ds.ndim, sweep, ("region",))
            if len(dims) == ds.ndim:
                data_vars[name] = (dims, _verified(ds, hashes, path), _variable_attrs(ds))
        if not data_vars:
            return None
        sizes = {d: s for v in data_vars.values() for d, s in zip(v[0], v[1].shape)}
        coords = {k: v for k, v in coords.items() if len(v[1]) == sizes.get(k)}
        return xr.Dataset(data_vars, coords=coords, attrs={"source": str(path)})


def load_snapshots(path: PathLike) -> dict[int, dict[str, dict[str, np.ndarray]]]:
    """Agent snapshots `/snapshots/<step>/<kind>/<field>` as {step: {kind: {field: array}}}.

    Snapshots are optional: a file without them gives an empty dict. Only the steps listed in
    `/snapshots/steps` are complete (a run killed before a planned snapshot leaves its group
    empty and unlisted), so when that list exists, the other groups are skipped.
    """
    out: dict[int, dict[str, dict[str, np.ndarray]]] = {}
    with open_h5(path) as f:
        if "snapshots" not in f:
            return out
        listed = None
        if isinstance(f["snapshots"].get("steps"), h5py.Dataset):
            listed = {int(s) for s in np.atleast_1d(f["snapshots/steps"][()])}
        for step_name, step_group in f["snapshots"].items():
            try:
                step = int(step_name)
            except ValueError:
                continue
            if listed is not None and step not in listed:
                continue
            kinds = {}
            for kind, kind_group in step_group.items():
                if isinstance(kind_group, h5py.Group):
                    kinds[kind] = {field: ds[()] for field, ds in kind_group.items()
                                   if isinstance(ds, h5py.Dataset)}
            out[step] = kinds
    return dict(sorted(out.items()))


def snapshot_values(path: PathLike, field: str = "wealth", kind: str | None = None,
                    step: int | None = None) -> tuple[int, str, np.ndarray] | None:
    """One field of one snapshot: (step, kind, values); the last step and the first kind having
    `field` unless named. None when the file has no such snapshot."""
    snapshots = load_snapshots(path)
    steps = [step] if step is not None else sorted(snapshots, reverse=True)
    for s in steps:
        for k, fields in snapshots.get(s, {}).items():
            if (kind is None or k == kind) and field in fields:
                return s, k, np.asarray(fields[field])
    return None


#: docs/parameters.md of the source tree this package sits in (generated by `commons-sim params`).
PARAMETERS_MD = Path(__file__).resolve().parents[2] / "docs" / "parameters.md"


def parameter_units(path: PathLike | None = None) -> dict[str, str]:
    """Units of every parameter (`section.key` -> unit) from the generated docs/parameters.md.

    Sweep files may not record parameter units; the parameter table does. Empty when the file is
    not there (the package used outside the source tree).
    """
    path = Path(path or os.environ.get("COMMONS_PARAMETERS_MD", PARAMETERS_MD))
    out = {}
    if not path.is_file():
        return out
    for line in path.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 4 and cells[0].startswith("`") and cells[0].endswith("`"):
            out[cells[0].strip("`")] = cells[3]
    return out


def label(ds: xr.Dataset) -> str:
    """A short name for a file in titles and legends: its file name without extension."""
    return Path(str(ds.attrs.get("source", "run"))).stem or "run"
