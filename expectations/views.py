"""Data Docs page views that share their compiled templates; GX instantiates them by name (``build_data_docs``).

GX gives every section of the site (suites, validations, the index) a view with a jinja environment of its own, and
each environment compiles the same two dozen templates again: about a third of a build. These views hand their
environments one in-memory bytecode cache, so a template is compiled once per process. The pages are the same.
"""

from __future__ import annotations

from typing import Any

import jinja2
from great_expectations.render.view import DefaultJinjaIndexPageView, DefaultJinjaPageView


class _CompiledTemplates(jinja2.BytecodeCache):
    """Compiled templates by jinja's key; jinja checks each source's checksum before it uses one."""

    def __init__(self) -> None:
        self._code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        code = self._code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        self._code[bucket.key] = bucket.bytecode_to_string()


_COMPILED = _CompiledTemplates()


class PageView(DefaultJinjaPageView):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.env.bytecode_cache = _COMPILED


class IndexPageView(DefaultJinjaIndexPageView):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.env.bytecode_cache = _COMPILED
