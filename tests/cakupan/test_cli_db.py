"""`cakupan db upgrade`, and `cakupan run` refusing a warehouse whose schema is behind the code."""

from __future__ import annotations

from pathlib import Path

import pytest

from cakupan.cli import main
from warehouse.store import head_revision, upgrade


@pytest.fixture
def inputs(minimal_inputs: Path) -> Path:
    return minimal_inputs


def run_args(root: Path, db: str) -> list[str]:
    return [
        "run",
        "--submissions",
        str(root / "submissions"),
        "--bpjs",
        str(root / "bpjs"),
        "--reference",
        str(root / "reference"),
        "--run-date",
        "2026-11-27",
        "--data-dir",
        str(root / "data"),
        "--db",
        db,
    ]


def test_db_upgrade_migrates_and_can_be_repeated(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "upgrade", "--db", db_url]) == 0
    assert capsys.readouterr().out.strip() == f"warehouse schema upgraded: no revision -> {head_revision()}"
    assert main(["db", "upgrade", "--db", db_url]) == 0
    assert capsys.readouterr().out.strip() == f"warehouse schema already at {head_revision()}"


def test_db_upgrade_defaults_to_the_local_warehouse_in_the_data_dir(tmp_path: Path) -> None:
    assert main(["db", "upgrade", "--data-dir", str(tmp_path / "data")]) == 0
    assert (tmp_path / "data" / "warehouse.db").is_file()


def test_run_refuses_a_warehouse_behind_the_code_in_one_line(
    db_url: str, inputs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    upgrade(db_url, "0001")
    assert main(run_args(inputs, db_url)) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith(
        f"cakupan: error: warehouse schema is at 0001, code needs {head_revision()}: run `cakupan db upgrade`"
    ), err
    assert not (inputs / "data" / "analytics").exists()


def test_db_upgrade_on_an_unreachable_database_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "upgrade", "--db", "postgresql+psycopg://postgres@127.0.0.1:1/nowhere"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("cakupan: error: warehouse database unreachable"), err
