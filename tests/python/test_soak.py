"""Soak: a long sweep's memory, sampled over time, does not grow.

A sweep of many short runs goes on for SIM_SOAK_SECONDS (default 45, enough for thousands of
runs in CI; set hours for a real soak: SIM_SOAK_SECONDS=14400), timed from the moment its file
appears (its layout written, the runs starting). Its resident memory (VmRSS,
/proc) is sampled twice a second. After a warm-up (the first quarter, at least 5 s: thread
pools, HDF5 caches and the allocator settle), the median of the last ten samples may exceed the
median of the first ten after the warm-up by at most max(8 MiB, 5 %); the test prints the
smallest leak per run that this would have caught (tolerance / runs finished: 8 KiB per run for
the 1000 runs of a 45 s soak on a busy two-core machine, less on an idle one, bytes per run for
an hour-long soak). The
peak (VmHWM) may exceed that median by the tolerance plus 16 MiB (a run's own working memory). The sweep then stops with SIGTERM and its
file must say `interrupted` and hold only complete runs.
"""
import os
import signal
import statistics
import subprocess
import time

import h5py

SECONDS = float(os.environ.get("SIM_SOAK_SECONDS", "45"))

SCENARIO = """[sim]
model = exchange
steps = 200
seed = 12
record_every = 4

[exchange]
agents = 2000
rule = yard_sale
chi = 0.05
"""


def memory_kib(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0])
    return fields["VmRSS"], fields["VmHWM"]


def test_a_long_sweep_holds_its_memory_flat(binary, tmp_path):
    path = tmp_path / "soak.ini"
    path.write_text(SCENARIO)
    out = tmp_path / "soak.h5"
    # more runs than the soak can finish (a run takes about 10 ms on one core)
    samples = min(5_000_000, max(20_000, int(SECONDS * 400)))
    proc = subprocess.Popen([str(binary), "sweep", str(path), "--vary", "exchange.chi=0:0.2",
                             "--vary", "exchange.zeta=0:0.1", "--design", "lhs", "--samples", str(samples), "--jobs", "2", "--threads", "1", "--quiet", "--out", str(out)],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # The file appears under its name once its layout is written: the runs start then.
    deadline = time.monotonic() + 300
    while not out.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert out.exists(), "the sweep file did not appear"
    memory = []
    start = time.monotonic()
    try:
        while time.monotonic() - start < SECONDS:
            assert proc.poll() is None, f"the sweep ended early: {proc.communicate()}"
            memory.append((time.monotonic() - start, *memory_kib(proc.pid)))
            time.sleep(0.5)
    finally:
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 143, f"exit {proc.returncode}: {stderr}"

    warm = max(5.0, SECONDS / 4)
    settled = [(t, rss, hwm) for t, rss, hwm in memory if t >= warm]
    assert len(settled) >= 20, f"only {len(settled)} samples after the warm-up"
    first = statistics.median(rss for _, rss, _ in settled[:10])
    last = statistics.median(rss for _, rss, _ in settled[-10:])
    peak = settled[-1][2]
    tolerance = max(8 * 1024, 0.05 * first)
    report = (f"VmRSS {first / 1024:.1f} MiB after the warm-up, {last / 1024:.1f} MiB at the end, "
              f"peak {peak / 1024:.1f} MiB over {memory[-1][0]:.0f} s, tolerance {tolerance / 1024:.1f} MiB")
    print(report)
    assert last - first <= tolerance, "memory grew: " + report
    assert peak - first <= tolerance + 16 * 1024, "the peak grew: " + report

    with h5py.File(out, "r") as f:
        assert f["meta"].attrs["status"] == "interrupted"
        status = [s.decode() if isinstance(s, bytes) else s for s in f["runs/status"][:]]
        done = status.count("complete")
        assert done >= 100, f"only {done} runs in {SECONDS} s: too few to show a leak"
        assert set(status) <= {"", "complete"}
        print(f"{done} runs complete: a leak of {tolerance * 1024 / done:.0f} bytes per run or more would have shown")
