"""Each figure function draws an image, and the numbers it returns are the numbers it should draw."""
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

import commons_analysis as ca
from commons_analysis import figures as F
from commons_analysis.sensitivity import sensitivity_from_sweep

PNG = b"\x89PNG\r\n\x1a\n"


def _saved(plot, tmp_path, name):
    path = tmp_path / f"{name}.png"
    plot.save(path)
    assert path.read_bytes()[:8] == PNG and path.stat().st_size > 5000
    return path


def test_ensemble_band_of_a_run_is_its_series(run_file, tmp_path):
    plot = F.ensemble_band(run_file, "gini")
    ds = ca.load_dataset(run_file)
    np.testing.assert_array_equal(plot.data["median"], ds["gini"])
    np.testing.assert_array_equal(plot.data["low"], plot.data["high"])
    np.testing.assert_array_equal(plot.data["x"], ds["time"])
    assert plot.figure.axes[0].get_ylabel() == "gini (dimensionless)"
    assert "1 run" in plot.title
    _saved(plot, tmp_path, "band_run")


def test_ensemble_band_of_a_sweep_is_the_median_and_5_95_quantiles(grid_sweep, tmp_path):
    plot = F.ensemble_band(grid_sweep, "gini")
    gini = ca.load_dataset(grid_sweep)["gini"].values
    np.testing.assert_allclose(plot.data["median"], np.median(gini, axis=0))
    np.testing.assert_allclose(plot.data["low"], np.quantile(gini, 0.05, axis=0))
    np.testing.assert_allclose(plot.data["high"], np.quantile(gini, 0.95, axis=0))
    assert (plot.data["runs"] == 48).all() and "48 runs" in plot.title
    _saved(plot, tmp_path, "band_sweep")


def test_ensemble_band_by_parameter_has_one_band_per_value(grid_sweep):
    plot = F.ensemble_band(grid_sweep, "gini", by="exchange.chi")
    ds = ca.load_dataset(grid_sweep)
    assert sorted(plot.data["exchange.chi"].unique()) == [0.0, 0.02, 0.05, 0.1]
    part = plot.data[plot.data["exchange.chi"] == 0.05]
    expected = np.median(ds["gini"].values[ds["exchange.chi"].values == 0.05], axis=0)
    np.testing.assert_allclose(part["median"], expected)
    assert "exchange.chi" in plot.title
    plt.close(plot.figure)


def test_scenario_comparison_puts_each_file_in_every_panel(run_file, saving_file, tmp_path):
    plot = F.scenario_comparison([run_file, saving_file], labels=["random", "saving 0.5"])
    assert set(plot.data["scenario"]) == {"random", "saving 0.5"}
    assert list(plot.data["metric"].unique()) == ["gini", "top10_share", "top1_share", "below_mean_share"]
    visible = [ax for ax in plot.figure.axes if ax.get_visible()]
    assert len(visible) == 4 and all(len(ax.get_lines()) == 2 for ax in visible)
    saving = plot.data[(plot.data["scenario"] == "saving 0.5") & (plot.data["metric"] == "gini")]
    np.testing.assert_array_equal(saving["median"], ca.load_dataset(saving_file)["gini"])
    assert "random vs saving 0.5" in plot.title
    final = plot.data[plot.data["metric"] == "gini"].groupby("scenario")["median"].last()
    assert final["saving 0.5"] < final["random"]  # saving narrows the distribution
    _saved(plot, tmp_path, "comparison")


def test_lorenz_curve_and_gini_of_known_distributions(tmp_path):
    plot = F.lorenz_curve([1.0, 2.0, 3.0, 4.0])
    np.testing.assert_allclose(plot.data["share"], [0, 0.1, 0.3, 0.6, 1.0])
    assert plot.data.attrs["gini"] == pytest.approx(0.25)  # sum (2i - n - 1) x_i / (n sum x)
    plt.close(plot.figure)
    assert F.lorenz_points(np.ones(100))[2] == pytest.approx(0.0, abs=1e-12)
    # The exponential distribution has Gini 1/2.
    plot = F.lorenz_curve(np.random.default_rng(0).exponential(1.0, 100_000))
    assert plot.data.attrs["gini"] == pytest.approx(0.5, abs=0.01)
    assert "Gini 0.5" in plot.title
    _saved(plot, tmp_path, "lorenz")


def test_wealth_distribution_is_a_density_with_an_exponential_reference(snapshot_file, tmp_path):
    step, kind, wealth = ca.snapshot_values(snapshot_file)
    plot = F.wealth_distribution(wealth, what=kind)
    widths = plot.data["right"] - plot.data["left"]
    assert (plot.data["density"] * widths).sum() == pytest.approx(1.0)
    centre = 0.5 * (plot.data["left"] + plot.data["right"])
    np.testing.assert_allclose(plot.data["exponential"], np.exp(-centre / wealth.mean()) / wealth.mean())
    assert plot.figure.axes[0].get_xlabel() == "wealth (credits)"
    _saved(plot, tmp_path, "distribution")


def test_heat_map_of_a_grid_shows_the_median_of_replicates(grid_sweep, tmp_path):
    plot = F.heat_map(grid_sweep, "exchange.chi", "exchange.saving", "gini")
    finals = ca.final_values(grid_sweep)
    expected = finals.groupby(["exchange.saving", "exchange.chi"])["gini"].median().unstack()
    assert plot.data.shape == (4, 4)
    np.testing.assert_allclose(plot.data.to_numpy(), expected.to_numpy())
    assert plot.data.loc[0.0, 0.0] > plot.data.loc[0.75, 0.1]  # toy formula: both reduce inequality
    ax = plot.figure.axes[0]
    assert ax.get_xlabel() == "exchange.chi (1/time)" and ax.get_ylabel() == "exchange.saving (dimensionless)"
    assert "3 replicates" in plot.title
    _saved(plot, tmp_path, "heat_map")


def test_heat_map_of_scattered_samples_bins_them(tmp_path):
    from commons_analysis import synthetic
    rng = np.random.default_rng(0)
    a, b = rng.random(400), rng.random(400)
    values = np.column_stack([np.zeros(400), a + 10 * b])
    path = synthetic.write_sweep(tmp_path / "synthetic_lhs.h5", {"p.a": a, "p.b": b},
                                 {"y": (values, "1", "synthetic")}, [0, 1], [0.0, 1.0], "lhs")
    plot = F.heat_map(path, "p.a", "p.b", "y", bins=4)
    assert plot.data.shape == (4, 4)
    # Along b (rows) the medians rise by about 10 / 4 per bin.
    np.testing.assert_allclose(np.diff(plot.data.to_numpy(), axis=0).mean(), 2.5, atol=0.3)
    plt.close(plot.figure)


def test_sensitivity_bars_draw_each_index_with_its_interval(sobol_sweep, morris_sweep, tmp_path):
    indices = sensitivity_from_sweep(sobol_sweep, "y", n_boot=200)
    plot = F.sensitivity_bars(indices)
    bars = [p.get_height() for p in plot.figure.axes[0].patches]
    np.testing.assert_allclose(bars, list(indices["S1"]) + list(indices["ST"]))
    assert "Sobol" in plot.title and "share of output variance" in plot.figure.axes[0].get_ylabel()
    _saved(plot, tmp_path, "sobol")
    indices = sensitivity_from_sweep(morris_sweep, "y", n_boot=200)
    plot = F.sensitivity_bars(indices)
    bars = [p.get_height() for p in plot.figure.axes[0].patches]
    np.testing.assert_allclose(bars, list(indices["mu_star"]) + list(indices["sigma"]))
    assert "Morris" in plot.title
    _saved(plot, tmp_path, "morris")


def test_phase_plot_of_open_access_ends_at_the_bionomic_equilibrium(cpr_file, tmp_path):
    # SYNTHETIC cpr file: Gordon-Schaefer with r = 0.5, K = 1000, q = 0.01, p = 2, c = 6, so
    # S* = c / (p q) = 300 t and E* = r (1 - S*/K) / q = 35.
    plot = F.phase_plot(cpr_file)
    ds = ca.load_dataset(cpr_file)
    np.testing.assert_array_equal(plot.data["stock"], ds["stock"])
    np.testing.assert_array_equal(plot.data["effort"], ds["effort"])
    assert plot.data["stock"].iloc[-1] == pytest.approx(300, rel=0.01)
    assert plot.data["effort"].iloc[-1] == pytest.approx(35, rel=0.01)
    ax = plot.figure.axes[0]
    assert ax.get_xlabel() == "effort (model effort units)" and ax.get_ylabel() == "stock (t)"
    _saved(plot, tmp_path, "phase")


def test_key_metrics_prefer_the_models_outcomes_and_skip_empty_series(run_file, cpr_file):
    assert F.key_metrics(ca.load_dataset(run_file)) == ["gini", "top10_share", "top1_share", "below_mean_share"]
    assert F.key_metrics(ca.load_dataset(cpr_file))[:2] == ["stock", "effort"]
