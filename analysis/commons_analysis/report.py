"""A report of one or more commons-sim files: PNG figures and one self-contained HTML page.

    /usr/bin/python3 -m commons_analysis.report FILE... [-o DIR]      (or scripts/report)

The page embeds its figures as base64 PNG, so it is one file to attach to an email or open on a
projector. It holds, per file: the key outcomes over time (median and 5-95 % band for a sweep), a
heat map of the final key outcome over the first two varied parameters (grid and Latin-hypercube
sweeps), sensitivity indices (sobol and morris sweeps), the stock-effort phase plot (cpr), Lorenz
curve and distribution of the last agent snapshot (when the file has snapshots), a table of final
values with units, the run metadata and the scenario text. With several files it starts with a
panel comparing their key outcomes. It prints the path of the HTML page.
"""
from __future__ import annotations

import argparse
import base64
import html
import io
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from . import figures as F
from .load import final_values, label, load_dataset, snapshot_values
from .sensitivity import sensitivity_from_sweep

#: Metadata shown in the report, in this order (the rest of /meta follows).
META_FIRST = ("model", "status", "seed", "steps_completed", "wall_seconds", "threads", "version",
              "git_commit", "start_time", "end_time", "command_line", "synthetic")


@dataclass
class Section:
    """A figure in the report: the plot, its PNG file name and a caption."""
    plot: F.Plot
    name: str
    caption: str


def _png(plot: F.Plot) -> bytes:
    buffer = io.BytesIO()
    plot.figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return buffer.getvalue()


def file_sections(ds, path: Path) -> tuple[list[Section], pd.DataFrame | None]:
    """The figures of one file (and its sensitivity table for sobol/morris sweeps)."""
    stem = label(ds)
    sections = []
    keys = F.key_metrics(ds)
    if not keys:
        return sections, None
    params = list(ds.attrs.get("parameters", []))
    runs = ds.sizes.get("run", 1)
    sections.append(Section(F.scenario_comparison([ds], keys), f"{stem}_outcomes",
                            f"Key outcomes of {stem} over time" + (
                                f": median (line) and 5-95 % band over {runs} runs." if runs > 1 else ".")))
    by = params[0] if len(params) == 1 and len(np.unique(ds[params[0]].values)) <= 8 else None
    sections.append(Section(F.ensemble_band(ds, keys[0], by=by), f"{stem}_{keys[0]}_band",
                            f"{keys[0]}: ensemble median and 5-95 % band"
                            + (f" per value of {by}." if by else ".")))
    design = ds.attrs.get("design")
    sensitivity = None
    if design in ("sobol", "morris") and params:
        try:
            sensitivity = sensitivity_from_sweep(ds, keys[0])
            sections.append(Section(F.sensitivity_bars(sensitivity), f"{stem}_{keys[0]}_sensitivity",
                                    f"{design.capitalize()} indices of the final {keys[0]}."))
        except ValueError as error:
            print(f"report: {path}: no sensitivity indices: {error}", file=sys.stderr)
    elif len(params) >= 2:
        sections.append(Section(F.heat_map(ds, params[0], params[1], keys[0]), f"{stem}_{keys[0]}_heat_map",
                                f"Final {keys[0]} over {params[0]} and {params[1]}."))
    if "stock" in ds and "effort" in ds and np.isfinite(ds["stock"].values).any():
        sections.append(Section(F.phase_plot(ds), f"{stem}_phase", "Stock against effort over time."))
    snapshot = snapshot_values(path, "wealth")
    if snapshot is not None:
        step, kind, values = snapshot
        sections.append(Section(F.lorenz_curve(values, what=kind), f"{stem}_lorenz",
                                f"Lorenz curve of {kind}' wealth at step {step}."))
        sections.append(Section(F.wealth_distribution(values, what=kind), f"{stem}_wealth",
                                f"Distribution of {kind}' wealth at step {step}."))
    return sections, sensitivity


def final_table(ds) -> pd.DataFrame:
    """Final value of every series with units: the value for a run, the median and 5-95 % range
    over runs for a sweep."""
    finals = final_values(ds)
    rows = []
    for name in F.series_names(ds):
        values = finals[name].to_numpy(float)
        row = {"series": name, "units": ds[name].attrs.get("units", ""),
               "description": ds[name].attrs.get("description", "")}
        if len(values) == 1:
            row["final value"] = _number(values[0])
        else:
            with np.errstate(all="ignore"):
                low, median, high = np.nanquantile(values, [0.05, 0.5, 0.95])
            row.update({"median": _number(median), "5 %": _number(low), "95 %": _number(high)})
        rows.append(row)
    return pd.DataFrame(rows)


def _number(x: float) -> str:
    return "NaN" if not np.isfinite(x) else f"{x:.4g}"


def _meta_table(ds) -> pd.DataFrame:
    meta = {k[5:]: v for k, v in ds.attrs.items() if k.startswith("meta.")}
    meta.update({k: v for k, v in ds.attrs.items() if k.startswith("sweep.")})
    order = [k for k in META_FIRST if k in meta] + sorted(k for k in meta if k not in META_FIRST)
    return pd.DataFrame({"attribute": order, "value": [_text(meta[k]) for k in order]})


def _text(value) -> str:
    return ", ".join(map(str, value)) if isinstance(value, list) else str(value)


STYLE = """body{font-family:system-ui,sans-serif;max-width:1150px;margin:2em auto;padding:0 1em;
font-size:17px;color:#222}h1{font-size:1.8em}h2{border-bottom:2px solid #ccc;padding-top:1em}
img{max-width:100%;border:1px solid #eee}figure{margin:1.5em 0}figcaption{color:#555}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}
th{background:#f3f3f3}pre{background:#f7f7f7;padding:1em;overflow-x:auto;font-size:14px}
.warn{background:#fff3cd;padding:.5em 1em;border-left:4px solid #e0a800}"""


def _figure_html(section: Section, png: bytes) -> str:
    data = base64.b64encode(png).decode("ascii")
    return (f'<figure id="{html.escape(section.name)}"><img alt="{html.escape(section.plot.title)}" '
            f'src="data:image/png;base64,{data}"><figcaption>{html.escape(section.caption)}</figcaption></figure>')


def _table_html(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, escape=True, border=0, na_rep="")


class _Figures:
    """Writes each figure once as a PNG into the output folder and returns its HTML."""

    def __init__(self, out_dir: Path):
        self.out_dir = out_dir
        self.written: list[Path] = []

    def __call__(self, section: Section) -> str:
        png = _png(section.plot)
        F.plt.close(section.plot.figure)
        target = self.out_dir / f"{section.name}.png"
        target.write_bytes(png)
        self.written.append(target)
        return _figure_html(section, png)


def build_report(paths, out_dir) -> Path:
    """Writes `<out_dir>/report.html` and one PNG per figure; returns the HTML path."""
    paths = [Path(p) for p in paths]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    datasets = [load_dataset(p) for p in paths]
    names = ", ".join(label(ds) for ds in datasets)
    figure = _Figures(out_dir)
    body = [f"<h1>commons-sim report: {html.escape(names)}</h1>"]
    if len(datasets) > 1:
        body.append("<h2>Comparison</h2>")
        body.append(figure(Section(F.scenario_comparison(datasets), "comparison",
                                   "Key outcomes of every file side by side (median and 5-95 % band "
                                   "for sweeps).")))
    body.extend(_file_html(ds, path, figure) for ds, path in zip(datasets, paths))
    page = ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>commons-sim report: {html.escape(names)}</title><style>{STYLE}</style></head>"
            "<body>" + "\n".join(body) + "</body></html>")
    target = out_dir / "report.html"
    target.write_text(page, encoding="utf-8")
    return target


def _file_html(ds, path: Path, figure: _Figures) -> str:
    """The section of one file: warnings, figures, tables, metadata and scenario text."""
    runs = ds.sizes.get("run", 1)
    what = (f"sweep ({ds.attrs.get('design')}, {runs} runs, varying {', '.join(ds.attrs['parameters'])})"
            if ds.attrs.get("kind") == "sweep" else "single run")
    parts = [f"<h2>{html.escape(label(ds))}</h2><p>{html.escape(str(path))}: model "
             f"<b>{html.escape(str(ds.attrs.get('model')))}</b>, {html.escape(what)}, status "
             f"<b>{html.escape(str(ds.attrs.get('status')))}</b>.</p>"]
    if ds.attrs.get("meta.synthetic"):
        parts.append(f"<p class='warn'>SYNTHETIC file: {html.escape(str(ds.attrs['meta.synthetic']))}.</p>")
    if ds.attrs.get("status") not in ("complete", None, ""):
        parts.append(f"<p class='warn'>The run did not complete (status {html.escape(str(ds.attrs['status']))}): "
                     "values are those of the last record written.</p>")
    sections, sensitivity = file_sections(ds, path)
    parts.extend(figure(section) for section in sections)
    if sensitivity is not None:
        parts.append("<h3>Sensitivity indices</h3>" + _table_html(sensitivity.round(4)))
    parts.append("<h3>Final values</h3>" + _table_html(final_table(ds)))
    parts.append("<h3>Run metadata</h3>" + _table_html(_meta_table(ds)))
    parts.append("<h3>Scenario</h3><pre>" + html.escape(ds.attrs.get("scenario_text", "")) + "</pre>")
    return "\n".join(parts)


def default_out_dir(first: Path) -> Path:
    """`<folder of the first file>/<its name>_report`: next to the data, one folder per report."""
    return first.parent / f"{first.stem}_report"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/report", description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", type=Path, help="commons-sim HDF5 files (runs or sweeps)")
    parser.add_argument("-o", "--out", type=Path, help="output folder (default: FILE_report next to the first file)")
    args = parser.parse_args(argv)
    missing = [str(p) for p in args.files if not p.is_file()]
    if missing:
        parser.error(f"no such file: {', '.join(missing)}")
    target = build_report(args.files, args.out or default_out_dir(args.files[0]))
    print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
