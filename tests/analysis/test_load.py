"""Loaders on files written by the real binary (runs, a killed run) and on SYNTHETIC sweeps."""
import h5py
import numpy as np
import pytest
import xarray as xr

import commons_analysis as ca
from commons_analysis import synthetic


def test_a_run_loads_as_a_dataset_with_units_time_and_metadata(run_file):
    ds = ca.load_dataset(run_file)
    with h5py.File(run_file, "r") as f:
        steps = f["series/step"][:]
        assert dict(ds.sizes) == {"step": len(steps)}
        np.testing.assert_array_equal(ds["step"], steps)
        np.testing.assert_array_equal(ds["gini"], f["series/gini"][:])
        assert ds["gini"].attrs["units"] == f["series/gini"].attrs["units"] == "1"
        assert ds["mean"].attrs["units"] == "credits"
        assert ds["gini"].attrs["description"]
    assert ds["time"].dims == ("step",)
    assert ds.attrs["kind"] == "run" and ds.attrs["model"] == "exchange"
    assert ds.attrs["status"] == "complete" and ds.attrs["meta.seed"] == 3
    assert "agents = 1000" in ds.attrs["scenario_text"]
    assert not ca.is_sweep(run_file) and not ca.is_sweep(ds)


def test_the_loader_agrees_with_xarray_h5netcdf(run_file):
    reference = xr.open_dataset(run_file, engine="h5netcdf", group="series")
    ds = ca.load_dataset(run_file)
    for name in reference.data_vars:
        np.testing.assert_array_equal(ds[name].values, reference[name].values)
    np.testing.assert_array_equal(ds["time"].values, reference["time"].values)


def test_a_run_as_a_tidy_frame_keeps_units_wide_and_long(run_file):
    ds = ca.load_dataset(run_file)
    wide = ca.load_frame(run_file)
    assert len(wide) == ds.sizes["step"]
    assert list(wide.columns[:3]) == ["run", "step", "time"]
    assert (wide["run"] == 0).all()
    np.testing.assert_array_equal(wide["gini"], ds["gini"])
    assert wide.attrs["units"]["gini"] == "1" and wide.attrs["units"]["mean"] == "credits"
    long = ca.load_frame(run_file, long=True)
    assert len(long) == ds.sizes["step"] * len(ds.data_vars)
    assert set(long.columns) >= {"run", "step", "metric", "value", "units"}
    assert (long.loc[long["metric"] == "mean", "units"] == "credits").all()


def test_final_values_are_the_last_record(run_file):
    ds = ca.load_dataset(run_file)
    finals = ca.final_values(run_file)
    assert len(finals) == 1 and finals.loc[0, "seed"] == 3
    assert finals.loc[0, "gini"] == ds["gini"].values[-1]
    assert finals.attrs["units"]["median"] == "credits"


def test_flows_load_and_every_row_sums_to_zero(run_file):
    flows = ca.load_flows(run_file)
    assert flows["matrix"].dims == ("step", "flow_type", "sector")
    assert "change_in_money" in flows["flow_type"].values
    np.testing.assert_allclose(flows["matrix"].sum("sector"), 0.0, atol=1e-9)


def test_a_killed_run_opens_in_swmr_mode_without_being_asked(killed_file):
    with pytest.raises(OSError):
        h5py.File(killed_file, "r")
    ds = ca.load_dataset(killed_file)
    assert ds.attrs["status"] == "running"
    assert ds.sizes["step"] >= 5 and np.all(np.isfinite(ds["gini"].values))
    # progress is written after the records it announces: it may lag them, never lead
    assert ca.read_meta(killed_file)["progress"] <= ds["step"].values[-1]
    assert len(ca.load_frame(killed_file)) == ds.sizes["step"]


def test_a_file_without_snapshots_or_regions_gives_none(run_file):
    assert ca.load_snapshots(run_file) == {}
    assert ca.snapshot_values(run_file) is None
    assert ca.load_regions(run_file) is None


def test_snapshots_load_by_step_kind_and_field(snapshot_file):
    snapshots = ca.load_snapshots(snapshot_file)
    assert list(snapshots) == [20] and set(snapshots[20]["agents"]) == {"wealth", "id"}
    step, kind, wealth = ca.snapshot_values(snapshot_file, "wealth")
    assert (step, kind, wealth.shape) == (20, "agents", (1000,))
    assert ca.snapshot_values(snapshot_file, "wealth", kind="firms") is None


def test_read_scenario_gives_the_text_and_every_parameter(run_file):
    text, params = ca.read_scenario(run_file)
    assert "[exchange]" in text
    assert params["exchange.agents"] == "1000" and params["sim.steps"] == "20"


# SYNTHETIC sweeps (layout of DESIGN.md §6-7; commons-sim sweep does not exist yet).

def test_a_sweep_loads_with_run_and_step_dims_and_parameters_as_coordinates(grid_sweep):
    ds = ca.load_dataset(grid_sweep)
    assert ca.is_sweep(grid_sweep) and ca.is_sweep(ds)
    assert dict(ds.sizes) == {"run": 48, "step": 21}
    assert ds["gini"].dims == ("run", "step") and ds["gini"].attrs["units"] == "1"
    assert ds.attrs["parameters"] == ["exchange.chi", "exchange.saving"]
    assert ds.attrs["design"] == "grid" and ds.attrs["sweep.replicates"] == 3
    assert ds["exchange.chi"].dims == ("run",) and ds["seed"].dims == ("run",)
    assert ds.attrs["meta.synthetic"].startswith("yes")


def test_sweep_frame_joins_every_row_to_its_run_parameters(grid_sweep):
    frame = ca.load_frame(grid_sweep)
    runs = ca.load_runs(grid_sweep)
    assert len(frame) == 48 * 21
    joined = frame.merge(runs, on="run", suffixes=("", "_runs"))
    np.testing.assert_array_equal(joined["exchange.chi"], joined["exchange.chi_runs"])
    assert ca.varied_parameters(runs) == ["exchange.chi", "exchange.saving"]
    with h5py.File(grid_sweep, "r") as f:
        gini = f["series/gini"][:]
    np.testing.assert_array_equal(frame.pivot(index="run", columns="step", values="gini"), gini)


def test_final_values_of_a_sweep_leave_out_runs_that_did_not_complete(tmp_path):
    status = ["complete", "failed", "complete"]
    values = np.array([[0.0, 1.0, 2.0], [0.0, 5.0, np.nan], [0.0, 3.0, 4.0]])
    path = synthetic.write_sweep(tmp_path / "synthetic_failed.h5", {"exchange.chi": [0.0, 0.1, 0.2]},
                                 {"gini": (values, "1", "synthetic")}, [0, 1, 2], [0.0, 1.0, 2.0], "grid",
                                 status=status)
    finals = ca.final_values(path)
    assert list(finals["run"]) == [0, 2] and list(finals["gini"]) == [2.0, 4.0]
    everything = ca.final_values(path, complete_only=False)
    assert list(everything["gini"]) == [2.0, 5.0, 4.0]  # the last finite value of the failed run


def test_regions_of_a_sweep_load_when_present(tmp_path):
    path = synthetic.exchange_grid_sweep(tmp_path / "synthetic_regions.h5")
    with h5py.File(path, "a") as f:
        g = f.create_group("regions")
        g.create_dataset("region", data=np.array(["north", "south"], dtype=object), dtype=synthetic.STR)
        g.create_dataset("population", data=np.ones((48, 21, 2)))
    regions = ca.load_regions(path)
    assert regions["population"].dims == ("run", "step", "region")
    assert list(regions["region"].values) == ["north", "south"]


def test_a_flipped_bit_in_a_stored_value_is_refused_naming_the_file_and_dataset(run_file, tmp_path):
    """The loaders check the values /meta/record_hashes covers (docs/output.md)."""
    import shutil

    damaged = tmp_path / "damaged.h5"
    for dataset, load in [("series/gini", ca.load_dataset), ("flows/matrix", ca.load_flows)]:
        shutil.copy(run_file, damaged)
        with h5py.File(damaged, "r") as f:
            offset = f[dataset].id.get_chunk_info_by_coord((0,) * f[dataset].ndim).byte_offset
        data = bytearray(damaged.read_bytes())
        data[offset + 8 * 2 + 6] ^= 0x01
        damaged.write_bytes(bytes(data))
        with pytest.raises(ca.DamagedFileError, match=f"'{damaged}': stored values of /{dataset} do not match"):
            load(damaged)
    # undamaged, and without the checksums (an older file): loaded as before
    assert ca.load_dataset(run_file).sizes["step"] == 21
    shutil.copy(run_file, damaged)
    with h5py.File(damaged, "r+") as f:
        del f["meta/record_hashes"]
    assert ca.load_dataset(damaged).identical(ca.load_dataset(run_file).assign_attrs(source=str(damaged)))
