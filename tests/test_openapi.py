"""The OpenAPI document covers every page the web server registers, and
every reference in it resolves."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from app.openapi import document
from schemas import FeatureEvent

WEB = Path(__file__).resolve().parent.parent / "agents" / "web.py"


def refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if "$ref" in node else []
        return found + [r for v in node.values() for r in refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in refs(v)]
    return []


def test_every_page_is_described_and_every_reference_resolves() -> None:
    doc = document()
    pages = set(re.findall(r'@app\.page\("([^"]+)"\)', WEB.read_text()))
    assert pages == set(doc["paths"])
    schemas = doc["components"]["schemas"]
    for ref in refs(doc):
        assert ref.startswith("#/components/schemas/") and ref.split("/")[-1] in schemas, ref


def test_the_request_schema_is_the_contracts() -> None:
    schema = document()["components"]["schemas"]["FeatureEvent"]
    assert schema["required"] == FeatureEvent.model_json_schema()["required"]
    assert set(schema["properties"]) == set(FeatureEvent.model_fields)
