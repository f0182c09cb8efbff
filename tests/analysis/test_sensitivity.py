"""Sobol and Morris estimators on functions with known indices (Ishigami; linear)."""
import h5py
import numpy as np
import pytest

import commons_analysis as ca
from commons_analysis import synthetic
from commons_analysis.sensitivity import (ISHIGAMI_BOUNDS, ISHIGAMI_S1, ISHIGAMI_ST, elementary_effects,
                                          ishigami, morris_indices, morris_trajectories, saltelli_matrices,
                                          saltelli_runs, sensitivity_from_sweep, sobol_indices, split_saltelli)


def _ishigami_indices(n, method, seed=1, n_boot=500):
    design = saltelli_matrices(ISHIGAMI_BOUNDS, n, seed=seed, method=method)
    return sobol_indices(*split_saltelli(ishigami(saltelli_runs(design)), n, 3), n_boot=n_boot)


def test_saltelli_matrices_have_the_ab_structure_and_stay_in_bounds():
    design = saltelli_matrices([(0, 1), (10, 20), (-1, 1)], 64, seed=0)
    assert design.A.shape == design.B.shape == (64, 3) and design.AB.shape == (3, 64, 3)
    for i in range(3):
        others = [j for j in range(3) if j != i]
        np.testing.assert_array_equal(design.AB[i][:, i], design.B[:, i])
        np.testing.assert_array_equal(design.AB[i][:, others], design.A[:, others])
    runs = saltelli_runs(design)
    assert runs.shape == (64 * 5, 3)
    assert (runs[:, 1] >= 10).all() and (runs[:, 1] <= 20).all()
    A, B, AB = split_saltelli(runs, 64, 3)
    np.testing.assert_array_equal(AB, design.AB)


def test_sobol_indices_of_ishigami_match_the_analytic_values_with_a_sobol_base():
    # N = 4096 with a scrambled Sobol' base (20 480 evaluations). Over 20 scrambling seeds the
    # estimators' errors had standard deviations <= 0.002 and never exceeded 0.008, so 0.02 is
    # ~10 standard deviations: a failure means a wrong estimator, not bad luck.
    result = _ishigami_indices(4096, "sobol")
    np.testing.assert_allclose(result["S1"], ISHIGAMI_S1, atol=0.02)
    np.testing.assert_allclose(result["ST"], ISHIGAMI_ST, atol=0.02)
    # The bootstrap resamples rows at random, so its intervals have Monte Carlo width (wider
    # than the QMC error): they must contain the analytic values.
    assert (result["S1_low"] <= ISHIGAMI_S1).all() and (np.array(ISHIGAMI_S1) <= result["S1_high"]).all()
    assert (result["ST_low"] <= ISHIGAMI_ST).all() and (np.array(ISHIGAMI_ST) <= result["ST_high"]).all()


def test_sobol_indices_of_ishigami_with_a_random_base_are_within_monte_carlo_error():
    # Plain Monte Carlo, N = 16384: the estimators' standard deviation is ~0.015 at most (0.03 at
    # N = 4096 over 20 seeds, shrinking as 1/sqrt(N)); 0.06 is 4 of them.
    result = _ishigami_indices(16384, "random", seed=7, n_boot=0)
    np.testing.assert_allclose(result["S1"], ISHIGAMI_S1, atol=0.06)
    np.testing.assert_allclose(result["ST"], ISHIGAMI_ST, atol=0.06)


def test_sobol_indices_of_an_additive_function_have_no_interactions():
    # y = x1 + 2 x2 on U(0,1)^2: S_i = ST_i = c_i^2 / sum c^2 = 0.2 and 0.8 exactly.
    design = saltelli_matrices([(0, 1), (0, 1)], 4096, seed=3)
    y = saltelli_runs(design) @ np.array([1.0, 2.0])
    result = sobol_indices(*split_saltelli(y, 4096, 2), n_boot=0)
    np.testing.assert_allclose(result["S1"], [0.2, 0.8], atol=0.01)
    np.testing.assert_allclose(result["ST"], [0.2, 0.8], atol=0.01)


def test_morris_trajectories_move_one_parameter_by_delta_on_the_grid():
    bounds = [(0, 1), (0, 10), (-5, 5)]
    design = morris_trajectories(bounds, trajectories=30, levels=4, seed=2)
    assert design.X.shape == (30 * 4, 3) and design.delta == pytest.approx(2 / 3)
    unit = (design.X - np.array(bounds)[:, 0]) / np.ptp(np.array(bounds), axis=1)
    np.testing.assert_allclose(unit * 3, np.round(unit * 3), atol=1e-12)  # on the 4-level grid
    steps = np.diff(unit.reshape(30, 4, 3), axis=1)
    assert ((np.abs(steps) > 1e-12).sum(axis=2) == 1).all()
    np.testing.assert_allclose(np.abs(steps).sum(axis=2), 2 / 3)
    moved = np.argmax(np.abs(steps), axis=2)
    assert (np.sort(moved, axis=1) == [0, 1, 2]).all()  # every parameter once per trajectory


def test_morris_of_a_linear_function_gives_its_slopes_times_range_and_zero_sigma():
    bounds = [(0, 1), (0, 2), (-1, 1)]
    design = morris_trajectories(bounds, 10, seed=0)
    y = design.X @ np.array([1.0, -2.0, 3.0])
    result = morris_indices(design.X, y, 10, bounds=bounds)
    np.testing.assert_allclose(result["mu"], [1.0, -4.0, 6.0])
    np.testing.assert_allclose(result["mu_star"], [1.0, 4.0, 6.0])
    np.testing.assert_allclose(result["sigma"], 0.0, atol=1e-12)


def test_morris_of_ishigami_flags_the_interaction_of_x3():
    # x3 acts only through x1 (b x3^4 sin x1): its mean effect cancels (mu* >> |mu|) and its
    # effects vary (sigma > 0), while every parameter is influential (mu* > 0).
    design = morris_trajectories(ISHIGAMI_BOUNDS, 200, seed=4)
    result = morris_indices(design.X, ishigami(design.X), 200, bounds=ISHIGAMI_BOUNDS).set_index("parameter")
    assert (result["mu_star"] > 1).all()
    assert result.loc["x3", "sigma"] > 1 and abs(result.loc["x3", "mu"]) < 0.5 * result.loc["x3", "mu_star"]


def test_a_synthetic_sobol_sweep_gives_the_indices_of_its_matrices(sobol_sweep):
    result = sensitivity_from_sweep(sobol_sweep, "y", n_boot=0)
    assert result.attrs["design"] == "sobol" and result.attrs["samples"] == 1024
    assert result.attrs["replicates"] == 2
    design = saltelli_matrices(ISHIGAMI_BOUNDS, 1024, seed=0)
    direct = sobol_indices(*split_saltelli(ishigami(saltelli_runs(design)), 1024, 3), n_boot=0)
    np.testing.assert_allclose(result["S1"], direct["S1"])
    np.testing.assert_allclose(result["ST"], direct["ST"])
    assert list(result["parameter"]) == ["ishigami.x1", "ishigami.x2", "ishigami.x3"]
    np.testing.assert_allclose(result["ST"], ISHIGAMI_ST, atol=0.05)


def test_a_sweep_out_of_saltelli_order_is_refused(tmp_path):
    path = synthetic.ishigami_sobol_sweep(tmp_path / "synthetic_shuffled.h5", n=64)
    with h5py.File(path, "a") as f:
        for name in ("ishigami.x1", "ishigami.x2", "ishigami.x3"):
            f["runs"][name][...] = np.random.default_rng(0).permutation(f["runs"][name][:])
    with pytest.raises(ValueError, match="Saltelli layout"):
        sensitivity_from_sweep(path, "y")


def test_a_synthetic_morris_sweep_gives_the_indices_of_its_trajectories(morris_sweep):
    result = sensitivity_from_sweep(morris_sweep, "y", n_boot=0)
    design = morris_trajectories(ISHIGAMI_BOUNDS, 20, 4, seed=0)
    direct = morris_indices(design.X, ishigami(design.X), 20, bounds=ISHIGAMI_BOUNDS, n_boot=0)
    # The sweep file does not record bounds: the observed range stands in (the grid reaches both ends).
    np.testing.assert_allclose(result["mu_star"], direct["mu_star"])
    np.testing.assert_allclose(result["sigma"], direct["sigma"])
    assert elementary_effects(design.X, ishigami(design.X), 20).shape == (20, 3)


def test_a_grid_sweep_has_no_sensitivity_indices(grid_sweep):
    with pytest.raises(ValueError, match="sobol"):
        sensitivity_from_sweep(grid_sweep, "gini")
    assert ca.is_sweep(grid_sweep)
