"""Checkpoints: a killed run resumes to the bitwise result of an uninterrupted one; bad
checkpoints are refused with one line and exit code 2, and nothing is written."""
import subprocess
import time

import h5py
import pytest

LONG_EXCHANGE = """[sim]
model = exchange
steps = 4000
seed = 4
record_every = 7

[exchange]
agents = 20000
rule = yard_sale
chi = 0.1
zeta = 0.05
"""


def h5diff(a, b, group):
    r = subprocess.run(["h5diff", str(a), str(b), group, group], capture_output=True, text=True)
    assert r.returncode == 0, f"{group}: {r.stdout}{r.stderr}"


def run_until_checkpoint(binary, path, out, every, timeout=60):
    """Starts a run with checkpoints and kills it (SIGKILL) once a checkpoint exists."""
    checkpoint = out.parent / (out.name + ".checkpoint")
    proc = subprocess.Popen([str(binary), "run", str(path), "--out", str(out), "--quiet", "--threads", "2",
                             "--checkpoint-every", str(every)])
    deadline = time.time() + timeout
    while not checkpoint.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    proc.kill()
    proc.wait()
    assert checkpoint.exists(), "no checkpoint was written"
    return checkpoint


@pytest.mark.parametrize("text,every", [
    (LONG_EXCHANGE, 100),
    ("include = {root}/scenarios/cpr_regime_switch.ini\n[sim]\nsteps = 3000\n", 200),
])
def test_a_killed_run_resumes_to_the_uninterrupted_result(binary, sim, scenario, tmp_path, source_dir, text, every):
    path = scenario(text.format(root=source_dir))
    sim("run", path, "--out", tmp_path / "whole.h5", "--quiet", check=0)
    out = tmp_path / "cut.h5"
    checkpoint = run_until_checkpoint(binary, path, out, every)
    with h5py.File(checkpoint, "r") as f:
        step = int(f["checkpoint"].attrs["step"])
    assert step > 0 and step % every == 0
    r = sim("resume", checkpoint, "--threads", "1", check=0)  # another thread count: same result
    assert "complete" in r.stdout
    for group in ["/series", "/flows"]:
        h5diff(tmp_path / "whole.h5", out, group)
    with h5py.File(out, "r") as f:
        assert f["meta"].attrs["status"] == "complete"


@pytest.fixture
def killed(binary, scenario, tmp_path):
    path = scenario(LONG_EXCHANGE)
    out = tmp_path / "cut.h5"
    checkpoint = run_until_checkpoint(binary, path, out, 100)
    return out, checkpoint


def refused(sim, checkpoint, out, message):
    before = out.read_bytes() if out.exists() else None
    r = sim("resume", checkpoint)
    assert r.returncode == 2, r.stderr
    assert message in r.stderr and r.stderr.count("\n") == 1, r.stderr
    if before is not None:
        assert out.read_bytes() == before, "a refused resume changed the output file"


def test_a_truncated_checkpoint_is_refused(sim, killed, tmp_path):
    out, checkpoint = killed
    bad = tmp_path / "truncated.checkpoint"
    data = checkpoint.read_bytes()
    bad.write_bytes(data[: len(data) // 2])
    refused(sim, bad, out, "is truncated")


def test_a_bit_flipped_checkpoint_is_refused(sim, killed, tmp_path):
    out, checkpoint = killed
    with h5py.File(checkpoint, "r") as f:
        offset = f["state/model.agents.wealth"].id.get_offset()
    data = bytearray(checkpoint.read_bytes())
    data[offset + 100] ^= 0x10  # one bit of one agent's wealth
    bad = tmp_path / "flipped.checkpoint"
    bad.write_bytes(bytes(data))
    refused(sim, bad, out, "is corrupt")


def test_a_checkpoint_of_another_version_is_refused(sim, killed, tmp_path):
    out, checkpoint = killed
    bad = tmp_path / "old.checkpoint"
    data = checkpoint.read_bytes()
    # The version is in the header in front of the HDF5 part (and, checksummed, inside it).
    version = data[:512].split(b"\n")[1].split()[1]
    bad.write_bytes(data.replace(b"version " + version + b"\n", b"version 0.0.1\n", 1))
    refused(sim, bad, out, "written by commons-sim 0.0.1")
    # An edit inside the HDF5 part (the version attribute) breaks the checksum.
    bad.write_bytes(data)
    with h5py.File(bad, "r+") as f:
        f["checkpoint"].attrs["version"] = "0.0.1"
    r = sim("resume", bad)
    assert r.returncode == 2 and ("is corrupt" in r.stderr or "is truncated or damaged" in r.stderr), r.stderr


def test_a_checkpoint_whose_output_holds_another_run_is_refused(sim, scenario, killed, tmp_path):
    out, checkpoint = killed
    out.unlink()
    sim("run", scenario(LONG_EXCHANGE.replace("seed = 4", "seed = 5").replace("steps = 4000", "steps = 10")),
        "--out", out, "--quiet", check=0)
    refused(sim, checkpoint, out, "holds another scenario")


def test_a_checkpoint_without_its_output_is_refused(sim, killed):
    out, checkpoint = killed
    out.unlink()
    refused(sim, checkpoint, out, "cannot read output file")


def test_not_a_checkpoint_is_refused(sim, tmp_path):
    bad = tmp_path / "nothing.checkpoint"
    bad.write_text("hello")
    r = sim("resume", bad)
    assert r.returncode == 2 and "cannot read checkpoint" in r.stderr
    r = sim("resume", tmp_path / "absent.checkpoint")
    assert r.returncode == 2 and "No such file" in r.stderr
