"""Sweeps: designs, the sweep file, parallel runs, failure isolation, flat memory."""
import os
import time
import subprocess

import h5py
import numpy as np
import pytest
import xarray as xr

from cli_support import SMALL

TINY = SMALL.replace("steps = 20", "steps = 10").replace("agents = 1000", "agents = 200")


def strings(dataset):
    return [v.decode() if isinstance(v, bytes) else v for v in dataset[:]]


def sweep(sim, scenario, out, *args, check=0):
    return sim("sweep", scenario(TINY), "--out", out, "--quiet", *args, check=check)


def test_grid_runs_every_combination_times_replicas(sim, scenario, tmp_path):
    out = tmp_path / "grid.h5"
    sweep(sim, scenario, out, "--vary", "exchange.rule=random,saving", "--vary", "exchange.saving=0:0.6:3",
          "--replicas", "2")
    with h5py.File(out, "r") as f:
        assert f["series/gini"].shape == (12, 11)
        assert strings(f["runs/exchange.rule"]) == ["random"] * 6 + ["saving"] * 6
        assert list(f["runs/exchange.saving"][:]) == [0, 0, 0.3, 0.3, 0.6, 0.6] * 2
        assert list(f["runs/replicate"][:]) == [0, 1] * 6
        assert list(f["runs/point"][:]) == [p for p in range(6) for _ in range(2)]
        assert strings(f["runs/status"]) == ["complete"] * 12
        assert f["sweep"].attrs["design"] == "grid"
        assert f["meta"].attrs["status"] == "complete" and f["meta"].attrs["runs_failed"] == 0
        assert np.all(np.isfinite(f["series/gini"][:]))
        # saving narrows the distribution: at the last step, lambda = 0.6 has the lowest Gini
        gini = f["series/gini"][:, -1]
        assert gini[10] < gini[6] and gini[11] < gini[7]
    ds = xr.open_dataset(out, engine="h5netcdf", group="series")
    assert ds["gini"].dims == ("run", "step")
    runs = xr.open_dataset(out, engine="h5netcdf", group="runs")
    assert runs["exchange.saving"].dims == ("run",)


def splitmix_seed(base, run):
    mask = (1 << 64) - 1
    z = (base + (run + 1) * 0x9E3779B97F4A7C15) & mask
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
    z ^= z >> 31
    return z & ((1 << 53) - 1)


def test_run_seeds_follow_the_documented_hash(sim, scenario, tmp_path):
    out = tmp_path / "seeds.h5"
    sweep(sim, scenario, out, "--vary", "exchange.saving=0:0.5:2", "--replicas", "3", "--seed", "42")
    with h5py.File(out, "r") as f:
        assert [int(s) for s in f["runs/seed"][:]] == [splitmix_seed(42, r) for r in range(6)]
        # replicates differ, and a replicate differs from another point's
        gini = f["series/gini"][:, -1]
        assert len(set(gini)) == 6


def test_jobs_and_threads_do_not_change_the_file(sim, scenario, tmp_path):
    outs = []
    for jobs, threads in [(1, 1), (2, 1), (3, 2)]:
        out = tmp_path / f"j{jobs}.h5"
        sweep(sim, scenario, out, "--vary", "exchange.rule=random,saving,yard_sale",
              "--vary", "exchange.chi=0:0.2:3", "--replicas", "2", "--jobs", jobs, "--threads", threads)
        outs.append(out)
    for other in outs[1:]:
        for group in ["/series", "/runs"]:
            r = subprocess.run(["h5diff", str(outs[0]), str(other), group, group], capture_output=True, text=True)
            assert r.returncode == 0, r.stdout + r.stderr


def test_a_run_of_a_sweep_equals_the_single_run(sim, scenario, tmp_path):
    out = tmp_path / "one.h5"
    sweep(sim, scenario, out, "--vary", "exchange.saving=0.4:0.4:1", "--set", "exchange.rule=saving", "--seed", "5")
    with h5py.File(out, "r") as f:
        seed = int(f["runs/seed"][0])
        swept = f["series/gini"][0]
    single = tmp_path / "single.h5"
    sim("run", scenario(TINY), "--out", single, "--quiet", "--set", "exchange.rule=saving", "--set",
        "exchange.saving=0.4", "--seed", seed, check=0)
    with h5py.File(single, "r") as f:
        assert f["series/gini"][:].tobytes() == swept.tobytes()


def test_latin_hypercube_fills_every_stratum_once(sim, scenario, tmp_path):
    out = tmp_path / "lhs.h5"
    sweep(sim, scenario, out, "--design", "lhs", "--samples", "8", "--vary", "exchange.chi=0:0.8",
          "--vary", "exchange.saving=0.1:0.5")
    with h5py.File(out, "r") as f:
        chi = f["runs/exchange.chi"][:]
        saving = f["runs/exchange.saving"][:]
    assert len(chi) == 8
    assert sorted(np.floor(chi / 0.1).astype(int)) == list(range(8))
    assert sorted(np.floor((saving - 0.1) / 0.05).astype(int)) == list(range(8))


def test_sobol_design_is_saltelli_a_b_and_ab_i(sim, scenario, tmp_path):
    out = tmp_path / "sobol.h5"
    n, k = 5, 2
    sweep(sim, scenario, out, "--design", "sobol", "--samples", n, "--vary", "exchange.chi=0:1",
          "--vary", "exchange.saving=0:0.9")
    with h5py.File(out, "r") as f:
        x = np.column_stack([f["runs/exchange.chi"][:], f["runs/exchange.saving"][:]])
    assert x.shape == (n * (k + 2), k)
    a, b = x[:n], x[n:2 * n]
    for i in range(k):
        ab = x[(2 + i) * n:(3 + i) * n]
        expected = a.copy()
        expected[:, i] = b[:, i]
        assert np.array_equal(ab, expected)
    assert np.all((x[:, 0] >= 0) & (x[:, 0] <= 1)) and np.all((x[:, 1] >= 0) & (x[:, 1] <= 0.9))


def test_morris_trajectories_move_one_factor_at_a_time(sim, scenario, tmp_path):
    out = tmp_path / "morris.h5"
    r, k, levels = 3, 2, 4
    sweep(sim, scenario, out, "--design", "morris", "--samples", r, "--levels", levels,
          "--vary", "exchange.chi=0:1", "--vary", "exchange.saving=0:0.9")
    with h5py.File(out, "r") as f:
        x = np.column_stack([f["runs/exchange.chi"][:], f["runs/exchange.saving"][:] / 0.9])
    assert x.shape == (r * (k + 1), k)
    delta = levels / (2 * (levels - 1))
    for t in range(r):
        traj = x[t * (k + 1):(t + 1) * (k + 1)]
        moved = sorted(int(np.flatnonzero(~np.isclose(traj[i + 1], traj[i]))[0]) for i in range(k))
        assert moved == list(range(k))  # each factor moves exactly once
        steps = np.abs(np.diff(traj, axis=0)).sum(axis=1)
        assert np.allclose(steps, delta)
        assert np.all((traj >= -1e-12) & (traj <= 1 + 1e-12))


def test_a_failed_run_is_recorded_and_the_sweep_goes_on(sim, scenario, tmp_path):
    out = tmp_path / "fail.h5"
    r = sweep(sim, scenario, out, "--set", "exchange.rule=saving", "--set", "exchange.saving=0.5",
              "--set", "exchange.saving_distribution=uniform", "--vary", "exchange.saving_min=0:0.9:3", check=None)
    assert r.returncode == 3
    with h5py.File(out, "r") as f:
        assert strings(f["runs/status"]) == ["complete", "complete", "failed"]
        errors = strings(f["runs/error"])
        assert errors[:2] == ["", ""] and "saving_min = 0.9 is above exchange.saving = 0.5" in errors[2]
        assert np.all(np.isnan(f["series/gini"][2])) and np.all(np.isfinite(f["series/gini"][:2]))
        assert f["meta"].attrs["runs_failed"] == 1


def test_bad_sweep_specifications_exit_2(sim, scenario, tmp_path):
    path = scenario(TINY)
    r = sim("sweep", path, "--vary", "exchange.chii=0:1:2")
    assert r.returncode == 2 and "did you mean 'exchange.chi'" in r.stderr
    r = sim("sweep", path, "--design", "lhs", "--samples", "4", "--vary", "exchange.rule=random,saving")
    assert r.returncode == 2 and "needs a numeric range" in r.stderr
    r = sim("sweep", path, "--vary", "exchange.saving=0:1.5:3")
    assert r.returncode == 2 and "allowed range" in r.stderr
    r = sim("sweep", path, "--vary", "exchange.saving=0:0.5")
    assert r.returncode == 2 and "lo:hi:n" in r.stderr
    r = sim("sweep", path)
    assert r.returncode == 2 and "at least one --vary" in r.stderr
    keep = tmp_path / "keep.h5"
    keep.write_bytes(b"results")
    r = sim("sweep", path, "--vary", "exchange.saving=0:0.5:2", "--out", keep)
    assert r.returncode == 2 and keep.read_bytes() == b"results"


def peak_rss_mib(binary, args, cwd):
    proc = subprocess.Popen([str(binary), *map(str, args)], cwd=cwd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, proc.stderr.read()
    return usage.ru_maxrss / 1024


def test_memory_does_not_grow_with_the_number_of_runs(binary, scenario, tmp_path):
    """Finished runs go to disk: 3000 runs need no more memory than 300 (within 8 MiB)."""
    path = scenario(TINY.replace("agents = 200", "agents = 20").replace("steps = 10", "steps = 5"))
    common = ["sweep", path, "--quiet", "--jobs", "2", "--threads", "1"]
    small = peak_rss_mib(binary, common + ["--vary", "exchange.chi=0:1:300", "--out", tmp_path / "a.h5"], tmp_path)
    large = peak_rss_mib(binary, common + ["--vary", "exchange.chi=0:1:3000", "--out", tmp_path / "b.h5"], tmp_path)
    with h5py.File(tmp_path / "b.h5", "r") as f:
        assert f["series/gini"].shape[0] == 3000
        assert np.all(np.isfinite(f["series/gini"][:]))
    assert large - small < 8, f"300 runs: {small:.1f} MiB, 3000 runs: {large:.1f} MiB"


SWEEP_SECTION = TINY + """
[sweep]
replicas = 2
vary.exchange.saving = 0:0.6:3
vary.exchange.rule = random,saving
"""


def test_a_sweep_section_carries_the_whole_question(sim, scenario, tmp_path):
    path = scenario(SWEEP_SECTION, name="question.ini")
    sim("sweep", path, "--out", tmp_path / "q.h5", "--quiet", check=0)
    with h5py.File(tmp_path / "q.h5", "r") as f:
        assert f["series/gini"].shape == (12, 11)  # 2 rules x 3 savings x 2 replicas
        assert f["sweep"].attrs["replicates"] == 2
        assert list(f["sweep"].attrs["factors"]) == ["exchange.rule", "exchange.saving"]
    # the command line wins: --vary replaces the file's list, --replicas its count
    sim("sweep", path, "--out", tmp_path / "c.h5", "--quiet", "--vary", "exchange.chi=0:0.1:2", "--replicas", "1",
        check=0)
    with h5py.File(tmp_path / "c.h5", "r") as f:
        assert f["series/gini"].shape[0] == 2 and list(f["sweep"].attrs["factors"]) == ["exchange.chi"]
    # a plain run of the same file ignores [sweep]
    sim("run", path, "--out", tmp_path / "r.h5", "--quiet", check=0)


def test_a_misspelt_varied_parameter_in_the_file_names_its_line(sim, scenario):
    path = scenario(SWEEP_SECTION.replace("vary.exchange.rule", "vary.exchange.rulle"), name="typo.ini")
    r = sim("sweep", path)
    assert r.returncode == 2 and "typo.ini:13" in r.stderr and "sweep.vary.exchange.rule" in r.stderr


SHARDED = ["--vary", "exchange.saving=0:0.8:4", "--vary", "exchange.rule=random,saving", "--replicas", "2"]


def h5diff_groups(a, b, *groups):
    for group in groups:
        r = subprocess.run(["h5diff", str(a), str(b), group, group], capture_output=True, text=True)
        assert r.returncode == 0, f"{group}: {r.stdout}{r.stderr}"


def test_shards_merge_into_the_serial_sweep(sim, scenario, tmp_path):
    path = scenario(TINY)
    sim("sweep", path, *SHARDED, "--out", tmp_path / "serial.h5", "--quiet", check=0)
    parts = []
    for i in range(3):
        part = tmp_path / f"part{i}.h5"
        sim("sweep", path, *SHARDED, "--shard", f"{i}/3", "--out", part, "--quiet", check=0)
        parts.append(part)
    with h5py.File(parts[1], "r") as f:
        assert strings(f["runs/status"]) == ["complete" if r % 3 == 1 else "" for r in range(16)]
    sim("merge", *parts, "--out", tmp_path / "merged.h5", "--quiet", check=0)
    h5diff_groups(tmp_path / "serial.h5", tmp_path / "merged.h5", "/series", "/runs")
    with h5py.File(tmp_path / "merged.h5", "r") as f:
        assert f["meta"].attrs["status"] == "complete" and f["meta"].attrs["runs_complete"] == 16


def test_merge_refuses_what_does_not_fit(sim, scenario, tmp_path):
    path = scenario(TINY)
    sim("sweep", path, *SHARDED, "--shard", "0/2", "--out", tmp_path / "a.h5", "--quiet", check=0)
    sim("sweep", path, *SHARDED, "--shard", "1/2", "--seed", "9", "--out", tmp_path / "other.h5", "--quiet", check=0)
    sim("run", path, "--out", tmp_path / "run.h5", "--quiet", check=0)
    r = sim("merge", tmp_path / "a.h5", tmp_path / "other.h5", "--out", tmp_path / "m.h5")
    assert r.returncode == 2 and "another sweep" in r.stderr and not (tmp_path / "m.h5").exists()
    r = sim("merge", tmp_path / "a.h5", tmp_path / "run.h5", "--out", tmp_path / "m.h5")
    assert r.returncode == 2 and "not a sweep file" in r.stderr
    r = sim("merge", tmp_path / "a.h5", tmp_path / "a.h5", "--out", tmp_path / "m.h5")
    assert r.returncode == 2 and "run 0 is in both" in r.stderr
    r = sim("merge", tmp_path / "a.h5", "--out", tmp_path / "m.h5")
    assert r.returncode == 3 and "incomplete" in r.stderr
    r = sim("sweep", path, *SHARDED, "--shard", "2/2")
    assert r.returncode == 2 and "0 <= i < n" in r.stderr


def complete_runs(path):
    with h5py.File(path, "r") as f:
        return strings(f["runs/status"]).count("complete")


def test_a_killed_sweep_resumes_to_the_uninterrupted_result(binary, sim, scenario, tmp_path):
    path = scenario(TINY.replace("steps = 10", "steps = 300").replace("agents = 200", "agents = 2000"))
    args = ["--vary", "exchange.chi=0:0.1:200", "--quiet", "--jobs", "2", "--threads", "1"]
    start = time.perf_counter()
    sim("sweep", path, *args, "--out", tmp_path / "whole.h5", check=0, timeout=300)
    whole = time.perf_counter() - start
    # The writer holds the file locked, so kill it a third of the way through, by the clock.
    cut = tmp_path / "cut.h5"
    proc = subprocess.Popen([str(binary), "sweep", str(path), *args, "--out", str(cut)])
    time.sleep(whole / 3)
    proc.kill()
    proc.wait()
    before = complete_runs(cut)
    assert 0 < before < 200, "the sweep should have been cut part-way"
    sim("sweep", path, *args, "--out", cut, "--resume", check=0, timeout=300)
    h5diff_groups(tmp_path / "whole.h5", cut, "/series", "/runs")
    with h5py.File(cut, "r") as f:
        assert f["meta"].attrs["status"] == "complete" and f["meta"].attrs["runs_complete"] == 200
    # resuming a finished sweep runs nothing and changes nothing
    sim("sweep", path, *args, "--out", cut, "--resume", check=0)
    h5diff_groups(tmp_path / "whole.h5", cut, "/series", "/runs")


def test_resume_refuses_another_sweep_or_a_broken_file(sim, scenario, tmp_path):
    path = scenario(TINY)
    out = tmp_path / "s.h5"
    sim("sweep", path, "--vary", "exchange.chi=0:0.1:3", "--out", out, "--quiet", check=0)
    before = out.read_bytes()
    r = sim("sweep", path, "--vary", "exchange.chi=0:0.2:3", "--out", out, "--resume")
    assert r.returncode == 2 and "holds another sweep (its design differs)" in r.stderr
    r = sim("sweep", path, "--vary", "exchange.chi=0:0.1:3", "--set", "exchange.agents=300", "--out", out, "--resume")
    assert r.returncode == 2 and "scenario differs" in r.stderr
    assert out.read_bytes() == before
    broken = tmp_path / "broken.h5"
    broken.write_bytes(before[: len(before) // 2])
    r = sim("sweep", path, "--vary", "exchange.chi=0:0.1:3", "--out", broken, "--resume")
    assert r.returncode == 2 and "cannot resume" in r.stderr


def test_mpi_ranks_write_the_same_file_as_one_process(binary, sim, scenario, tmp_path):
    """serial = --jobs 2 = mpirun -np 2 = mpirun -np 3, dataset for dataset (scripts/test installs OpenMPI)."""
    version = sim("--version", check=0).stdout
    assert "MPI" in version, "this build has no MPI: install libopenmpi-dev (scripts/install-deps test) and rebuild"
    path = scenario(TINY)
    args = ["--vary", "exchange.saving=0:0.8:4", "--vary", "exchange.rule=random,saving,yard_sale", "--replicas", "2",
            "--quiet"]
    sim("sweep", path, *args, "--out", tmp_path / "serial.h5", check=0)
    sim("sweep", path, *args, "--jobs", "2", "--out", tmp_path / "jobs.h5", check=0)
    h5diff_groups(tmp_path / "serial.h5", tmp_path / "jobs.h5", "/series", "/runs")
    for ranks in (2, 3):
        out = tmp_path / f"mpi{ranks}.h5"
        r = subprocess.run(["mpirun", "--allow-run-as-root", "--oversubscribe", "-np", str(ranks), str(binary), "sweep",
                            str(path), *args, "--out", str(out)], capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stdout + r.stderr
        h5diff_groups(tmp_path / "serial.h5", out, "/series", "/runs")
        with h5py.File(out, "r") as f:
            assert f["meta"].attrs["ranks"] == ranks and len(f["meta"].attrs["hosts"]) == ranks
    # bad input stops every rank with one message and exit code 2
    r = subprocess.run(["mpirun", "--allow-run-as-root", "--oversubscribe", "-np", "3", str(binary), "sweep", str(path),
                        *args, "--out", str(tmp_path / "serial.h5")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and (r.stdout + r.stderr).count("exists; use --overwrite") == 1


@pytest.mark.parametrize("name", ["exchange_sweep", "cpr_sweep"])
def test_shipped_sweeps_give_the_same_file_with_and_without_mpi(binary, sim, source_dir, tmp_path, name):
    path = source_dir / "scenarios" / f"{name}.ini"
    sim("sweep", path, "--out", tmp_path / "serial.h5", "--quiet", check=0)
    r = subprocess.run(["mpirun", "--allow-run-as-root", "--oversubscribe", "-np", "3", str(binary), "sweep", str(path),
                        "--out", str(tmp_path / "mpi.h5"), "--quiet"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    h5diff_groups(tmp_path / "serial.h5", tmp_path / "mpi.h5", "/series", "/runs")
