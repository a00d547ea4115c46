"""The one settings object: paths, region, thresholds, warehouse URL and the PII key.

Values come from the environment (prefix ``CAKUPAN_``, e.g. ``CAKUPAN_DB_URL``) or a ``.env`` file; the CLI and the
flow parameters override single fields. The local profile is SQLite plus Parquet under ``./data``; production
points ``CAKUPAN_DB_URL`` at PostgreSQL. The region is data: nothing in the code knows Kapuas but the defaults here.
"""

from __future__ import annotations

import tomllib
import warnings
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from upath import UPath

from cakupan.partitions import location

RULES_FILE = Path(__file__).parent / "config" / "rules.toml"

# Used only when CAKUPAN_PII_KEY is unset, so the demo runs out of the box; person_key values made with it are
# public knowledge and must never leave a demo machine.
DEMO_PII_KEY = "cakupan-demo-key-not-secret"


@dataclass(frozen=True)
class Rules:
    """The reviewed thresholds of a run, from the committed, versioned ``cakupan/config/rules.toml``."""

    version: str
    age_min: int
    age_max: int
    max_rejected_share: float
    name_match_min: float
    probable_name_min: float
    grace_months: int


def load_rules(path: Path = RULES_FILE) -> Rules:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return Rules(
        version=str(data["version"]),
        age_min=int(data["validation"]["age_min"]),
        age_max=int(data["validation"]["age_max"]),
        max_rejected_share=float(data["validation"]["max_rejected_share"]),
        name_match_min=float(data["matching"]["name_match_min"]),
        probable_name_min=float(data["matching"]["probable_name_min"]),
        grace_months=int(data["membership"]["grace_months"]),
    )


class Settings(BaseSettings):
    """Everything a run needs to know that is not an input file."""

    model_config = SettingsConfigDict(env_prefix="CAKUPAN_", env_file=".env", extra="ignore")

    data_dir: Path = Field(Path("data"), description="Root of the output tree (analytics/, restricted/, reports/).")
    db_url: str | None = Field(None, description="SQLAlchemy URL of the warehouse; default SQLite in data_dir.")
    pii_key: SecretStr | None = Field(None, description="HMAC key for person_key. Unset: a public demo key.")
    region_code: str = Field("62.03", description="Kemendagri code of the regency (kabupaten/kota).")
    region_name: str = Field("Kabupaten Kapuas", description="Name of the regency as shown in reports.")
    regency_payer: str = Field("PEMKAB KAPUAS", description="BPJS payer name of the regency's own budget (APBD).")
    regency_segment: str = Field("SA", description="BPJS segment code of APBD-funded pekerja rentan.")
    target_total: int | None = Field(None, description="Regency target; default the sum of the villages' kuota.")
    timezone: str = Field("Asia/Jakarta", description="Time zone in which a run date is a calendar day.")
    rules_file: Path = Field(RULES_FILE, description="Versioned thresholds file.")
    # Running it (see README, Operating it): the inbox a deployment reads when a run names no folders, and patience.
    submissions_dir: Path | None = Field(None, description="Inbox of village files for runs that name none.")
    bpjs_path: Path | None = Field(None, description="BPJS export file or folder of dated exports, likewise.")
    reference_dir: Path | None = Field(None, description="Folder with villages.csv and workforce.csv, likewise.")
    db_password: SecretStr | None = Field(None, description="Warehouse password when db_url carries none.")
    lock_timeout_seconds: float = Field(3600, description="How long a run waits while another holds its run_date.")
    partitions: int = Field(
        0,
        ge=0,
        description="NIK-hash partitions a run is split into (1 = one pass); 0 chooses by the size of the inputs.",
    )
    io_retry_delays_seconds: list[float] = Field(
        [10, 60], description="Waits before each retry of reading the inbox or writing the warehouse."
    )
    # Where the partition tasks run (see README, Running on a Dask cluster): data_dir must then be one shared folder.
    task_runner: Literal["threads", "dask"] = Field(
        "threads", description="threads: in the flow's own process; dask: on the Dask cluster at dask_address."
    )
    dask_address: str | None = Field(
        None, description="Dask scheduler, e.g. tcp://10.0.0.5:8786; unset: a temporary cluster on this machine."
    )
    scratch: str | None = Field(
        None,
        description="Where a run's partitions live while it runs: a folder or an fsspec URL (s3://bucket/cakupan, "
        "file:///srv/cakupan/scratch); default DATA_DIR/.runs. On a Dask cluster every worker must reach it.",
    )

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, data_dir: Path) -> Path:
        # Taken where the command was started: Great Expectations and the publishing renames need absolute paths.
        return data_dir.absolute()

    @field_validator("scratch")
    @classmethod
    def _absolute_scratch(cls, scratch: str | None) -> str | None:
        if scratch is None:
            return None
        if "://" not in scratch:
            return str(Path(scratch).absolute())
        import fsspec

        try:  # the store's fsspec package must be installed (s3fs for s3://): said now, not in the first task
            fsspec.get_filesystem_class(scratch.split("://", 1)[0])
        except (ImportError, ValueError) as exc:
            raise ValueError(f"scratch {scratch}: {exc}") from None
        return scratch

    @property
    def scratch_root(self) -> UPath:
        """The runs' scratch location (``scratch``, else DATA_DIR/.runs) as a path fsspec and polars both take."""
        return location(self.scratch or self.data_dir / ".runs")

    @property
    def warehouse_url(self) -> str:
        url = self.db_url or f"sqlite:///{self.data_dir / 'warehouse.db'}"
        if self.db_url is None or self.db_password is None:
            return url
        from sqlalchemy.engine import make_url

        parsed = make_url(url)
        if parsed.password is not None:
            return url
        return parsed.set(password=self.db_password.get_secret_value()).render_as_string(hide_password=False)

    @property
    def person_key_secret(self) -> bytes:
        if self.pii_key is None or not self.pii_key.get_secret_value():
            warnings.warn(
                "CAKUPAN_PII_KEY is not set: person_key uses the public demo key; set a secret key in production.",
                stacklevel=2,
            )
            return DEMO_PII_KEY.encode()
        return self.pii_key.get_secret_value().encode()

    @cached_property
    def rules(self) -> Rules:
        return load_rules(self.rules_file)


def today_in(timezone: str) -> date:
    """Today's calendar date where the office is, not where the server's clock is."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    return datetime.now(ZoneInfo(timezone)).date()
