"""commons_analysis: read, plot and analyse commons-sim output files (runs and sweeps).

The file layout is described in docs/output.md (runs) and DESIGN.md §6-7 (sweeps). Everything here
reads files with h5py and builds xarray/pandas objects itself, so the same code handles a finished
run, a run killed mid-way (opened in SWMR mode) and a sweep file.

    >>> import commons_analysis as ca
    >>> ds = ca.load_dataset("run.h5")          # xarray.Dataset, dims (step,) or (run, step)
    >>> df = ca.load_frame("run.h5")            # tidy pandas.DataFrame, units in df.attrs["units"]
"""
from .load import (DamagedFileError, final_values, is_sweep, load_dataset, load_flows, load_frame,
                   load_regions, load_runs, load_snapshots, open_h5, read_meta, read_scenario,
                   snapshot_values, varied_parameters)

__all__ = ["DamagedFileError", "final_values", "is_sweep", "load_dataset", "load_flows", "load_frame",
           "load_regions", "load_runs", "load_snapshots", "open_h5", "read_meta", "read_scenario",
           "snapshot_values", "varied_parameters"]
