"""Performance regression guard that counts work, never seconds.

Each case runs a small scenario on one thread under `valgrind --tool=callgrind`, collecting
only inside `sim::Simulation::step()` (the phases and the per-step conservation check) and
`sim::Simulation::measure()` (the outputs), and reports

  step_ir       instructions per agent-step
  measure_ir    instructions per agent per record (measure() and measure_regions())
  step_allocs   heap allocations (malloc/calloc/realloc/aligned allocations) per step
  measure_allocs  heap allocations per record

Instruction counts do not depend on the machine's load, so a bound can be tight: each bound in
tests/perf/bounds.json is the value measured when it was set times a stated margin. A change that
makes an inner loop much more expensive (or allocates inside a step) fails; an improvement that
takes a count far below its bound is reported so that the bound can be lowered (--update).

Bounds: instructions measured x 1.5; allocations measured x 1.5 + 2. Allocations are counted as
calls into malloc/operator new from functions that step() (or measure()) reaches; a function
reached from both a step and elsewhere (the initial conservation check) counts all its calls, so
the figure is an upper bound.

  perf_guard.py --binary build/commons-sim [--case NAME]... [--update]
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
BOUNDS = HERE / "bounds.json"
MARGIN = 1.5  # bound = measured * MARGIN when --update sets it
ALLOC_SLACK = 2  # allocation bounds get this many more per step or record (counts are small integers)

# name -> scenario, overrides, agents, steps. Records at step 0 and every step after it.
CASES = {
    "exchange": {
        "scenario": "scenarios/exchange_demo.ini",
        "set": ["exchange.agents=20000"],
        "agents": 20000,
        "steps": 20,
    },
    # Every regime in turn, so every phase of the fishery is counted.
    "cpr": {
        "scenario": "scenarios/bench/cpr_100k.ini",
        "set": ["cpr.harvesters=20000", "cpr.patches=20",
                "cpr.regime=0:open_access, 5:market, 10:state, 15:commons"],
        "agents": 20000,
        "steps": 20,
    },
    # bench/million (the partner state in every region) at 10 000 commoners and 100 co-ops.
    "economy": {
        "scenario": "scenarios/bench/million.ini",
        "set": ["economy.commoners=10000", "economy.coops_per_region=5"],
        "agents": 10000,
        "steps": 12,
    },
}

# Entry points of the heap: a call into one of them from elsewhere is one allocation.
ALLOCATORS = {"malloc", "calloc", "realloc", "aligned_alloc", "posix_memalign", "memalign",
              "operator new(unsigned long)", "operator new[](unsigned long)",
              "operator new(unsigned long, std::align_val_t)", "operator new[](unsigned long, std::align_val_t)"}


def callgrind(binary, case, workdir, record_every=1):
    """Runs a case under callgrind, collecting inside step() and measure(); the output's path."""
    out = Path(workdir) / "callgrind.out"
    cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", "--collect-atstart=no",
           "--toggle-collect=sim::Simulation::step()", "--toggle-collect=sim::Simulation::measure()",
           "--toggle-collect=sim::Simulation::measure_regions()",
           str(binary), "run", str(ROOT / case["scenario"]), "--steps", str(case["steps"]),
           "--record-every", str(record_every), "--threads", "1", "--quiet",
           "--out", str(Path(workdir) / "out.h5")]
    for s in case["set"]:
        cmd += ["--set", s]
    env = dict(os.environ, OMP_NUM_THREADS="1", OMP_WAIT_POLICY="passive")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        sys.exit(f"perf_guard: the run failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-3000:]}")
    return out


class CallGraph:
    """The call edges of a callgrind output file: caller -> callee -> [calls, inclusive Ir].

    The file lists, for each function (fn=), the calls it makes (cfn=, calls=, then a cost line
    whose second field is the inclusive cost of those calls). Instructions are collected only
    inside step() and measure(), which never nest. Call counts are kept whether collection is on
    or not, so allocations are counted by following the graph down from step() or measure().
    """

    def __init__(self, path):
        names = {}

        def name_of(token):
            m = re.match(r"\((\d+)\)(?: (.*))?$", token.strip())
            if not m:
                return token.strip()
            if m.group(2):
                names[m.group(1)] = m.group(2)
            return names.get(m.group(1), "")

        self.calls = {}
        current = callee = None
        count = 0
        expect_cost = False
        with open(path) as f:
            for line in f:
                if expect_cost:
                    expect_cost = False
                    parts = line.split()
                    entry = self.calls.setdefault(current, {}).setdefault(callee, [0, 0])
                    entry[0] += count
                    entry[1] += int(parts[1]) if len(parts) > 1 else 0
                elif line.startswith("fn="):
                    current = name_of(line[3:])
                elif line.startswith("cfn="):
                    callee = name_of(line[4:])
                elif line.startswith("calls="):
                    count = int(line.split("=", 1)[1].split()[0])
                    expect_cost = True

    def inclusive(self, prefix):
        """Inclusive instructions of every call to functions whose name starts with prefix."""
        return sum(cost for callees in self.calls.values() for c, (_, cost) in callees.items()
                   if c.startswith(prefix))

    def allocations_under(self, root):
        """Calls into the allocators from functions reachable from root (each edge once)."""
        total = 0
        seen = set()
        stack = [root]
        while stack:
            fn = stack.pop()
            if fn in seen:
                continue
            seen.add(fn)
            for c, (n, _) in self.calls.get(fn, {}).items():
                if c in ALLOCATORS:
                    if fn not in ALLOCATORS:  # realloc -> malloc is one allocation
                        total += n
                else:
                    stack.append(c)
        return total


STEP = "sim::Simulation::step()"
MEASURE = "sim::Simulation::measure()"
MEASURE_REGIONS = "sim::Simulation::measure_regions()"  # per-region series (models with regions)


def measure_case(binary, name):
    case = CASES[name]
    with tempfile.TemporaryDirectory() as tmp:
        graph = CallGraph(callgrind(binary, case, tmp))
    for fn in (STEP, MEASURE):
        if graph.inclusive(fn) == 0:
            sys.exit(f"perf_guard: no instructions counted in {fn}: was the binary built with "
                     "other names, or did the run not step?")
    agents, steps = case["agents"], case["steps"]
    records = steps + 1
    return {
        "step_ir": graph.inclusive(STEP) / (agents * steps),
        "measure_ir": (graph.inclusive(MEASURE) + graph.inclusive(MEASURE_REGIONS)) / (agents * records),
        "step_allocs": graph.allocations_under(STEP) / steps,
        "measure_allocs": (graph.allocations_under(MEASURE) + graph.allocations_under(MEASURE_REGIONS)) / records,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", required=True, help="the commons-sim binary (a Release build)")
    ap.add_argument("--case", action="append", choices=sorted(CASES), help="cases to run (default: all)")
    ap.add_argument("--update", action="store_true",
                    help=f"write the measured values, and bounds of {MARGIN}x them, to {BOUNDS.name}")
    args = ap.parse_args()
    if shutil.which("valgrind") is None or shutil.which("callgrind_annotate") is None:
        sys.exit("perf_guard: valgrind is not installed (Debian package valgrind; scripts/install-deps test)")
    binary = Path(args.binary)
    if not binary.is_file():
        sys.exit(f"perf_guard: no binary at {binary}")
    bounds = json.loads(BOUNDS.read_text()) if BOUNDS.exists() else {}
    failed = []
    for name in args.case or sorted(CASES):
        measured = measure_case(binary, name)
        if args.update:
            bounds[name] = {
                metric: {"measured": round(value, 2),
                         "bound": round(value * MARGIN + (ALLOC_SLACK if metric.endswith("allocs") else 0), 2)}
                for metric, value in measured.items()
            }
            continue
        if name not in bounds:
            sys.exit(f"perf_guard: {BOUNDS} has no bounds for case '{name}' (run with --update)")
        for metric, value in measured.items():
            entry = bounds[name].get(metric)
            if entry is None:
                sys.exit(f"perf_guard: {BOUNDS} has no bound for {name}.{metric} (run with --update)")
            verdict = "ok"
            if value > entry["bound"]:
                verdict = "FAIL"
                failed.append(f"{name}.{metric} = {value:.2f} > bound {entry['bound']}")
            elif entry["measured"] > 0 and value < 0.5 * entry["measured"]:
                verdict = "ok (far below the value the bound was set from: lower it with --update)"
            print(f"{name:10s} {metric:15s} {value:12.2f}  bound {entry['bound']:10.2f}  "
                  f"(set from {entry['measured']})  {verdict}")
    if args.update:
        BOUNDS.write_text(json.dumps(bounds, indent=2, sort_keys=True) + "\n")
        print(f"wrote {BOUNDS}")
        return
    if failed:
        sys.exit("perf_guard: more work per agent than the bounds allow:\n  " + "\n  ".join(failed))
    print("perf_guard: every count within its bound")


if __name__ == "__main__":
    main()
