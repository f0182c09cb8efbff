"""The engine stays free of models: no file under sim/ includes a model header."""
import re


def test_engine_includes_no_model_header(source_dir):
    offenders = []
    for path in sorted((source_dir / "sim").glob("*")):
        if path.suffix in {".hpp", ".cpp", ".in"}:
            for line in path.read_text().splitlines():
                if re.match(r'\s*#\s*include\s*[<"]models/', line):
                    offenders.append(f"{path.name}: {line.strip()}")
    assert offenders == []


def test_every_model_is_registered_in_one_place(source_dir):
    registry = (source_dir / "models" / "all_models.cpp").read_text()
    for folder in sorted(p for p in (source_dir / "models").iterdir() if p.is_dir()):
        assert f"{folder.name}::spec()" in registry, f"models/{folder.name} is not registered"
