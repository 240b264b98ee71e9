"""The inventory's JSON Schema, generated from the model so it never drifts from it.

The committed copy (``inventory/egov-inventory.schema.json``) lets editors complete and check
the YAML; a test regenerates it and fails when the model changed without it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from egov.inventory.model import Estate

SCHEMA_FILE = Path("inventory/egov-inventory.schema.json")
SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def build_schema() -> dict[str, Any]:
    """The JSON Schema of an inventory file, as a dict."""
    schema = Estate.model_json_schema(mode="validation")
    schema["$schema"] = SCHEMA_DIALECT
    schema["title"] = "egov inventory"
    return schema


def render_schema() -> str:
    """The JSON Schema as stable, diff-friendly text ending in a newline."""
    return json.dumps(build_schema(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"
