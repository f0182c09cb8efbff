"""The command line as a user meets it: exit codes, one-line messages, no clobbered files."""
import os
import pty
import select
import subprocess

from cli_support import SMALL


def test_help_and_version(sim):
    out = sim("--help", check=0).stdout
    assert "commons-sim run SCENARIO" in out and "commons-sim params" in out
    assert sim("--version", check=0).stdout.startswith("commons-sim ")
    assert "--record-every" in sim("run", "--help", check=0).stdout


def test_unknown_command_and_option_exit_2(sim, scenario):
    r = sim("frobnicate")
    assert r.returncode == 2 and "unknown command 'frobnicate'" in r.stderr
    r = sim("run", scenario(SMALL), "--ovewrite")
    assert r.returncode == 2 and "ovewrite" in r.stderr
    r = sim("run")
    assert r.returncode == 2 and "missing scenario" in r.stderr


def test_misspelled_key_names_file_line_and_nearest_key(sim, scenario):
    path = scenario(SMALL + "chii = 0.1\n", name="typo.ini")
    r = sim("run", path)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1, "one line"
    assert "typo.ini:9:" in r.stderr  # SMALL has 8 lines
    assert "exchange.chii" in r.stderr and "did you mean 'exchange.chi'" in r.stderr
    assert not (path.parent / "typo.h5").exists()


def test_bad_values_name_the_key_and_value(sim, scenario):
    r = sim("check", scenario(SMALL.replace("agents = 1000", "agents = many")))
    assert r.returncode == 2 and "exchange.agents" in r.stderr and "'many'" in r.stderr
    r = sim("check", scenario(SMALL + "saving = 1.5\n"))
    assert r.returncode == 2 and "exchange.saving = 1.5 is out of range [0, 0.999]" in r.stderr
    r = sim("check", scenario(SMALL), "--set", "exchange.rule=yardsale")
    assert r.returncode == 2 and "yard_sale" in r.stderr
    r = sim("check", scenario(SMALL), "--set", "exchange.chi=0:0.1, 500:0.2")
    assert r.returncode == 2 and "beyond sim.steps" in r.stderr


def test_includes_missing_and_cyclic(sim, scenario):
    r = sim("check", scenario("include = nowhere.ini\n" + SMALL, name="a.ini"))
    assert r.returncode == 2 and "a.ini:1" in r.stderr and "nowhere.ini" in r.stderr
    scenario("include = c2.ini\n", name="c1.ini")
    r = sim("check", scenario("include = c1.ini\n", name="c2.ini"))
    assert r.returncode == 2 and "include cycle" in r.stderr


def test_unreadable_scenario_and_unwritable_output(sim, scenario, tmp_path):
    r = sim("run", tmp_path / "absent.ini")
    assert r.returncode == 2 and "absent.ini" in r.stderr
    r = sim("run", scenario(SMALL), "--out", tmp_path / "no" / "such" / "dir.h5")
    assert r.returncode == 2 and "cannot create output file" in r.stderr


def test_existing_output_is_never_clobbered(sim, scenario, tmp_path):
    out = tmp_path / "keep.h5"
    out.write_bytes(b"precious results")
    r = sim("run", scenario(SMALL), "--out", out)
    assert r.returncode == 2 and "exists" in r.stderr and "--overwrite" in r.stderr
    assert out.read_bytes() == b"precious results"
    sim("run", scenario(SMALL), "--out", out, "--overwrite", "--quiet", check=0)
    assert out.read_bytes()[:8] == b"\x89HDF\r\n\x1a\n"


def test_threads_out_of_range(sim, scenario):
    r = sim("run", scenario(SMALL), "--threads", "0")
    assert r.returncode == 2 and "--threads" in r.stderr


def test_run_prints_summary_and_path(sim, scenario, tmp_path):
    r = sim("run", scenario(SMALL), "--out", "x.h5", check=0)
    assert "complete" in r.stdout and "gini" in r.stdout
    assert r.stdout.strip().endswith("output: x.h5")
    assert (tmp_path / "x.h5").exists()
    assert sim("run", scenario(SMALL), "--out", "y.h5", "--quiet", check=0).stdout == ""


def test_default_output_is_named_after_the_scenario(sim, scenario, tmp_path):
    sim("run", scenario(SMALL, name="my_question.ini"), "--quiet", check=0)
    assert (tmp_path / "my_question.h5").exists()


def test_check_validates_without_running(sim, scenario, tmp_path):
    r = sim("check", scenario(SMALL), check=0)
    assert r.stdout.startswith("ok:") and "exchange" in r.stdout
    assert not list(tmp_path.glob("*.h5"))


def test_params_lists_every_parameter_with_unit_and_range(sim):
    out = sim("params", "--model", "exchange", check=0).stdout
    for name in ["exchange.agents", "exchange.rule", "exchange.saving", "exchange.chi", "exchange.zeta",
                 "exchange.kappa", "exchange.gamma", "exchange.dt", "sim.steps", "sim.seed"]:
        assert name in out
    assert "match_pairs -> exchange -> redistribute" in out
    r = sim("params", "--model", "exchang")
    assert r.returncode == 2 and "did you mean 'exchange'" in r.stderr
    r = sim("params", "--format", "pdf")
    assert r.returncode == 2


def test_generated_docs_are_current(sim, source_dir):
    """docs/parameters.md and docs/output.md are generated; regenerate with scripts/gen-docs."""
    assert (source_dir / "docs" / "parameters.md").read_text() == sim("params", "--format", "md", check=0).stdout
    assert (source_dir / "docs" / "output.md").read_text() == sim("outputs", "--format", "md", check=0).stdout


def test_progress_line_only_on_a_terminal(binary, scenario, tmp_path):
    path = scenario(SMALL.replace("steps = 20", "steps = 400"))
    piped = subprocess.run([str(binary), "run", str(path), "--out", str(tmp_path / "p.h5")],
                           capture_output=True, text=True, timeout=60)
    assert piped.returncode == 0 and "steps/s" not in piped.stderr

    leader, follower = pty.openpty()
    proc = subprocess.Popen([str(binary), "run", str(path), "--out", str(tmp_path / "t.h5")],
                            stdout=subprocess.DEVNULL, stderr=follower)
    os.close(follower)
    seen = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 30)
        if not ready:
            break
        try:
            chunk = os.read(leader, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    os.close(leader)
    assert proc.wait(timeout=60) == 0
    assert b"steps/s" in seen and b"ETA" in seen and b"step 400/400" in seen


def test_a_rule_across_parameters_is_checked(sim, scenario):
    r = sim("check", scenario(SMALL + "rule = saving\nsaving = 0.2\nsaving_min = 0.5\nsaving_distribution = uniform\n"
                              .replace("rule = saving\n", "")), "--set", "exchange.rule=saving")
    assert r.returncode == 2 and "exchange.saving_min = 0.5 is above exchange.saving = 0.2" in r.stderr


def test_every_shipped_scenario_is_valid(sim, source_dir):
    scenarios = sorted((source_dir / "scenarios").rglob("*.ini"))
    assert len(scenarios) >= 10
    for path in scenarios:
        r = sim("check", path)
        assert r.returncode == 0, f"{path}: {r.stderr}"


def test_a_scenario_too_big_for_memory_fails_cleanly_and_writes_nothing(binary, scenario, tmp_path):
    import resource
    import subprocess

    def limit_memory():
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))

    path = scenario(SMALL.replace("agents = 1000", "agents = 2000000000"))
    r = subprocess.run([str(binary), "run", str(path), "--out", str(tmp_path / "big.h5")], capture_output=True,
                       text=True, timeout=60, preexec_fn=limit_memory)
    assert r.returncode == 3 and "not enough memory" in r.stderr
    assert not (tmp_path / "big.h5").exists()


def test_designs_too_large_are_refused(sim, scenario):
    r = sim("sweep", scenario(SMALL), "--vary", "exchange.chi=0:1:1000000000")
    assert r.returncode == 2 and "at most 10000000" in r.stderr
    r = sim("sweep", scenario(SMALL), "--vary", "exchange.chi=0:1:10", "--replicas", "100000000")
    assert r.returncode == 2 and "exceeds 10000000 runs" in r.stderr


def test_timings_account_for_the_run(sim, scenario, tmp_path):
    """`--timings` names every phase, the check and the outputs, and its parts add up to at most
    the whole run (the rest is start-up)."""
    import re
    r = sim("run", scenario(SMALL), "--out", tmp_path / "t.h5", "--quiet", "--timings", check=0)
    parts = {}
    for line in r.stderr.splitlines()[1:]:
        m = re.match(r"^  (\S.*?)\s+([0-9.]+) s\s+([0-9.]+) %$", line)
        assert m, f"not a timing line: {line!r}"
        parts[m.group(1)] = float(m.group(2))
    phases = [p for p in parts if p.startswith("phase ")]
    assert phases == ["phase match_pairs", "phase exchange", "phase redistribute"]
    for part in ("conservation check", "measuring outputs", "writing the output file",
                 "start-up and the rest", "whole run"):
        assert part in parts
    accounted = sum(x for p, x in parts.items() if p != "whole run")
    assert parts["whole run"] > 0 and abs(accounted - parts["whole run"]) <= 0.002 + 1e-3 * parts["whole run"]
    assert r.stdout == ""  # --quiet still holds for the summary
