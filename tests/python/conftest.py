"""Fixtures for the command-line tests: the built binary and a way to run it."""
import os
import subprocess

import pytest

from cli_support import BINARY, SOURCE_DIR


@pytest.fixture(scope="session")
def source_dir():
    return SOURCE_DIR


@pytest.fixture(scope="session")
def binary():
    assert BINARY.exists(), f"commons-sim not built at {BINARY}"
    return BINARY


@pytest.fixture
def sim(binary, tmp_path):
    """Runs commons-sim with the given arguments in a temporary folder."""

    def run(*args, timeout=120, env=None, check=None):
        full_env = dict(os.environ)
        full_env.update(env or {})
        result = subprocess.run([str(binary), *map(str, args)], cwd=tmp_path, capture_output=True,
                                text=True, timeout=timeout, env=full_env)
        if check is not None:
            assert result.returncode == check, result.stderr + result.stdout
        return result

    return run


@pytest.fixture
def scenario(tmp_path):
    """Writes a scenario file and returns its path."""

    def write(text, name="s.ini"):
        path = tmp_path / name
        path.write_text(text)
        return path

    return write
