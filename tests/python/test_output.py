"""The output file: layout, scales, xarray, determinism across threads, interrupted runs."""
import signal
import subprocess
import time

import h5py
import numpy as np
import pytest
import xarray as xr

from cli_support import SMALL


def run_small(sim, scenario, out, *extra):
    sim("run", scenario(SMALL), "--out", out, "--quiet", *extra, check=0)
    return out


def test_series_have_units_descriptions_and_step_scale(sim, scenario, tmp_path):
    out = run_small(sim, scenario, tmp_path / "o.h5", "--record-every", "3")
    with h5py.File(out, "r") as f:
        steps = f["series/step"][:]
        # record_every 3 over 20 steps: the start, every 3rd step, and the last step
        assert list(steps) == [0, 3, 6, 9, 12, 15, 18, 20]
        assert np.allclose(f["series/time"][:], steps * 0.01)
        gini = f["series/gini"]
        assert gini.shape == (8,)
        assert gini.attrs["units"] == "1" and "Gini" in gini.attrs["description"]
        assert gini[0] == 0.0 and 0.3 < gini[-1] < 0.6  # equal start, then spread
        assert f["series/mean"].attrs["units"] == "credits"
        assert h5py.h5ds.is_attached(gini.id, f["series/step"].id, 0)


def test_meta_and_scenario_groups(sim, scenario, tmp_path):
    out = run_small(sim, scenario, tmp_path / "o.h5", "--threads", "2", "--seed", "77")
    with h5py.File(out, "r") as f:
        meta = f["meta"].attrs
        assert meta["format"] == "commons-sim/1"
        assert meta["status"] == "complete"
        assert meta["steps_completed"] == 20
        assert int(meta["seed"]) == 77
        assert int(meta["threads"]) == 2
        assert "--seed 77" in meta["command_line"]
        assert "match_pairs" in str(meta["phases"])
        for key in ["version", "git_commit", "start_time", "end_time", "wall_seconds", "model"]:
            assert key in meta
        sc = f["scenario"].attrs
        assert sc["exchange.agents"] == "1000"
        assert sc["sim.seed"] == "77"
        assert "[exchange]" in sc["text"] and "seed = 77" in sc["text"]


def test_resolved_scenario_reproduces_the_run(sim, scenario, tmp_path):
    first = run_small(sim, scenario, tmp_path / "first.h5", "--set", "exchange.rule=saving",
                      "--set", "exchange.saving=0.3")
    with h5py.File(first, "r") as f:
        text = f["scenario"].attrs["text"]
    again = tmp_path / "again.h5"
    sim("run", scenario(text, name="resolved.ini"), "--out", again, "--quiet", check=0)
    with h5py.File(first, "r") as a, h5py.File(again, "r") as b:
        assert np.array_equal(a["series/gini"][:], b["series/gini"][:])


def test_xarray_opens_series_with_a_step_dimension(sim, scenario, tmp_path):
    out = run_small(sim, scenario, tmp_path / "o.h5", "--record-every", "5")
    ds = xr.open_dataset(out, engine="h5netcdf", group="series")
    assert "step" in ds.dims and not any(d.startswith("phony") for d in ds.dims)
    assert list(ds["step"].values) == [0, 5, 10, 15, 20]
    assert ds["gini"].dims == ("step",)
    frame = ds.to_dataframe()
    assert "gini" in frame.columns and len(frame) == 5
    flows = xr.open_dataset(out, engine="h5netcdf", group="flows")
    assert not any(d.startswith("phony") for d in flows.dims)


def test_flow_matrix_rows_and_columns_balance(sim, scenario, tmp_path):
    path = scenario(SMALL.replace("rule = random", "rule = yard_sale\nchi = 0.5\nzeta = 0.1"))
    out = tmp_path / "flows.h5"
    sim("run", path, "--out", out, "--quiet", check=0)
    with h5py.File(out, "r") as f:
        m = f["flows/matrix"][:]
        names = [n.decode() if isinstance(n, bytes) else n for n in f["flows/flow_type"][:]]
    assert names == ["exchange", "redistribution", "change_in_money"]
    assert m.shape == (21, 3, 1)
    assert np.allclose(m.sum(axis=1), 0.0, atol=1e-9)  # columns (sectors) sum to zero
    assert np.allclose(m.sum(axis=2)[:, :2], 0.0, atol=1e-9)  # rows of transfers sum to zero


def h5diff(a, b, path):
    return subprocess.run(["h5diff", str(a), str(b), path, path], capture_output=True, text=True)


@pytest.mark.parametrize("rule", ["random", "saving", "yard_sale"])
def test_same_seed_is_bitwise_identical_on_1_2_and_4_threads(sim, scenario, tmp_path, rule):
    # 20 000 agents: several blocks per thread, so the parallel loops really split the work.
    text = SMALL.replace("agents = 1000", "agents = 20001").replace("rule = random", f"rule = {rule}")
    text += "saving = 0.4\nsaving_distribution = uniform\nchi = 0.2\nzeta = 0.1\n"
    path = scenario(text)
    outs = []
    for threads in [1, 2, 4]:
        out = tmp_path / f"t{threads}.h5"
        sim("run", path, "--out", out, "--quiet", "--threads", threads, check=0)
        outs.append(out)
    for other in outs[1:]:
        for group in ["/series", "/flows"]:
            r = h5diff(outs[0], other, group)
            assert r.returncode == 0, r.stdout + r.stderr
    with h5py.File(outs[0], "r") as a, h5py.File(outs[2], "r") as b:
        for name in a["series"]:
            assert a["series"][name][:].tobytes() == b["series"][name][:].tobytes(), name


def test_another_seed_gives_another_run(sim, scenario, tmp_path):
    a = run_small(sim, scenario, tmp_path / "a.h5", "--seed", "1")
    b = run_small(sim, scenario, tmp_path / "b.h5", "--seed", "2")
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        assert not np.array_equal(fa["series/gini"][1:], fb["series/gini"][1:])


LONG = SMALL.replace("steps = 20", "steps = 100000000").replace("agents = 1000", "agents = 50000")


def start_long_run(binary, scenario, out, *extra):
    path = scenario(LONG)
    return subprocess.Popen([str(binary), "run", str(path), "--out", str(out), "--quiet", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_records(out, n, timeout=60):
    """Waits until a reader sees at least n records (SWMR read while the writer runs)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with h5py.File(out, "r", libver="latest", swmr=True) as f:
                f["series/step"].refresh()
                if f["series/step"].shape[0] >= n:
                    return f["meta"].attrs["status"]
        except (OSError, KeyError):
            pass
        time.sleep(0.1)
    raise AssertionError(f"{out} did not reach {n} records in {timeout} s")


@pytest.mark.parametrize("sig,code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_stops_the_run_and_leaves_an_interrupted_file(binary, scenario, tmp_path, sig, code):
    out = tmp_path / "long.h5"
    proc = start_long_run(binary, scenario, out, "--flush-every", "1", "--record-every", "2")
    assert wait_for_records(out, 3) == "running"
    proc.send_signal(sig)
    assert proc.wait(timeout=60) == code
    with h5py.File(out, "r") as f:
        assert f["meta"].attrs["status"] == "interrupted"
        steps = f["series/step"][:]
        assert f["meta"].attrs["steps_completed"] == steps[-1] > 0
        assert np.all(np.isfinite(f["series/gini"][:]))
        assert f["series/gini"].shape == steps.shape


@pytest.mark.parametrize("flush_every", [1, 10])
def test_after_sigkill_the_file_opens_with_every_flushed_step(binary, scenario, tmp_path, flush_every):
    out = tmp_path / "killed.h5"
    proc = start_long_run(binary, scenario, out, "--flush-every", str(flush_every))
    wait_for_records(out, 5)
    proc.kill()
    proc.wait(timeout=30)
    # The writer never closed the file, so HDF5 marks it as still open for writing: it opens as a
    # SWMR reader (or after `h5clear -s`), see docs/output.md.
    with h5py.File(out, "r", libver="latest", swmr=True) as f:
        steps = f["series/step"][:]
        assert len(steps) >= 5 and list(steps) == list(range(len(steps)))
        # progress is written after the records it announces: it may lag them, never lead
        assert f["meta/progress"][()] <= steps[-1] and f["meta/progress"][()] in steps
        assert steps[-1] % flush_every == 0  # flushed every flush_every steps, nothing after
        assert f["series/gini"].shape == steps.shape
        assert np.all(np.isfinite(f["series/gini"][:]))
        assert f["meta"].attrs["status"] == "running"
    subprocess.run(["h5clear", "-s", str(out)], check=True)
    ds = xr.open_dataset(out, engine="h5netcdf", group="series")
    assert ds.sizes["step"] == len(steps)
