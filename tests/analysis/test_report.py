"""scripts/report: PNG figures and a self-contained HTML page that holds them."""
import base64
import re
import subprocess

import pytest

from commons_analysis import report

PNG = b"\x89PNG\r\n\x1a\n"


def _report(source_dir, *args):
    result = subprocess.run([str(source_dir / "scripts" / "report"), *map(str, args)], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def _figures(page):
    """The ids and decoded PNGs of the page's embedded figures."""
    found = re.findall(r'<figure id="([^"]+)"><img alt="[^"]*" src="data:image/png;base64,([^"]+)"', page)
    return {name: base64.b64decode(data) for name, data in found}


def test_the_report_of_a_run_embeds_its_figures_and_tables(source_dir, run_file, tmp_path):
    out = tmp_path / "report"
    printed = _report(source_dir, run_file, "-o", out)
    assert printed == str(out / "report.html")
    page = (out / "report.html").read_text()
    figures = _figures(page)
    assert set(figures) == {"random_outcomes", "random_gini_band"}
    for name, png in figures.items():
        assert png[:8] == PNG and (out / f"{name}.png").read_bytes() == png
    assert "<h3>Final values</h3>" in page and "<td>credits</td>" in page and "<td>gini</td>" in page
    assert "agents = 1000" in page and "commons-sim run" in page  # scenario text and command line
    assert "<td>complete</td>" in page
    assert "src=\"http" not in page and "<script" not in page  # self-contained


def test_the_report_of_a_synthetic_sweep_has_a_band_and_a_heat_map(source_dir, grid_sweep, tmp_path):
    page = (tmp_path / "r" / "report.html")
    _report(source_dir, grid_sweep, "-o", tmp_path / "r")
    text = page.read_text()
    assert set(_figures(text)) == {"synthetic_grid_outcomes", "synthetic_grid_gini_band",
                                   "synthetic_grid_gini_heat_map"}
    assert "SYNTHETIC file" in text and "<th>median</th>" in text and "<th>95 %</th>" in text


def test_the_report_of_a_sensitivity_sweep_has_indices(sobol_sweep, tmp_path):
    page = report.build_report([sobol_sweep], tmp_path).read_text()
    assert "synthetic_sobol_y_sensitivity" in _figures(page)
    assert "<h3>Sensitivity indices</h3>" in page and "<th>ST_high</th>" in page


def test_the_report_of_cpr_and_snapshots_has_phase_lorenz_and_distribution(cpr_file, tmp_path):
    page = report.build_report([cpr_file], tmp_path).read_text()
    assert {"synthetic_cpr_phase", "synthetic_cpr_lorenz", "synthetic_cpr_wealth"} <= set(_figures(page))


def test_several_files_are_compared_first(source_dir, run_file, saving_file, killed_file, tmp_path):
    _report(source_dir, run_file, saving_file, killed_file, "-o", tmp_path)
    page = (tmp_path / "report.html").read_text()
    assert list(_figures(page))[0] == "comparison"
    assert "did not complete (status running)" in page  # the killed run is flagged


def test_the_default_folder_is_next_to_the_first_file(source_dir, run_file):
    printed = _report(source_dir, run_file)
    assert printed == str(run_file.parent / "random_report" / "report.html")


def test_a_missing_file_is_a_usage_error(source_dir, tmp_path):
    result = subprocess.run([str(source_dir / "scripts" / "report"), str(tmp_path / "none.h5")],
                            capture_output=True, text=True)
    assert result.returncode == 2 and "no such file" in result.stderr
