"""The CLI's error paths: one line on stderr, exit 2, no traceback, nothing started."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cakupan.cli import main


@pytest.fixture
def inputs(minimal_inputs: Path) -> dict[str, Path]:
    return {"root": minimal_inputs}


def args(root: Path, **override: str) -> list[str]:
    values = {
        "--submissions": str(root / "submissions"),
        "--bpjs": str(root / "bpjs"),
        "--reference": str(root / "reference"),
        "--run-date": "2026-11-27",
        "--data-dir": str(root / "data"),
    }
    values.update(override)
    return ["run", *[x for pair in values.items() for x in pair]]


def one_line_error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("cakupan: error: "), err
    return err


def test_missing_submissions_folder(inputs: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    root = inputs["root"]
    assert "does not exist" in one_line_error(capsys, args(root, **{"--submissions": str(root / "nope")}))


def test_submissions_path_is_a_file(inputs: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    root = inputs["root"]
    path = root / "reference" / "villages.csv"
    assert "is not a folder" in one_line_error(capsys, args(root, **{"--submissions": str(path)}))


def test_bad_run_date(inputs: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert "bad run date" in one_line_error(capsys, args(inputs["root"], **{"--run-date": "27/11/2026"}))


def test_no_export_on_or_before_the_run_date(inputs: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    err = one_line_error(capsys, args(inputs["root"], **{"--run-date": "2026-11-01"}))
    assert "no BPJS export dated on or before 2026-11-01" in err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("kode_desa,nama_desa\n62.03.01.2001,Sei Asam\n", "lacks column(s) kode_kecamatan, nama_kecamatan, kuota"),
        (
            "kode_desa,nama_desa,kode_kecamatan,nama_kecamatan,kuota\n62.03.01.2001,Sei Asam,62.03.01,Selat,empat\n",
            "kuota must be a whole number",
        ),
        (
            "kode_desa,nama_desa,kode_kecamatan,nama_kecamatan,kuota\n6203012001,Sei Asam,62.03.01,Selat,4\n",
            "is not a Kemendagri code",
        ),
    ],
)
def test_bad_reference_file(
    inputs: dict[str, Path], capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    (inputs["root"] / "reference" / "villages.csv").write_text(content)
    assert message in one_line_error(capsys, args(inputs["root"]))


def test_missing_reference_file(inputs: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    (inputs["root"] / "reference" / "villages.csv").unlink()
    assert "villages.csv not found" in one_line_error(capsys, args(inputs["root"]))


def test_unreachable_database(inputs: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    err = one_line_error(capsys, args(inputs["root"], **{"--db": "postgresql+psycopg://postgres@127.0.0.1:1/x"}))
    assert "warehouse database unreachable" in err


def test_a_scratch_url_whose_store_is_not_installed_is_one_line(
    inputs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    err = one_line_error(capsys, args(inputs["root"], **{"--scratch": "s3://dinsos-cakupan/scratch"}))
    assert err == "cakupan: error: bad setting scratch: scratch s3://dinsos-cakupan/scratch: Install s3fs to access S3"


def test_a_bad_setting_from_the_environment_is_one_line(
    inputs: dict[str, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAKUPAN_PARTITIONS", "-3")
    err = one_line_error(capsys, args(inputs["root"]))
    assert err == "cakupan: error: bad setting partitions: Input should be greater than or equal to 0"


def test_the_installed_command_prints_no_traceback(inputs: dict[str, Path]) -> None:
    cakupan = Path(sys.executable).parent / "cakupan"
    done = subprocess.run(
        [str(cakupan), *args(inputs["root"], **{"--run-date": "tomorrow"})], capture_output=True, text=True
    )
    assert done.returncode == 2
    assert done.stderr.strip() == "cakupan: error: bad run date 'tomorrow': expected YYYY-MM-DD, e.g. 2026-11-28"


@pytest.mark.parametrize("command", ["sample", "run", "demo"])
def test_help_explains_each_command(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    assert len(capsys.readouterr().out) > 300


def test_the_environment_names_the_warehouse_when_no_flag_does(
    inputs: dict[str, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAKUPAN_DB_URL", "postgresql+psycopg://postgres@127.0.0.1:1/from_env")
    argv = [a for a in args(inputs["root"]) if a != "--data-dir" and a != str(inputs["root"] / "data")]
    assert "warehouse database unreachable" in one_line_error(capsys, argv)


def test_a_relative_data_dir_is_taken_where_the_command_was_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cakupan.cli import settings_from

    monkeypatch.chdir(tmp_path)
    assert settings_from(Path("data"), None).data_dir == tmp_path / "data"
    monkeypatch.setenv("CAKUPAN_DATA_DIR", "elsewhere")
    assert settings_from(None, None).data_dir == tmp_path / "elsewhere"
