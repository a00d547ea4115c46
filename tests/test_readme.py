"""The README is the input contract: it must name every header synonym the readers accept."""

from pathlib import Path

import pytest

from cakupan.headers import BPJS_HEADERS, SUBMISSION_HEADERS

README = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "synonym", sorted({s for table in (SUBMISSION_HEADERS, BPJS_HEADERS) for names in table.values() for s in names})
)
def test_readme_documents_every_header_synonym(synonym: str) -> None:
    assert f"`{synonym}`" in README


def test_readme_opens_with_the_two_commands() -> None:
    assert "make demo" in README and "make test" in README
