"""Rendering the deploys' templates (``templates/<role>/*.j2``) into file contents.

Rendering is pure and happens on the control node, so tests check every generated file
without pyinfra, and the deploys upload the result as it is.
"""

from __future__ import annotations

from io import StringIO
from typing import Any

import jinja2

_ENVIRONMENT = jinja2.Environment(  # noqa: S701 (configuration files, not HTML)
    loader=jinja2.PackageLoader("egov.deploys", "templates"),
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
)


def render(name: str, **context: Any) -> str:
    """The text of template ``name`` (``role/file.j2``) rendered with ``context``."""
    return _ENVIRONMENT.get_template(name).render(**context)


def as_file(text: str) -> StringIO:
    """``text`` as the file-like object pyinfra's ``files.put`` uploads."""
    return StringIO(text)
