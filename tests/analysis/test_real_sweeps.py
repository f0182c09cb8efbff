"""The analysis package on sweep files written by the real `commons-sim sweep` (the synthetic
files of the other tests stand in for models and layouts the binary does not write yet)."""
import subprocess

import numpy as np
import pytest

from commons_analysis import figures, load, report, sensitivity

BASE = """[sim]
model = exchange
steps = 60
seed = 3
record_every = 5

[exchange]
agents = 1000
rule = saving
"""


def sweep(binary, folder, name, *args):
    scenario = folder / f"{name}.ini"
    scenario.write_text(BASE)
    out = folder / f"{name}.h5"
    subprocess.run([str(binary), "sweep", str(scenario), "--out", str(out), "--quiet", "--jobs", "2", *args],
                   check=True, capture_output=True, timeout=300)
    return out


@pytest.fixture(scope="module")
def grid_file(binary, tmp_path_factory):
    return sweep(binary, tmp_path_factory.mktemp("grid"), "grid", "--vary", "exchange.rule=random,saving",
                 "--vary", "exchange.saving=0:0.8:3", "--replicas", "3")


@pytest.fixture(scope="module")
def sobol_file(binary, tmp_path_factory):
    return sweep(binary, tmp_path_factory.mktemp("sobol"), "sobol", "--design", "sobol", "--samples", "128",
                 "--vary", "exchange.saving=0:0.9", "--vary", "exchange.chi=0:0.2")


def test_a_real_sweep_loads_with_its_design_order(grid_file):
    ds = load.load_dataset(grid_file)
    assert ds["gini"].dims == ("run", "step") and ds.sizes["run"] == 18
    assert ds.attrs["parameters"] == ["exchange.rule", "exchange.saving"]
    assert list(ds["exchange.saving"].values[:3]) == [0, 0, 0]  # replicates of point 0
    finals = load.final_values(ds)
    assert len(finals) == 18 and set(finals["exchange.rule"]) == {"random", "saving"}


def test_the_heat_map_of_a_real_grid_has_category_and_number_axes(grid_file):
    plot = figures.heat_map(grid_file, "exchange.saving", "exchange.rule", "gini")
    assert list(plot.data.index) == ["random", "saving"] and list(plot.data.columns) == [0, 0.4, 0.8]
    # saving narrows the distribution; random exchange does not depend on lambda
    row = plot.data.loc["saving"].to_numpy()
    assert row[0] > row[1] > row[2]
    assert np.ptp(plot.data.loc["random"].to_numpy()) < 0.05


def test_the_report_of_a_real_sweep_has_a_band_and_a_heat_map(grid_file, tmp_path):
    page = report.build_report([grid_file], tmp_path)
    html = page.read_text()
    assert "heat_map" in html and "band" in html
    assert sorted(p.name for p in tmp_path.glob("*.png"))


def test_sobol_indices_of_a_real_saltelli_sweep(sobol_file):
    """The saving propensity drives the final Gini; chi (no redistribution under rule saving's
    short run at these values) matters far less."""
    indices = sensitivity.sensitivity_from_sweep(sobol_file, "gini", n_boot=200).set_index("parameter")
    assert indices.loc["exchange.saving", "ST"] > 0.5
    assert indices.loc["exchange.chi", "ST"] < indices.loc["exchange.saving", "ST"]
