"""The settings a flow run uses: the one Settings object, filled from the environment, .env and Prefect.

Order, first wins: values the caller gives (``cakupan run``'s --data-dir, --db, --task-runner, ...), environment
variables (``CAKUPAN_*``, e.g. from the worker's systemd unit), ``.env``, then what the Prefect server holds:

- Prefect Variables named ``cakupan_<setting>`` (``cakupan_data_dir``, ``cakupan_db_url``,
  ``cakupan_submissions_dir``, ``cakupan_lock_timeout_seconds``, ...), editable in the UI under Variables; a
  deployment runs its partitions on a Dask cluster with ``cakupan_task_runner`` = ``dask`` and
  ``cakupan_dask_address`` = ``tcp://HOST:8786`` (README, Running on a Dask cluster);
- Secret blocks ``cakupan-pii-key`` (the person_key HMAC key) and ``cakupan-db-password`` (the warehouse password,
  merged into a ``db_url`` that carries none), so neither is ever written in a file, a deployment or a parameter.

Prefect is asked only when a Prefect API is configured (``PREFECT_API_URL``); the CLI's temporary API holds none.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from cakupan.settings import Settings

VARIABLE_PREFIX = "cakupan_"
SECRET_BLOCKS = {"pii_key": "cakupan-pii-key", "db_password": "cakupan-db-password"}

_given: ContextVar[Settings | None] = ContextVar("cakupan_settings", default=None)


class PrefectSettingsSource(PydanticBaseSettingsSource):
    """Settings held by the Prefect server: Variables ``cakupan_<field>`` and the two Secret blocks."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # everything is read at once in __call__

    def __call__(self) -> dict[str, Any]:
        from prefect.settings import PREFECT_API_URL

        if not PREFECT_API_URL.value():
            return {}
        from prefect.blocks.system import Secret
        from prefect.client.orchestration import get_client

        fields = self.settings_cls.model_fields
        values: dict[str, Any] = {}
        with get_client(sync_client=True) as client:
            for variable in client.read_variables():
                name = variable.name.removeprefix(VARIABLE_PREFIX)
                if variable.name.startswith(VARIABLE_PREFIX) and name in fields and name not in SECRET_BLOCKS:
                    value = variable.value
                    if isinstance(value, str) and self.field_is_complex(fields[name]):
                        value = self.decode_complex_value(name, fields[name], value)  # "[10, 60]" typed in the UI
                    values[name] = value
        for name, block in SECRET_BLOCKS.items():
            try:
                secret: Secret[str] = Secret.load(block)  # type: ignore[assignment]  # a sync call here: no event loop
                values[name] = secret.get()
            except ValueError:  # no such block: the setting stays unset
                continue
        return values


class DeployedSettings(Settings):
    """Settings with the Prefect server as the last source before the defaults."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, dotenv_settings, PrefectSettingsSource(settings_cls), file_secret_settings


def load_settings() -> Settings:
    """The settings for this run: the caller's (``use_settings``), else environment, .env and Prefect."""
    return _given.get() or DeployedSettings()


@contextmanager
def use_settings(settings: Settings) -> Iterator[Settings]:
    """Run flows in this block with ``settings`` as given (how ``cakupan run`` passes --data-dir and --db)."""
    token = _given.set(settings)
    try:
        yield settings
    finally:
        _given.reset(token)
