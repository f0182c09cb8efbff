"""Corrupt and mismatched files: checkpoints (resume), run files (the output a checkpoint
continues), sweep files (sweep --resume) and sweep parts (merge), truncated, bit-flipped, of
another version, scenario or model. Each is refused with one line on stderr and exit code 2;
a file that was refused is not written to, and no existing output is clobbered.

Damage is placed by a seeded random generator, so a failure names a reproducible case."""
import random
import shutil
import subprocess
import time

import h5py
import pytest

EXCHANGE = """[sim]
model = exchange
steps = 40
seed = 4
record_every = 3

[exchange]
agents = 64
rule = yard_sale
chi = 0.1
"""

CPR = """include = {root}/scenarios/cpr_commons.ini
[sim]
steps = 40
record_every = 3
"""

SWEEP = ["--vary", "exchange.chi=0:0.1:4", "--replicas", "2", "--threads", "1", "--quiet"]
USER_BLOCK = 512  # the checkpoint's header, in front of its HDF5 part (sim/checkpoint.cpp)

# The scenario of the run files scripts/fuzz makes as seeds, which the fuzz findings claim to hold.
FUZZ_SEED_RUN = """[sim]
model = exchange
steps = 12
seed = 3

[exchange]
agents = 16
rule = yard_sale
chi = 0.1
"""
# Files on which HDF5 1.10.8 itself loops forever, frees twice, reads out of bounds or asks for
# more than 2 GiB of memory (as a run file read by resume).
HDF5_FINDINGS = ["fuzz_output_file-crash-free", "fuzz_output_file-hang-global-heap",
                 "fuzz_output_file-segv-metadata-decode", "fuzz_output_file-oom-huge-allocation"]
CHECK_SECONDS = 4  # SIM_FILE_CHECK_SECONDS for the guarded read of a finding


@pytest.fixture(scope="module")
def originals(binary, tmp_path_factory, source_dir):
    """One exchange run with a checkpoint at step 30, a cpr run, a sweep and two sweep parts."""
    import subprocess

    d = tmp_path_factory.mktemp("originals")
    (d / "exchange.ini").write_text(EXCHANGE)
    (d / "cpr.ini").write_text(CPR.format(root=source_dir))

    def run(*args):
        r = subprocess.run([str(binary), *map(str, args)], cwd=d, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr

    run("run", d / "exchange.ini", "--out", d / "run.h5", "--checkpoint-every", "10", "--threads", "1", "--quiet")
    run("run", d / "cpr.ini", "--out", d / "cpr.h5", "--threads", "1", "--quiet")
    run("sweep", d / "exchange.ini", *SWEEP, "--out", d / "sweep.h5")
    for i in range(2):
        run("sweep", d / "exchange.ini", *SWEEP, "--shard", f"{i}/2", "--out", d / f"part{i}.h5")
    return d


@pytest.fixture
def files(originals, tmp_path):
    """Fresh copies in this test's folder; the checkpoint names the copy of the run file."""
    for name in ["exchange.ini", "cpr.ini", "run.h5", "cpr.h5", "sweep.h5", "part0.h5", "part1.h5"]:
        shutil.copy(originals / name, tmp_path / name)
    return tmp_path


def checkpoint_for(files, out, binary):
    """A checkpoint at step 30 of the exchange run that names `out` (written by a real run)."""
    import subprocess

    r = subprocess.run([str(binary), "run", str(files / "exchange.ini"), "--out", str(out), "--overwrite",
                        "--checkpoint-every", "10", "--threads", "1", "--quiet"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return out.parent / (out.name + ".checkpoint")


def h5diff(a, b, *groups):
    for group in groups:
        r = subprocess.run(["h5diff", str(a), str(b), group, group], capture_output=True, text=True)
        if r.returncode != 0:
            return f"{group}: {r.stdout}{r.stderr}"
    return ""


def refused_or_whole(result, what, damaged, path, reference, groups, *messages):
    """Damage HDF5 catches must be refused (exit 2, one line) with the file left as it was;
    damage in parts the command never reads may pass, but then the result must be the
    undamaged one, dataset for dataset."""
    if result.returncode == 2:
        refused(result, *messages)
        assert path.read_bytes() == damaged, f"{what}: the refused file changed"
        return False
    assert result.returncode == 0, f"{what}: exit {result.returncode}: {result.stderr}"
    difference = h5diff(reference, path, *groups)
    assert not difference, f"{what}: accepted, but the result differs: {difference}"
    return True


def refused(result, *messages):
    assert result.returncode == 2, f"exit {result.returncode}: {result.stderr}"
    assert result.stderr.count("\n") == 1, f"not one line: {result.stderr!r}"
    assert any(m in result.stderr for m in messages), result.stderr


def flip(data, offset, bit):
    damaged = bytearray(data)
    damaged[offset] ^= 1 << bit
    return bytes(damaged)


def hdf5_metadata_offsets(path):
    """Byte offsets inside HDF5 metadata (superblock and object headers), not raw data."""
    offsets = set(range(0, 48))  # the superblock, version 3, with its checksum
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            address = h5py.h5o.get_info(obj.id).addr
            offsets.update(range(address, address + 40))
        f.visititems(visit)
    return sorted(offsets)


# -- checkpoints ---------------------------------------------------------------------------------

def test_truncated_checkpoints_are_refused_and_the_output_is_untouched(sim, binary, files):
    out = files / "cut.h5"
    checkpoint = checkpoint_for(files, out, binary)
    data, before = checkpoint.read_bytes(), out.read_bytes()
    for keep in [0, 10, USER_BLOCK - 1, USER_BLOCK, USER_BLOCK + 100, len(data) // 2, len(data) - 1]:
        bad = files / f"truncated-{keep}.checkpoint"
        bad.write_bytes(data[:keep])
        refused(sim("resume", bad), "not a commons-sim checkpoint", "truncated or damaged", "damaged")
        assert out.read_bytes() == before, f"truncated at {keep}: the output changed"
        assert not (files / "cut.h5.resuming").exists()


def test_bit_flipped_checkpoints_are_refused_anywhere_in_the_file(sim, binary, files):
    out = files / "cut.h5"
    checkpoint = checkpoint_for(files, out, binary)
    data, before = checkpoint.read_bytes(), out.read_bytes()
    rng = random.Random(9)
    # in the header's text (its zero padding is not read) and anywhere in the HDF5 part
    text = len(data[:USER_BLOCK].rstrip(b"\0"))
    offsets = [rng.randrange(0, text) for _ in range(8)] + [rng.randrange(USER_BLOCK, len(data)) for _ in range(24)]
    for offset in offsets:
        bad = files / "flipped.checkpoint"
        bad.write_bytes(flip(data, offset, rng.randrange(8)))
        r = sim("resume", bad)
        refused(r, "corrupt", "damaged", "not a commons-sim checkpoint", "has format", "written by commons-sim")
        assert out.read_bytes() == before, f"flip at {offset}: the output changed"


def test_a_checkpoint_of_another_version_or_format_is_refused(sim, binary, files):
    out = files / "cut.h5"
    checkpoint = checkpoint_for(files, out, binary)
    data = checkpoint.read_bytes()
    header = data[:USER_BLOCK].rstrip(b"\0").decode()
    fmt, version_line = header.splitlines()[:2]
    assert fmt == "commons-sim-checkpoint/2" and version_line.startswith("version ")
    version = version_line.split()[1]
    other = "9" * len(version)
    bad = files / "other-version.checkpoint"
    bad.write_bytes(data.replace(f"version {version}\n".encode(), f"version {other}\n".encode(), 1))
    refused(sim("resume", bad), f"written by commons-sim {other}")
    bad.write_bytes(data.replace(b"commons-sim-checkpoint/2", b"commons-sim-checkpoint/7", 1))
    refused(sim("resume", bad), "has format 'commons-sim-checkpoint/7'")
    # A checkpoint of format 1 (no header) or any other HDF5 file.
    with h5py.File(files / "format1.checkpoint", "w") as f:
        f.create_group("checkpoint").attrs["format"] = "commons-sim-checkpoint/1"
        f.create_group("state")
    refused(sim("resume", files / "format1.checkpoint"), "not a commons-sim checkpoint")
    refused(sim("resume", files / "run.h5"), "not a commons-sim checkpoint")


def test_a_checkpoint_whose_output_is_another_models_run_is_refused(sim, binary, files):
    out = files / "cut.h5"
    checkpoint = checkpoint_for(files, out, binary)
    shutil.copy(files / "cpr.h5", out)
    before = out.read_bytes()
    refused(sim("resume", checkpoint), "holds another scenario")
    assert out.read_bytes() == before
    shutil.copy(files / "sweep.h5", out)
    before = out.read_bytes()
    refused(sim("resume", checkpoint), "holds another scenario", "cannot read output file")
    assert out.read_bytes() == before


def test_a_checkpoint_whose_output_is_truncated_is_refused(sim, binary, files):
    out = files / "cut.h5"
    checkpoint = checkpoint_for(files, out, binary)
    data = out.read_bytes()
    for keep in [0, 100, len(data) // 4, len(data) // 2, len(data) - 1]:
        out.write_bytes(data[:keep])
        r = sim("resume", checkpoint)
        refused(r, "cannot read output file", "lacks the records", "is incomplete")
        assert out.read_bytes() == data[:keep], f"truncated at {keep}: the refused output changed"
        assert not (files / "cut.h5.resuming").exists()


def test_a_checkpoint_whose_output_has_damaged_metadata_is_refused_or_mended(sim, binary, files):
    """HDF5 checksums the metadata of run files (superblock 3, object header 2), so damage to what
    resume reads is refused; resume rebuilds the file from the records it reads, so damage
    elsewhere is dropped and the result is the uninterrupted run. Stored values are checked against
    /meta/record_hashes (test_a_flipped_bit_in_a_stored_value_of_a_run_file_is_refused_by_resume)."""
    out = files / "cut.h5"
    checkpoint = checkpoint_for(files, out, binary)
    data = out.read_bytes()
    rng = random.Random(11)
    refusals = 0
    for offset in rng.sample(hdf5_metadata_offsets(out), 20):
        damaged = flip(data, offset, rng.randrange(8))
        out.write_bytes(damaged)
        r = sim("resume", checkpoint, timeout=60)
        refusals += not refused_or_whole(r, f"flip at {offset}", damaged, out, files / "run.h5", ["/series", "/flows"],
                                         "cannot read output file", "lacks the records", "is incomplete",
                                         "(damaged file)")
    assert refusals >= 5, f"only {refusals} of 20 flips in metadata were caught"


# -- sweep files for --resume -------------------------------------------------------------------

def test_sweep_resume_refuses_a_broken_or_foreign_file_and_leaves_it_alone(sim, files):
    """A half-done sweep (one shard's runs) damaged, then resumed as the whole sweep: refused and
    untouched, or (damage where resume does not read) completed to the uninterrupted sweep."""
    partial = files / "partial.h5"
    data = (files / "part0.h5").read_bytes()
    rng = random.Random(13)
    cases = [("truncated", data[:keep]) for keep in [0, 100, len(data) // 3, len(data) - 1]]
    cases += [("a run file", (files / "run.h5").read_bytes()), ("a cpr run", (files / "cpr.h5").read_bytes())]
    for what, content in cases:
        partial.write_bytes(content)
        refused(sim("sweep", files / "exchange.ini", *SWEEP, "--out", partial, "--resume"), "cannot resume")
        assert partial.read_bytes() == content, f"{what}: the refused file changed"
    (files / "template.h5").write_bytes(data)
    refusals = 0
    for offset in rng.sample(hdf5_metadata_offsets(files / "template.h5"), 12):
        damaged = flip(data, offset, rng.randrange(8))
        partial.write_bytes(damaged)
        r = sim("sweep", files / "exchange.ini", *SWEEP, "--out", partial, "--resume")
        refusals += not refused_or_whole(r, f"flip at {offset}", damaged, partial, files / "sweep.h5",
                                         ["/series", "/runs"], "cannot resume")
    assert refusals >= 3, f"only {refusals} of 12 flips in metadata were caught"


def test_a_sweep_never_clobbers_an_existing_file(sim, files):
    for existing in ["sweep.h5", "run.h5"]:
        before = (files / existing).read_bytes()
        refused(sim("sweep", files / "exchange.ini", *SWEEP, "--out", files / existing), "exists")
        assert (files / existing).read_bytes() == before


# -- sweep parts for merge ----------------------------------------------------------------------

def test_merge_refuses_broken_parts_and_writes_nothing(sim, files):
    part1 = files / "part1.h5"
    data = part1.read_bytes()
    rng = random.Random(17)
    cases = [("truncated", data[:keep]) for keep in [0, 100, len(data) // 3, len(data) - 1]]
    cases += [("a cpr run", (files / "cpr.h5").read_bytes()), ("a run", (files / "run.h5").read_bytes())]
    cases += [(f"flip {o}", flip(data, o, rng.randrange(8))) for o in rng.sample(hdf5_metadata_offsets(part1), 12)]
    refusals = 0
    for what, content in cases:
        part1.write_bytes(content)
        merged = files / "merged.h5"
        merged.unlink(missing_ok=True)
        r = sim("merge", files / "part0.h5", part1, "--out", merged)
        if r.returncode == 0 and what.startswith("flip"):
            # damage where merge does not read: the merged file must be the whole sweep
            assert not h5diff(files / "sweep.h5", merged, "/series", "/runs"), f"{what}: merged a damaged part"
            continue
        refusals += 1
        refused(r, "commons-sim merge")
        assert not merged.exists(), f"{what}: merge wrote a file"
        assert not (files / "merged.h5.merging").exists()
        # with --overwrite an existing output is kept as it was when a part is refused
        (files / "keep.h5").write_bytes(b"precious")
        r = sim("merge", files / "part0.h5", part1, "--out", files / "keep.h5", "--overwrite")
        refused(r, "commons-sim merge")
        assert (files / "keep.h5").read_bytes() == b"precious", f"{what}: merge overwrote its output"
    assert refusals >= 6 + 3, f"only {refusals} of {len(cases)} damaged parts were refused"


def test_merge_refuses_a_part_whose_datasets_do_not_fit(sim, files):
    """A part with the right attributes but a series of another shape is refused before writing."""
    with h5py.File(files / "part1.h5", "r+") as f:
        name = next(n for n in f["series"] if f["series"][n].ndim == 2)
        shape = f["series"][name].shape
        del f["series"][name]
        f["series"].create_dataset(name, data=[[0.0] * (shape[1] + 1)] * shape[0])
    r = sim("merge", files / "part0.h5", files / "part1.h5", "--out", files / "merged.h5")
    refused(r, "commons-sim merge")
    assert not (files / "merged.h5").exists()


def test_merge_never_clobbers_an_existing_output(sim, files):
    (files / "merged.h5").write_bytes(b"precious")
    refused(sim("merge", files / "part0.h5", files / "part1.h5", "--out", files / "merged.h5"), "exists")
    assert (files / "merged.h5").read_bytes() == b"precious"


@pytest.mark.parametrize("damaged_part", [0, 1])
def test_a_damaged_value_in_a_sweep_part_is_refused_by_merge(sim, files, damaged_part):
    part = files / f"part{damaged_part}.h5"
    with h5py.File(part, "r") as f:
        name = next(n for n in f["series"] if f["series"][n].ndim == 2)
        owned = [r for r, status in enumerate(f["runs/status"][:]) if status]
    with h5py.File(part, "r") as f:
        chunk = f[f"series/{name}"].id.get_chunk_info_by_coord((owned[0], 0))
    data = bytearray(part.read_bytes())
    data[chunk.byte_offset + 8 + 5] ^= 0x20  # the run's second value
    part.write_bytes(bytes(data))
    (files / "keep.h5").write_bytes(b"precious")
    r = sim("merge", files / "part0.h5", files / "part1.h5", "--out", files / "keep.h5", "--overwrite")
    refused(r, "Fletcher32")
    assert str(part) in r.stderr, r.stderr
    assert (files / "keep.h5").read_bytes() == b"precious"
    assert not (files / "keep.h5.merging").exists()


@pytest.mark.parametrize("dataset", ["series/gini", "series/step", "flows/matrix"])
def test_a_flipped_bit_in_a_stored_value_of_a_run_file_is_refused_by_resume(sim, binary, files, dataset):
    """The values /meta/record_hashes covers are checked against their checksums: a flipped bit in
    one is refused, naming the file and the dataset, and the file is left as it was."""
    out = files / "cut.h5"
    checkpoint = checkpoint_for(files, out, binary)
    with h5py.File(out, "r") as f:
        chunk = f[dataset].id.get_chunk_info_by_coord((0,) * f[dataset].ndim)
    data = bytearray(out.read_bytes())
    data[chunk.byte_offset + 8 * 3 + 2] ^= 0x10  # the fourth value (a record before the checkpoint)
    out.write_bytes(bytes(data))
    with h5py.File(out, "r") as f:  # HDF5 itself reads the damaged value without complaint
        assert f[dataset].shape[0] == 15
    r = sim("resume", checkpoint)
    refused(r, f"stored values of /{dataset} do not match their checksum")
    assert f"output file '{out}'" in r.stderr, r.stderr
    assert out.read_bytes() == bytes(data), "the refused output changed"
    assert not (files / "cut.h5.resuming").exists()


def test_a_torn_checksum_slot_falls_back_to_the_other_and_a_file_without_checksums_resumes(sim, binary, files):
    """A kill inside the write of /meta/record_hashes spoils one of its two slots: the other holds
    and resume goes on; files of older versions, without the checksums, resume unchecked."""
    out = files / "cut.h5"
    checkpoint = checkpoint_for(files, out, binary)
    with h5py.File(out, "r") as f:
        table = f["meta/record_hashes"]
        offset, slot_bytes = table.id.get_offset(), table[0].nbytes
        newer = int(table[:, 0, 0].argmax())
    data = bytearray(out.read_bytes())
    data[offset + newer * slot_bytes + 8 * 4 + 1] ^= 0x04  # the newer slot's second count
    out.write_bytes(bytes(data))
    sim("resume", checkpoint, check=0)
    assert not h5diff(files / "run.h5", out, "/series", "/flows")

    checkpoint = checkpoint_for(files, out, binary)
    with h5py.File(out, "r+") as f:
        del f["meta/record_hashes"]
    sim("resume", checkpoint, check=0)
    assert not h5diff(files / "run.h5", out, "/series", "/flows")


def test_run_files_carry_no_value_checksums_so_a_torn_last_chunk_stays_readable(files):
    """Run files: no filter on their chunks (a torn rewrite of the last chunk must not make the
    flushed records unreadable, docs/reliability.md; their values are checked against
    /meta/record_hashes instead); sweep files: Fletcher32 on every chunk."""
    with h5py.File(files / "run.h5", "r") as f:
        chunked = []
        f.visititems(lambda name, obj: chunked.append(obj) if isinstance(obj, h5py.Dataset) and obj.chunks else None)
        assert chunked and not any(d.fletcher32 for d in chunked)
        assert f["series/step"][-1] == 40
    with h5py.File(files / "sweep.h5", "r") as f:
        assert f[f"series/{next(iter(f['series']))}"].fletcher32
        assert not f["runs/status"].fletcher32  # HDF5 filters no variable-length strings
        assert list(f["runs/status"][:].astype(str)) == ["complete"] * 8


# -- files on which the HDF5 library itself crashes or hangs -------------------------------------

def refused_in_time(result, started, *messages):
    refused(result, *messages)
    assert time.monotonic() - started < CHECK_SECONDS + 20, "the guarded read was not cut short"


@pytest.mark.parametrize("finding", HDF5_FINDINGS)
def test_a_part_the_hdf5_library_crashes_or_hangs_on_is_refused_by_merge(sim, source_dir, files, finding):
    part = files / finding
    shutil.copy(source_dir / "tests" / "fuzz" / "hdf5-findings" / finding, part)
    data = part.read_bytes()
    (files / "keep.h5").write_bytes(b"precious")
    for parts in [[part], [files / "part0.h5", part]]:
        started = time.monotonic()
        r = sim("merge", *parts, "--out", files / "keep.h5", "--overwrite", env={"SIM_FILE_CHECK_SECONDS": str(CHECK_SECONDS)})
        refused_in_time(r, started, str(part))
        assert (files / "keep.h5").read_bytes() == b"precious", "merge overwrote its output"
        assert not (files / "keep.h5.merging").exists()
        assert part.read_bytes() == data


@pytest.mark.parametrize("finding", HDF5_FINDINGS)
def test_a_run_file_the_hdf5_library_crashes_or_hangs_on_is_refused_by_resume(sim, source_dir, files, finding):
    """The findings claim the scenario of the fuzzer's seed runs: a checkpoint of that scenario
    gets resume past its scenario check, into the damage."""
    (files / "seed.ini").write_text(FUZZ_SEED_RUN)
    out = files / "seed.h5"
    sim("run", files / "seed.ini", "--out", out, "--checkpoint-every", "5", "--threads", "1", "--quiet", check=0)
    shutil.copy(source_dir / "tests" / "fuzz" / "hdf5-findings" / finding, out)
    data = out.read_bytes()
    started = time.monotonic()
    r = sim("resume", files / "seed.h5.checkpoint", env={"SIM_FILE_CHECK_SECONDS": str(CHECK_SECONDS)})
    refused_in_time(r, started, f"'{out}'")
    if "hang" in finding:
        assert f"the HDF5 library did not finish in {CHECK_SECONDS} s reading it" in r.stderr, r.stderr
    assert out.read_bytes() == data, "the refused output changed"
    assert not (files / "seed.h5.resuming").exists()


@pytest.mark.parametrize("finding", HDF5_FINDINGS)
def test_a_file_the_hdf5_library_crashes_or_hangs_on_is_refused_by_sweep_resume(sim, source_dir, files, finding):
    out = files / "partial.h5"
    shutil.copy(source_dir / "tests" / "fuzz" / "hdf5-findings" / finding, out)
    data = out.read_bytes()
    started = time.monotonic()
    r = sim("sweep", files / "exchange.ini", *SWEEP, "--out", out, "--resume",
            env={"SIM_FILE_CHECK_SECONDS": str(CHECK_SECONDS)})
    refused_in_time(r, started, f"'{out}'")
    assert out.read_bytes() == data


def test_damage_merge_finds_only_while_writing_is_bad_input(sim, source_dir, files):
    """The first part's attribute heap is damaged where only changing an attribute reads it: merge
    finds it while writing its copy, and must still call it bad input and leave nothing behind."""
    part = files / "damaged.h5"
    shutil.copy(source_dir / "tests" / "fuzz" / "regressions" / "fuzz_output_file" / "merge-damage-found-while-writing",
                part)
    (files / "keep.h5").write_bytes(b"precious")
    r = sim("merge", part, "--out", files / "keep.h5", "--overwrite")
    refused(r, "is damaged")
    assert str(part) in r.stderr
    assert (files / "keep.h5").read_bytes() == b"precious"
    assert not (files / "keep.h5.merging").exists()
