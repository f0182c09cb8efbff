"""Runs the benchmark set and writes docs/performance.md and docs/performance.png (see scripts/bench)."""
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build"
DOC = ROOT / "docs" / "performance.md"
PLOT = ROOT / "docs" / "performance.png"
RESULTS = BUILD / "bench-results.json"  # the latest result of every benchmark, kept between runs
REPEATS = int(os.environ.get("SIM_BENCH_REPEATS", "5"))
# SIM_BENCH_QUICK=1 checks the script itself: a few steps and runs, the report under build/.
QUICK = os.environ.get("SIM_BENCH_QUICK") == "1"
if QUICK:
    DOC = BUILD / "bench-quick.md"
    PLOT = BUILD / "bench-quick.png"
    RESULTS = BUILD / "bench-quick.json"
CORES = os.cpu_count() or 1
THREADS = [t for t in (1, 2, 4, 8, 16) if t <= CORES]
GIB = 1024 ** 3

sys.path.insert(0, str(ROOT / "tests" / "perf"))
import perf_guard  # noqa: E402  (instruction counts under callgrind)


# ---------------------------------------------------------------------------- running

def timed(cmd):
    """Wall seconds, peak resident memory (bytes), stdout and stderr of one run of cmd (its own
    rusage, by wait4, so the peak is the child's alone)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            sys.exit(f"benchmark command failed ({proc.returncode}): {' '.join(cmd)}\n{err.read().decode()[-3000:]}")
        return wall, usage.ru_maxrss * 1024, out.read().decode(), err.read().decode()


def best_of(cmd, repeats=None):
    """(best wall, median wall, peak bytes of the best run, stderr of the best run) over the repeats."""
    return best_of_each([cmd], repeats)[0]


def best_of_each(cmds, repeats=None):
    """best_of() for each command, run in turns (1, 2, 1, 2, ...), so that a spell of load from
    outside, which on a shared virtual machine can last minutes, falls on all of them alike
    rather than on one: speed-ups compare runs made under the same conditions."""
    runs = [[] for _ in cmds]
    for _ in range(repeats or REPEATS):
        for i, cmd in enumerate(cmds):
            runs[i].append(timed(cmd))
    result = []
    for r in runs:
        r.sort(key=lambda run: run[0])
        result.append((r[0][0], r[len(r) // 2][0], r[0][1], r[0][3]))
    return result


def parse_timings(stderr):
    """part -> wall seconds from the table `commons-sim run --timings` prints."""
    parts = {}
    for line in stderr.splitlines():
        m = re.match(r"^  (\S.*?)\s+([0-9.]+) s\s+[0-9.]+ %$", line)
        if m:
            parts[m.group(1)] = float(m.group(2))
    return parts


OUTPUT_PARTS = ("conservation check", "measuring outputs", "writing the output file")


def output_share(timings):
    """Share of the run's wall time in the conservation check, measuring and writing the outputs."""
    return sum(timings.get(p, 0.0) for p in OUTPUT_PARTS) / timings["whole run"]


def sim_cmd(tmp, scenario, threads, *extra):
    quick = ["--steps", "4"] if QUICK and "--steps" not in extra else []
    if QUICK and scenario.name == "cpr_100k.ini":
        quick += ["--set", "cpr.regime=0:open_access, 1:market, 2:state, 3:commons"]
    return [str(BUILD / "commons-sim"), "run", str(scenario), "--out", f"{tmp}/bench.h5", "--overwrite",
            "--quiet", "--timings", "--threads", str(threads), *quick, *extra]


def read_scenario(path):
    """section.key -> value of a scenario file, its `include =` files read first (as the CLI does)."""
    path = Path(path)
    values, own, section = {}, {}, None
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].split(";", 1)[0].strip()
        if not line:
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
        elif "=" in line:
            key, value = (x.strip() for x in line.split("=", 1))
            if section is None and key == "include":
                values.update(read_scenario(path.parent / value))
            elif section is not None:
                own[f"{section}.{key}"] = value
    values.update(own)
    return values


def scenario_info(path, agents_key):
    """(agents, steps, record_every) of a scenario file."""
    values = read_scenario(path)
    steps = 4 if QUICK else int(values["sim.steps"])
    return int(values[agents_key]), steps, int(values.get("sim.record_every", "1"))


def load():
    return os.getloadavg()[0]


def machine():
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1)) / 1024 / 1024
    cxx = subprocess.run(["c++", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    return f"{cpu}, {CORES} cores, {mem:.0f} GiB, {platform.system()} {platform.release()}; {cxx}"


def flags():
    cache = (BUILD / "CMakeCache.txt").read_text()
    def get(key):
        m = re.search(rf"^{key}:\w+=(.*)$", cache, re.M)
        return m.group(1).strip() if m else ""
    return f"{get('CMAKE_CXX_FLAGS')} {get('CMAKE_CXX_FLAGS_RELEASE')} -fopenmp".strip()


# ---------------------------------------------------------------------------- one model

def model_benchmark(key, title, scenario, agents_key, reference=None, marginal_set=None, threads=None,
                    repeats=None, overhead=True):
    """Scaling over threads, memory, bytes per agent and output overhead for one scenario.

    marginal_set(n) gives the --set overrides for a run with n agents, to measure the memory
    each added agent costs (peak(N) - peak(N/10)) / (0.9 N), free of the fixed start-up cost.
    """
    scenario = ROOT / scenario
    if not scenario.exists():
        sys.exit(f"bench: {scenario.relative_to(ROOT)} does not exist")
    agents, steps, record_every = scenario_info(scenario, agents_key)
    threads = threads or THREADS
    r = {"title": title, "scenario": str(scenario.relative_to(ROOT)), "agents": agents, "steps": steps,
         "record_every": record_every, "threads": {}, "load_before": load(), "repeats": repeats or REPEATS}
    with tempfile.TemporaryDirectory() as tmp:
        if reference:
            wall, median, peak, _ = best_of(reference, repeats)
            r["reference"] = {"wall": wall, "median": median, "peak": peak, "command": " ".join(
                str(Path(c).relative_to(ROOT)) if c.startswith(str(ROOT)) else c for c in reference)}
        measured = best_of_each([sim_cmd(tmp, scenario, t) for t in threads], repeats)
        for t, (wall, median, peak, err) in zip(threads, measured):
            r["threads"][t] = {"wall": wall, "median": median, "peak": peak, "timings": parse_timings(err)}
            print(f"  {key}: {t} thread(s) {wall:.2f} s (median {median:.2f}), {peak / 2**20:.0f} MiB",
                  file=sys.stderr)
        top = max(threads)
        # Output overhead: the same run recording only at the start and the end, and every step.
        if overhead:
            rare, _, _, _ = best_of(sim_cmd(tmp, scenario, top, "--record-every", str(steps)), repeats)
            r["rare_output_wall"] = rare
        if overhead and record_every != 1 and steps * agents <= 2e10:
            every, _, _, _ = best_of(sim_cmd(tmp, scenario, top, "--record-every", "1"), repeats)
            r["every_step_output_wall"] = every
        if marginal_set:
            small = max(1, agents // 10)
            sets = [a for s in marginal_set(small) for a in ("--set", s)]
            _, peak_small, _, _ = timed(sim_cmd(tmp, scenario, top, *sets))
            r["peak_small"] = peak_small
            r["small_agents"] = small
    r["load_after"] = load()
    return r


def work_shares(case, record_every):
    """Share of instructions in the conservation check and in measure(), at the guard's small
    size, for outputs every `record_every` steps (load-independent)."""
    c = perf_guard.CASES[case]
    with tempfile.TemporaryDirectory() as tmp:
        graph = perf_guard.CallGraph(perf_guard.callgrind(BUILD / "commons-sim", c, tmp))
    step = graph.inclusive(perf_guard.STEP) / c["steps"]
    check = (graph.inclusive("sim::Ledger::check") + graph.inclusive(
        next((fn for callees in graph.calls.values() for fn in callees if fn.endswith("money_in_accounts() const")), "-"))) / c["steps"]
    measure = (graph.inclusive(perf_guard.MEASURE) + graph.inclusive(perf_guard.MEASURE_REGIONS)) / (c["steps"] + 1)
    total = step + measure / record_every
    return {"agents": c["agents"], "check": check / total, "measure": measure / record_every / total}


# ---------------------------------------------------------------------------- the set

def bench_model(key, title, scenario, agents_key, reference=None):
    """One model's benchmark (model_benchmark) with its instruction shares (work_shares)."""
    r = model_benchmark(key, title, scenario, agents_key, reference=reference,
                        marginal_set=lambda n: [f"{agents_key}={n}"])
    r["shares"] = work_shares(key, r["record_every"])
    return r


def bench_exchange():
    ref = [str(BUILD / "exchange_reference"), "1000000", "4" if QUICK else "1000"]
    return bench_model("exchange", "exchange: random exchange, 10^6 agents, 1000 steps, outputs every 100 steps",
                       "scenarios/bench/exchange_million.ini", "exchange.agents", reference=ref)


def bench_cpr():
    return bench_model("cpr", "cpr: fishery, 10^5 harvesters on 100 patches, 1000 steps through all four regimes",
                       "scenarios/bench/cpr_100k.ini", "cpr.harvesters")


def bench_economy():
    return bench_model("economy", "economy: bench/million (10^6 commoners, 10 000 co-ops, 50 platforms, 20 regions, "
                       "120 steps)", "scenarios/bench/million.ini", "economy.commoners")


def bench_economy_10m():
    # One run on all cores: it is about the memory, and it takes minutes.
    return model_benchmark("economy_10m", "economy: 10^7 commoners, 120 steps",
                           "scenarios/bench/economy_10m.ini", "economy.commoners", threads=[max(THREADS)], repeats=1,
                           overhead=False)


def bench_sweep():
    runs = 20 if QUICK else 1000
    scenario = ROOT / "scenarios/workshop.ini"
    agents, steps, _ = scenario_info(scenario, "economy.commoners")
    r = {"title": f"sweep: {runs} workshop-sized economy runs (2 000 commoners, 120 steps), one thread each",
         "runs": runs, "agents": agents, "steps": steps, "jobs": {}, "load_before": load(),
         "repeats": min(REPEATS, 2)}
    with tempfile.TemporaryDirectory() as tmp:
        cmds = [[str(BUILD / "commons-sim"), "sweep", str(scenario), "--vary", f"economy.platform_tax=0:0.4:{runs // 10}",
                 "--replicas", "10", "--jobs", str(jobs),
                 *(["--steps", "4"] if QUICK else []),
                 "--threads", "1", "--out", f"{tmp}/sweep.h5", "--overwrite", "--quiet"] for jobs in THREADS]
        # Best of two turns: a whole sweep takes about a minute, long enough to ride out a short
        # spell of outside load, and a third turn would cost two more minutes.
        for jobs, (wall, median, peak, _) in zip(THREADS, best_of_each(cmds, repeats=r["repeats"])):
            r["jobs"][jobs] = {"wall": wall, "median": median, "peak": peak}
            print(f"  sweep: --jobs {jobs} {wall:.1f} s, {peak / 2**20:.0f} MiB", file=sys.stderr)
    r["load_after"] = load()
    return r


def bench_memory():
    """Reads from memory at random and in order, on each core alone and on all cores at once
    (build/memory_probe pinned with taskset), from an array the size of one of the economy's
    columns at 10^6 commoners (8 MiB) and from one far bigger than the caches (128 MiB): how much
    the other cores add to loops that gather at random, whatever the simulator does."""
    sizes, seconds = ([2, 16], 0.2) if QUICK else ([8, 128], 1.5)
    cores = sorted(os.sched_getaffinity(0))

    def probe(mib, core, *start):
        return ["taskset", "-c", str(core), str(BUILD / "memory_probe"), str(mib), str(seconds), *start]

    def parse(out):
        m = re.match(r"random ([\d.]+) sequential ([\d.]+)", out)
        if not m:
            sys.exit(f"bench: memory_probe printed {out!r}, not 'random NS sequential NS'")
        return {"random": float(m.group(1)), "sequential": float(m.group(2))}

    r = {"title": "memory: random and sequential reads, each core alone and all cores at once",
         "seconds": seconds, "load_before": load(), "sizes": {}}
    for mib in sizes:
        size = r["sizes"][mib] = {"alone": {}, "together": {}}
        for core in cores:
            size["alone"][core] = parse(timed(probe(mib, core))[2])
        # All at once: each copy sets up, then waits for a common start time.
        start = f"{time.time() + 3.0:.3f}"
        procs = [subprocess.Popen(probe(mib, core, start), stdout=subprocess.PIPE, text=True) for core in cores]
        for core, proc in zip(cores, procs):
            out, _ = proc.communicate()
            if proc.returncode != 0:
                sys.exit(f"benchmark command failed ({proc.returncode}): memory_probe on core {core}")
            size["together"][core] = parse(out)
        print(f"  memory, {mib} MiB: " + ", ".join(
            f"core {c} random {size['alone'][c]['random']:.2f} ns alone, {size['together'][c]['random']:.2f} ns "
            "together" for c in cores), file=sys.stderr)
    r["load_after"] = load()
    return r


BENCHMARKS = {"exchange": bench_exchange, "cpr": bench_cpr, "economy": bench_economy,
              "economy_10m": bench_economy_10m, "sweep": bench_sweep, "memory": bench_memory}


# ---------------------------------------------------------------------------- the report

def fmt_mib(b):
    return f"{b / 2**20:.0f}"


def section_model(key, r):
    agent_steps = r["agents"] * r["steps"]
    top = max(int(t) for t in r["threads"])
    one = r["threads"].get("1") or r["threads"].get(1)
    best_top = r["threads"].get(str(top)) or r["threads"].get(top)
    lines = [f"## {r['title']}", "",
             f"Command: `build/commons-sim run {r['scenario']} --threads T` (Release). Wall time of the whole "
             f"process (start-up, initialisation and output included): best and median of "
             + (f"{r['repeats']} runs each, the thread counts taking turns, " if "repeats" in r else "the repeats, ")
             + "agent-steps per second from the best. Load average before/after: "
             f"{r['load_before']:.2f}/{r['load_after']:.2f}. Measured {r['measured']}.", "",
             "| run | best wall s | median wall s | agent-steps/s | speed-up | peak memory MiB |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    if "reference" in r:
        ref = r["reference"]
        lines.append(f"| hand-written loop (`{ref['command']}`), 1 thread | {ref['wall']:.2f} | {ref['median']:.2f} | "
                     f"{agent_steps / ref['wall']:.3g} | | {fmt_mib(ref['peak'])} |")
    for t, v in sorted(r["threads"].items(), key=lambda kv: int(kv[0])):
        speed = one["wall"] / v["wall"] if one else float("nan")
        lines.append(f"| commons-sim, {t} thread{'s' if int(t) > 1 else ''} | {v['wall']:.2f} | {v['median']:.2f} | "
                     f"{agent_steps / v['wall']:.3g} | {speed:.2f}x | {fmt_mib(v['peak'])} |")
    lines.append("")
    peak = best_top["peak"]
    lines.append(f"- Peak memory per agent: {peak / r['agents']:.0f} bytes (whole process / agents)"
                 + (f"; {(peak - r['peak_small']) / (r['agents'] - r['small_agents']):.0f} bytes for each added agent "
                    f"(peak with {r['agents']:,} agents minus peak with {r['small_agents']:,}, over the difference)"
                    if "peak_small" in r else "") + ".")
    if one and top > 1:
        lines.append(f"- {top} threads vs 1: **{one['wall'] / best_top['wall']:.2f}x** (best against best; "
                     f"{one['median'] / best_top['median']:.2f}x median against median).")
    if "reference" in r and one:
        lines.append(f"- commons-sim on 1 thread / hand-written loop: **{one['wall'] / r['reference']['wall']:.2f}x** the time.")
    if key == "economy_10m":
        lines.append(f"- Peak memory {peak / GIB:.2f} GiB (target: at most 5 GiB).")
    if key == "economy" and top >= 2:
        two = r["threads"].get("2") or r["threads"].get(2)
        lines.append(f"- 2 threads: **{two['wall']:.1f} s** (target: at most 24 s); "
                     f"{peak / r['agents']:.0f} bytes per commoner (target: at most 512).")
    for t, v in sorted(r["threads"].items(), key=lambda kv: int(kv[0])):
        tm = v.get("timings")
        if not tm or "whole run" not in tm:
            continue
        phases = sorted(((k[6:], x) for k, x in tm.items() if k.startswith("phase ")), key=lambda kv: -kv[1])
        lines.append(
            f"- Where the time went on {t} thread{'s' if int(t) > 1 else ''} (`--timings`, best run): "
            + ", ".join(f"{name} {100 * x / tm['whole run']:.1f} %" for name, x in phases[:4])
            + f"; start-up and the rest {100 * tm.get('start-up and the rest', 0) / tm['whole run']:.1f} %; "
            f"conservation check {100 * tm.get('conservation check', 0) / tm['whole run']:.1f} %, measuring the "
            f"outputs {100 * tm.get('measuring outputs', 0) / tm['whole run']:.1f} %, writing the file "
            f"{100 * tm.get('writing the output file', 0) / tm['whole run']:.1f} %: output and check together "
            f"**{100 * output_share(tm):.1f} %** of the run.")
    rare = r.get("rare_output_wall")
    if rare is not None:
        lines.append(
            f"- Cross-check by difference (noisy: two wall times): outputs every {r['record_every']} steps take "
            f"{best_top['wall']:.2f} s, outputs only at the start and end {rare:.2f} s: "
            f"**{100 * (best_top['wall'] - rare) / best_top['wall']:+.1f} %**"
            + (f"; outputs every step {r['every_step_output_wall']:.2f} s "
               f"({100 * (r['every_step_output_wall'] - rare) / r['every_step_output_wall']:+.1f} %)"
               if "every_step_output_wall" in r else "") + ".")
    if "shares" in r:
        s = r["shares"]
        lines.append(f"- Work (instructions under callgrind at {s['agents']:,} agents, 1 thread, outputs every "
                     f"{r['record_every']} steps): conservation check {100 * s['check']:.1f} %, measuring the "
                     f"outputs {100 * s['measure']:.1f} %, together **{100 * (s['check'] + s['measure']):.1f} %** "
                     "of the run's instructions.")
    lines.append("")
    return lines


def section_sweep(r):
    one = r["jobs"].get("1") or r["jobs"].get(1)
    lines = [f"## {r['title']}", "",
             f"Command: `build/commons-sim sweep scenarios/workshop.ini --vary economy.platform_tax=0:0.4:{r['runs'] // 10} "
             f"--replicas 10 --jobs J --threads 1` ({r['runs']} runs)"
             + (f"; the better of {r['repeats']} turns. " if r.get("repeats", 1) > 1 else ". ")
             + f"Load average before/after: {r['load_before']:.2f}/{r['load_after']:.2f}. Measured {r['measured']}.", "",
             "| jobs | wall s | runs/s | agent-steps/s | speed-up | peak memory MiB |",
             "| ---: | ---: | ---: | ---: | ---: | ---: |"]
    for j, v in sorted(r["jobs"].items(), key=lambda kv: int(kv[0])):
        lines.append(f"| {j} | {v['wall']:.1f} | {r['runs'] / v['wall']:.1f} | "
                     f"{r['runs'] * r['agents'] * r['steps'] / v['wall']:.3g} | {one['wall'] / v['wall']:.2f}x | "
                     f"{fmt_mib(v['peak'])} |")
    lines.append("")
    return lines


def section_status(results):
    """Each target of DESIGN.md section 8 with the value measured for it, met or not."""
    rows = []

    def row(target, value, met):
        rows.append(f"| {target} | {value} | {'met' if met else '**not met**'} |")

    def walls(r, key="threads"):
        return {int(t): v for t, v in r[key].items()}

    ex = results.get("exchange")
    if ex and "reference" in ex and 1 in walls(ex):
        ratio = walls(ex)[1]["wall"] / ex["reference"]["wall"]
        row("exchange on 1 thread within 1.5x of the hand-written loop", f"{ratio:.2f}x", ratio <= 1.5)
    for key in ("exchange", "cpr", "economy"):
        r = results.get(key)
        if r and {1, 2} <= set(walls(r)):
            speed = walls(r)[1]["wall"] / walls(r)[2]["wall"]
            row(f"{key}: 2 threads at least 1.8x faster than 1", f"{speed:.2f}x", speed >= 1.8)
    ec = results.get("economy")
    if ec and 2 in walls(ec):
        two = walls(ec)[2]
        row("economy bench/million in at most 24 s on 2 cores", f"{two['wall']:.1f} s", two["wall"] <= 24)
        per = two["peak"] / ec["agents"]
        row("economy at most 512 bytes per commoner", f"{per:.0f} bytes", per <= 512)
    big = results.get("economy_10m")
    if big:
        v = next(iter(big["threads"].values()))
        row("economy with 10^7 commoners, 120 steps: completes in at most 5 GiB",
            f"{v['peak'] / GIB:.2f} GiB in {v['wall']:.0f} s", v["peak"] <= 5 * GIB)
    for key in ("exchange", "cpr", "economy"):
        r = results.get(key)
        if not r:
            continue
        top = max(walls(r))
        tm = walls(r)[top].get("timings")
        if tm and "whole run" in tm:
            share = output_share(tm)
            row(f"{key}: output and conservation check at most 5 % of the run ({top} threads)",
                f"{100 * share:.1f} %", share <= 0.05)
    sw = results.get("sweep")
    if sw and {1, 2} <= set(walls(sw, "jobs")):
        speed = walls(sw, "jobs")[1]["wall"] / walls(sw, "jobs")[2]["wall"]
        row(f"sweep of {sw['runs']} workshop runs: --jobs 2 at least 1.8x faster than --jobs 1",
            f"{speed:.2f}x", speed >= 1.8)
    if not rows:
        return []
    return ["## Targets", "", "| target (DESIGN.md section 8, issue text) | measured | |", "| --- | ---: | --- |",
            *rows, ""]


def plot(results):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4.2))
    top = 1
    for key, r in results.items():
        series = r.get("threads") or r.get("jobs")
        if not series or len(series) < 2:
            continue
        ts = sorted(int(t) for t in series)
        one = series.get("1") or series.get(1)
        walls = [(series.get(str(t)) or series.get(t))["wall"] for t in ts]
        label = key + (" (--jobs)" if "jobs" in r else "")
        ax.plot(ts, [one["wall"] / w for w in walls], marker="o", label=label)
        top = max(top, ts[-1])
    ax.plot([1, top], [1, top], color="grey", linestyle="--", label="ideal")
    ax.set_xlabel("threads (sweep: jobs)")
    ax.set_ylabel("speed-up over 1")
    ax.set_xticks([t for t in (1, 2, 4, 8, 16) if t <= top])
    ax.set_title("commons-sim scaling (scripts/bench)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(PLOT, dpi=110)


def section_memory(r):
    lines = [f"## {r['title']}", "",
             f"Command: `build/memory_probe MIB {r['seconds']}` pinned to each core with `taskset`, first on each "
             "core alone, then on every core at once (`scripts/bench_reference/memory_probe.cpp`): nanoseconds per "
             "8-byte read of an array of MIB MiB, at random (through a fixed random order of the indices, as the "
             "economy gathers its commoners' neighbours) and in order. The full run reads 8 MiB, one of the economy's columns at "
             "10^6 commoners, and 128 MiB, far more than the caches hold. Not the simulator: the machine under it. "
             f"Load average before/after: {r['load_before']:.2f}/{r['load_after']:.2f}. Measured {r['measured']}.", "",
             "| array | core | random, alone | random, all cores at once | in order, alone | in order, all cores at once |",
             "| ---: | ---: | ---: | ---: | ---: | ---: |"]
    notes = []
    for mib, size in sorted(r["sizes"].items(), key=lambda kv: int(kv[0])):
        cores = sorted(size["alone"], key=int)
        for c in cores:
            a, t = size["alone"][c], size["together"][c]
            lines.append(f"| {mib} MiB | {c} | {a['random']:.2f} ns | {t['random']:.2f} ns | {a['sequential']:.2f} ns | "
                         f"{t['sequential']:.2f} ns |")
        if len(cores) > 1:
            best_alone = min(size["alone"][c]["random"] for c in cores)
            together = sum(1 / size["together"][c]["random"] for c in cores) * best_alone
            notes.append(f"**{together:.2f}x** from {mib} MiB")
    lines.append("")
    if notes:
        lines.append(f"- Random reads by all {len(cores)} cores at once, against the fastest core alone: "
                     f"{', '.join(notes)}. A loop that gathers from memory at random can go at most about that much "
                     f"faster on {len(cores)} threads than on one, however its work is cut; where one core slows down "
                     "more than the others, the loop's threads also finish at different times.")
        lines.append("")
    return lines


def write_doc(results, command):
    text = [
        "# Performance",
        "",
        "Written by `scripts/bench` (benchmarks, never timed tests; the regression guard that runs in "
        "`scripts/test` counts instructions instead: `tests/perf/perf_guard.py`). Figures are as measured "
        "on the machine below; rerun the script to measure yours. Timings are only meaningful on an "
        "otherwise idle machine: each section gives the load average before and after it.",
        "",
        f"Machine: {machine()}. Build: Release, `{flags()}`.",
        f"Command: `{command}` (sections measured at different times keep their own date below).",
        "",
        "Targets (DESIGN.md section 8): exchange within 1.5x of a hand-written loop on one thread; 2 threads "
        "at least 1.8x faster than 1; economy bench/million in at most 24 s on 2 cores and at most 512 bytes "
        "per commoner; 10^7 commoners in at most 5 GiB; output and conservation check at most 5 % of the "
        "run; a sweep of 1 000 workshop runs at least 1.8x faster on 2 jobs than on 1.",
        "",
    ]
    text += section_status(results)
    text += ["![speed-up over one thread](performance.png)", "",
             "What changed to get here, and notes that are not measurements: "
             "[performance-notes.md](performance-notes.md) (written by hand; this page is written by the script).",
             ""]
    for key in BENCHMARKS:
        if key not in results:
            continue
        r = results[key]
        if key == "sweep":
            text += section_sweep(r)
        elif key == "memory":
            text += section_memory(r)
        else:
            text += section_model(key, r)
    text += [
        "## The regression guard (counts, not seconds)",
        "",
        "`ctest -L perf` (part of `scripts/test`) runs `tests/perf/perf_guard.py`: each model's small case "
        "on one thread under `valgrind --tool=callgrind`, collecting only inside `Simulation::step()` and "
        "`Simulation::measure()`. It reports instructions per agent-step, instructions per agent per "
        "record, and heap allocations per step and per record, and fails when one exceeds its bound in "
        "`tests/perf/bounds.json` (1.5x the value measured when the bound was set; allocations 1.5x + 2). "
        "Counts do not depend on the machine's load, so the guard is as reliable on a busy machine as on "
        "an idle one. After a deliberate change: `python3 tests/perf/perf_guard.py --binary "
        "build/commons-sim --update`, and say why in the commit.",
        "",
        "Instructions are a proxy, not the goal: the radix sort behind the distribution outputs "
        "(`sim::sort_ascending`) executes more instructions than `std::sort` but takes about a fifth of "
        "its CPU time on 10^6 values (no mispredicted branches) and runs on every thread.",
        "",
    ]
    DOC.write_text("\n".join(text) + "\n")


def main():
    wanted = sys.argv[1:] or list(BENCHMARKS)
    unknown = [w for w in wanted if w not in BENCHMARKS]
    if unknown:
        sys.exit(f"bench: unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    if load() > 0.3:
        print(f"bench: warning: load average {load():.2f}; timings on a busy machine are not meaningful",
              file=sys.stderr)
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    for key in wanted:
        print(f"bench: {key}", file=sys.stderr)
        r = BENCHMARKS[key]()
        r["measured"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        results[key] = json.loads(json.dumps(r))  # thread counts become strings, as when reloaded
        RESULTS.write_text(json.dumps(results, indent=1))
    plot(results)
    write_doc(results, "scripts/bench " + " ".join(sys.argv[1:]) if sys.argv[1:] else "scripts/bench")
    print(DOC.read_text())
    print(f"wrote {DOC} and {PLOT}", file=sys.stderr)


if __name__ == "__main__":
    main()
