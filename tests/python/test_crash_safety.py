"""Crash safety: runs and sweeps killed with SIGKILL at random moments leave files that open,
hold only complete steps and runs, and resume to the uninterrupted result bit for bit; a full
disk (a file-size limit) gives a clear error and never a file that claims to be complete.

The kill moments come from a seeded generator (SIM_CRASH_SEED, default 5), so a failure is
reproducible; the number of kills is bounded (SIM_CRASH_KILLS per kind, default 6) and so is
the time (about 40 s on two cores)."""
import os
import random
import resource
import signal
import subprocess
import time

import h5py
import numpy as np
import pytest

SEED = int(os.environ.get("SIM_CRASH_SEED", "5"))
KILLS = int(os.environ.get("SIM_CRASH_KILLS", "6"))

RUN = """[sim]
model = exchange
steps = 1500
seed = 8
record_every = 5

[exchange]
agents = 8000
rule = yard_sale
chi = 0.1
zeta = 0.05
"""

SWEEP_SCENARIO = """[sim]
model = exchange
steps = 600
seed = 2

[exchange]
agents = 1000
rule = yard_sale
"""
SWEEP = ["--vary", "exchange.chi=0:0.2:96", "--jobs", "2", "--threads", "1", "--quiet"]


def h5diff(a, b, *groups):
    for group in groups:
        r = subprocess.run(["h5diff", str(a), str(b), group, group], capture_output=True, text=True)
        assert r.returncode == 0, f"{group}: {r.stdout}{r.stderr}"


def timed(args, cwd, timeout=300):
    start = time.perf_counter()
    r = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, r.stderr
    return time.perf_counter() - start


def kill_after(args, cwd, seconds):
    proc = subprocess.Popen(args, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(seconds)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    return proc.returncode


def strings(dataset):
    return [v.decode() if isinstance(v, bytes) else v for v in dataset[:]]


def test_runs_killed_at_random_moments_keep_complete_steps_and_resume_bitwise(binary, tmp_path):
    scenario = tmp_path / "run.ini"
    scenario.write_text(RUN)
    whole = tmp_path / "whole.h5"
    base = [str(binary), "run", str(scenario), "--threads", "2", "--quiet"]
    duration = timed([*base, "--out", str(whole)], tmp_path)
    with h5py.File(whole, "r") as f:
        reference = {name: f["series"][name][:] for name in f["series"]}
        reference_flows = f["flows/matrix"][:]
    rng = random.Random(SEED)
    resumed = 0
    for kill in range(KILLS):
        out = tmp_path / f"cut{kill}.h5"
        checkpoint = tmp_path / f"cut{kill}.h5.checkpoint"
        moment = rng.uniform(0.05, duration * 0.9)
        kill_after([*base, "--out", str(out), "--checkpoint-every", str(rng.choice([50, 100, 250])),
                    "--flush-every", str(rng.choice([1, 10, 40]))], tmp_path, moment)
        if not out.exists():
            continue  # killed before the file was created: nothing to check
        # The file opens as a SWMR reader and its records, those present in every dataset (HDF5
        # writes each dataset's length at a flush, in no fixed order, so a kill inside a flush can
        # leave some longer: docs/output.md), are whole and the uninterrupted ones, and include
        # every step up to /meta/progress.
        with h5py.File(out, "r", libver="latest", swmr=True) as f:
            n = min(f["series"][name].shape[0] for name in reference)
            steps = f["series/step"][:n]
            for name, values in reference.items():
                assert np.array_equal(f["series"][name][:n], values[:n], equal_nan=True), f"kill {kill}: {name}"
            flows_n = min(f["flows/step"].shape[0], f["flows/matrix"].shape[0])
            assert np.array_equal(f["flows/matrix"][:flows_n], reference_flows[:flows_n])
            progress = f["meta/progress"][()]  # 0 until the first flush
            assert progress == 0 or np.count_nonzero(reference["step"] <= progress) <= min(n, flows_n), \
                f"kill {kill} at {moment:.2f} s: a step up to /meta/progress ({progress}) is missing"
            assert progress <= (steps[-1] if n else 0)
        if checkpoint.exists():
            r = subprocess.run([str(binary), "resume", str(checkpoint), "--threads", "1", "--quiet"],
                               cwd=tmp_path, capture_output=True, text=True, timeout=300)
            assert r.returncode == 0, f"kill {kill} at {moment:.2f} s: {r.stderr}"
            h5diff(whole, out, "/series", "/flows")
            with h5py.File(out, "r") as f:
                assert f["meta"].attrs["status"] == "complete"
            resumed += 1
    assert resumed >= KILLS // 2, f"only {resumed} of {KILLS} kills left a checkpoint to resume"


def test_sweeps_killed_at_random_moments_keep_complete_runs_and_resume_bitwise(binary, tmp_path):
    scenario = tmp_path / "sweep.ini"
    scenario.write_text(SWEEP_SCENARIO)
    whole = tmp_path / "whole.h5"
    base = [str(binary), "sweep", str(scenario), *SWEEP]
    duration = timed([*base, "--out", str(whole)], tmp_path)
    with h5py.File(whole, "r") as f:
        names = [n for n in f["series"] if f["series"][n].ndim == 2]
        reference = {n: f["series"][n][:] for n in names}
    rng = random.Random(SEED + 1)
    kept = 0
    for kill in range(KILLS):
        out = tmp_path / f"cut{kill}.h5"
        # every other kill after the first flush (the sweep writer flushes once a second)
        moment = rng.uniform(0.05, duration * 0.9) if kill % 2 == 0 else rng.uniform(1.2, max(1.3, duration * 0.9))
        kill_after([*base, "--out", str(out)], tmp_path, moment)
        if not out.exists():
            continue
        # Runs marked complete hold exactly the uninterrupted values; the others are empty.
        with h5py.File(out, "r") as f:
            status = strings(f["runs/status"])
            kept += status.count("complete")
            for r, s in enumerate(status):
                assert s in ("", "complete"), f"kill {kill}: run {r} has status {s!r}"
                if s == "complete":
                    for n in names:
                        assert np.array_equal(f["series"][n][r], reference[n][r], equal_nan=True), \
                            f"kill {kill} at {moment:.2f} s: run {r}, {n}"
        r = subprocess.run([*base, "--out", str(out), "--resume"], cwd=tmp_path, capture_output=True, text=True,
                           timeout=300)
        assert r.returncode == 0, f"kill {kill} at {moment:.2f} s: {r.stderr}"
        h5diff(whole, out, "/series", "/runs")
    assert kept > 0, "no kill came after a flush: the check of complete runs was never made"


def limited(megabytes):
    """A child with a file-size limit, SIGXFSZ ignored so that write() fails with EFBIG."""
    def apply():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        limit = int(megabytes * 1024 * 1024)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


@pytest.mark.parametrize("what", ["run", "checkpoint", "sweep"])
def test_a_full_disk_gives_a_clear_error_and_no_file_that_claims_to_be_complete(binary, tmp_path, what):
    scenario = tmp_path / "s.ini"
    out = tmp_path / "out.h5"
    if what == "sweep":
        scenario.write_text(SWEEP_SCENARIO.replace("steps = 600", "steps = 2000").replace("agents = 1000", "agents = 100"))
        args = ["sweep", scenario, "--vary", "exchange.chi=0:0.2:400", "--threads", "1", "--quiet", "--out", out]
        megabytes = 1.0
    else:
        scenario.write_text(RUN.replace("record_every = 5", "record_every = 1").replace("agents = 8000", "agents = 1000"))
        args = ["run", scenario, "--quiet", "--out", out, "--threads", "1"]
        megabytes = 0.25
        if what == "checkpoint":
            # the output fits; the first checkpoint (8000 agents of 8 bytes and more) does not
            scenario.write_text(RUN.replace("steps = 1500", "steps = 300").replace("record_every = 5", "record_every = 50"))
            args += ["--checkpoint-every", "100"]
            megabytes = 0.03
    r = subprocess.run([str(binary), *map(str, args)], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                       preexec_fn=limited(megabytes))
    assert r.returncode > 0, f"exit {r.returncode} (a negative code is a signal: a crash): {r.stderr}"
    assert r.returncode in (2, 3), r.stderr
    assert r.stderr.count("\n") == 1, f"not one line: {r.stderr!r}"
    assert "File too large" in r.stderr or "too large" in r.stderr or "write" in r.stderr, r.stderr
    if out.exists():
        try:
            f = h5py.File(out, "r", libver="latest", swmr=True)
        except OSError:
            return  # a file HDF5 cannot open claims nothing
        with f:
            try:
                status = f["meta"].attrs["status"]
            except (KeyError, OSError):
                return  # its status cannot be read: it claims nothing
            assert status != "complete", "a file cut short by a full disk claims to be complete"
