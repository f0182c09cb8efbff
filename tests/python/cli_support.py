"""What the command-line tests share: where the source and the binary are, and a small scenario.
(A module of its own, not conftest.py, so that these tests and tests/analysis, whose conftest.py
differs, can run in one pytest session.)"""
import os
from pathlib import Path

SOURCE_DIR = Path(os.environ.get("SIM_SOURCE_DIR", Path(__file__).resolve().parents[2]))
BINARY = Path(os.environ.get("COMMONS_SIM", SOURCE_DIR / "build" / "commons-sim")).resolve()

SMALL = """[sim]
model = exchange
steps = 20
seed = 3

[exchange]
agents = 1000
rule = random
"""
