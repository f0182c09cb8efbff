"""Fixtures for the analysis tests: files written by the real binary, and SYNTHETIC files.

Run, killed-run and sweep files come from `build/commons-sim` (env COMMONS_SIM), as in
tests/python (test_real_sweeps.py for sweeps). The SYNTHETIC files (commons_analysis.synthetic,
toy formulas in the sweep layout of docs/sweeps.md) pin the figures' numbers exactly and stand in
for what the binary does not write yet (agent snapshots, regions).
"""
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

SOURCE_DIR = Path(os.environ.get("SIM_SOURCE_DIR", Path(__file__).resolve().parents[2]))
BINARY = Path(os.environ.get("COMMONS_SIM", SOURCE_DIR / "build" / "commons-sim")).resolve()
sys.path.insert(0, str(SOURCE_DIR / "analysis"))

from commons_analysis import synthetic  # noqa: E402

SMALL = """[sim]
model = exchange
steps = 20
seed = 3

[exchange]
agents = 1000
rule = {rule}
"""


@pytest.fixture(scope="session")
def source_dir():
    return SOURCE_DIR


@pytest.fixture(scope="session")
def binary():
    assert BINARY.exists(), f"commons-sim not built at {BINARY}"
    return BINARY


def _run(binary, folder: Path, name: str, text: str, *extra) -> Path:
    scenario = folder / f"{name}.ini"
    scenario.write_text(text)
    out = folder / f"{name}.h5"
    subprocess.run([str(binary), "run", str(scenario), "--out", str(out), "--quiet", *extra],
                   cwd=folder, check=True, capture_output=True, timeout=120)
    return out


@pytest.fixture(scope="session")
def run_file(binary, tmp_path_factory):
    """A real run: exchange, 1000 agents, 20 steps, random rule."""
    return _run(binary, tmp_path_factory.mktemp("run"), "random", SMALL.format(rule="random"))


@pytest.fixture(scope="session")
def saving_file(binary, tmp_path_factory):
    """A second real run (saving rule) to compare with the first."""
    text = SMALL.format(rule="saving") + "saving = 0.5\n"
    return _run(binary, tmp_path_factory.mktemp("saving"), "saving", text)


@pytest.fixture(scope="session")
def killed_file(binary, tmp_path_factory):
    """A real run killed by SIGKILL after a few flushed records: HDF5 marks it open for write."""
    folder = tmp_path_factory.mktemp("killed")
    scenario = folder / "long.ini"
    scenario.write_text(SMALL.format(rule="random").replace("steps = 20", "steps = 100000000"))
    out = folder / "killed.h5"
    proc = subprocess.Popen([str(binary), "run", str(scenario), "--out", str(out), "--quiet",
                             "--flush-every", "1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                with h5py.File(out, "r", libver="latest", swmr=True) as f:
                    if f["series/step"].shape[0] >= 5:
                        break
            except (OSError, KeyError):
                pass
            time.sleep(0.05)
    finally:
        proc.kill()
        proc.wait(timeout=30)
    return out


@pytest.fixture
def snapshot_file(run_file, tmp_path):
    """A copy of the real run with a SYNTHETIC snapshot added (the binary writes none yet):
    exponential wealth of 1000 agents at step 20."""
    out = tmp_path / "with_snapshot.h5"
    shutil.copy(run_file, out)
    wealth = np.random.default_rng(1).exponential(1.0, 1000)
    synthetic.add_snapshots(out, {20: {"agents": {"wealth": wealth, "id": np.arange(1000)}}})
    return out


@pytest.fixture(scope="session")
def grid_sweep(tmp_path_factory):
    """SYNTHETIC grid sweep: exchange.chi (4 values) x exchange.saving (4 values) x 3 replicates."""
    return synthetic.exchange_grid_sweep(tmp_path_factory.mktemp("grid") / "synthetic_grid.h5")


@pytest.fixture(scope="session")
def sobol_sweep(tmp_path_factory):
    """SYNTHETIC sobol sweep of the Ishigami function, N = 1024, two replicates."""
    return synthetic.ishigami_sobol_sweep(tmp_path_factory.mktemp("sobol") / "synthetic_sobol.h5",
                                          n=1024, replicates=2)


@pytest.fixture(scope="session")
def morris_sweep(tmp_path_factory):
    """SYNTHETIC morris sweep of the Ishigami function, 20 trajectories of 4 points."""
    return synthetic.ishigami_morris_sweep(tmp_path_factory.mktemp("morris") / "synthetic_morris.h5")


@pytest.fixture(scope="session")
def cpr_file(tmp_path_factory):
    """SYNTHETIC cpr run (open-access Gordon-Schaefer stock and effort, a wealth snapshot)."""
    return synthetic.cpr_run(tmp_path_factory.mktemp("cpr") / "synthetic_cpr.h5")
