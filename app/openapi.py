"""The HTTP API described as OpenAPI 3.1, served at ``/openapi.json``. The
request and answer bodies are the contracts' own JSON schemas (pydantic's),
so the description cannot drift from what is validated."""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

from pydantic.json_schema import models_json_schema

from app.learner import Outcome
from schemas import DeadLetterReason, FeatureEvent, LabelEvent, ModelEvent, PredictionEvent


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(description: str) -> dict[str, Any]:
    return _json(_ref("Errors"), description)


ANY_OBJECT: dict[str, Any] = {"type": "object"}


def document() -> dict[str, Any]:
    _, defs = models_json_schema(
        [
            (FeatureEvent, "validation"),
            (LabelEvent, "validation"),
            (PredictionEvent, "serialization"),
            (ModelEvent, "serialization"),
        ],
        ref_template="#/components/schemas/{model}",
    )
    schemas: dict[str, Any] = dict(defs["$defs"])
    schemas["Errors"] = {
        "type": "object",
        "properties": {
            "errors": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "reason": {"enum": [r.value for r in DeadLetterReason]},
                        "error": {"type": "string"},
                        "index": {
                            "type": "integer",
                            "description": "The event's place in an array request.",
                        },
                    },
                    "required": ["reason", "error"],
                },
            }
        },
        "required": ["errors"],
    }
    events = {"oneOf": [_ref("FeatureEvent"), {"type": "array", "items": _ref("FeatureEvent")}]}
    predictions = {
        "oneOf": [
            _ref("PredictionEvent"),
            {
                "type": "object",
                "properties": {"predictions": {"type": "array", "items": _ref("PredictionEvent")}},
                "required": ["predictions"],
            },
        ]
    }
    scored = {
        "200": _json(
            predictions, "One prediction per event, in order, as on the predictions topic"
        ),
        "400": _errors("An invalid event (the dead-letter reasons): nothing scored, nothing kept"),
        "413": _errors("Too large, or more than EDDY_BATCH_MAX_EVENTS events"),
    }
    outcomes = {
        "type": "object",
        "properties": {
            "outcomes": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "event_id": {"type": "string"},
                        "outcome": {"enum": [*(o.value for o in Outcome), "pending"]},
                    },
                },
            }
        },
    }
    body = {"required": True, "content": {"application/json": {"schema": events}}}
    admin: list[dict[str, list[str]]] = [{"bearer": []}]
    get = {"description": "", "content": {"application/json": {"schema": ANY_OBJECT}}}
    paths: dict[str, Any] = {
        "/predict": {
            "post": {
                "summary": "Score one event or an array of them with the served model",
                "parameters": [
                    {
                        "name": "learnable",
                        "in": "query",
                        "schema": {"type": "boolean", "default": False},
                        "description": "Keep the predict-time features for the events' labels "
                        "(with the admin or client token when either is set)",
                    }
                ],
                "requestBody": body,
                "security": [{"bearer": []}, {}],
                "responses": {**scored, "401": _json(ANY_OBJECT, "Learnable without a token")},
            }
        },
        "/explain": {
            "post": {
                "summary": "As /predict, each prediction with its explanation",
                "parameters": [
                    {
                        "name": "top",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1},
                        "description": "Contributions kept, largest first (all by default)",
                    }
                ],
                "requestBody": body,
                "responses": {
                    **scored,
                    "422": _errors("The served model gives no explanations"),
                },
            }
        },
        "/learn": {
            "post": {
                "summary": "Labels sent to the learner as the labels topic's are, with outcomes",
                "security": admin,
                "parameters": [
                    {
                        "name": "wait",
                        "in": "query",
                        "schema": {"type": "number", "minimum": 0, "maximum": 60, "default": 5},
                        "description": "Seconds to wait for the outcomes",
                    }
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "oneOf": [
                                    _ref("LabelEvent"),
                                    {"type": "array", "items": _ref("LabelEvent")},
                                ]
                            }
                        }
                    },
                },
                "responses": {
                    "200": _json(outcomes, "Every label's outcome, in order"),
                    "202": _json(outcomes, "Some still pending when the wait ended"),
                    "400": _errors("An invalid label (the dead-letter reasons): nothing sent"),
                    "401": _json(ANY_OBJECT, "A token is set (admin or client) and none given"),
                    "413": _errors("Too large, or more than EDDY_BATCH_MAX_EVENTS labels"),
                },
            }
        },
        "/model": {"get": {"summary": "The served model described", "responses": {"200": get}}},
        "/model/versions": {
            "get": {
                "summary": "The newest versions and every kept one",
                "parameters": [{"name": "last", "in": "query", "schema": {"type": "integer"}}],
                "responses": {"200": get},
            }
        },
        "/model/{action}": {
            "post": {
                "summary": "An operator's command, carried out by the learner as a new version",
                "security": admin,
                "parameters": [
                    {
                        "name": "action",
                        "in": "path",
                        "required": True,
                        "schema": {
                            "enum": ["rollback", "pin", "unpin", "freeze", "unfreeze", "promote"]
                        },
                    }
                ],
                "requestBody": {
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "version": {"type": "integer"},
                                    "challenger": {"type": "string"},
                                },
                            }
                        }
                    }
                },
                "responses": {
                    "200": _json(ANY_OBJECT, "Done: the model event"),
                    "202": _json(ANY_OBJECT, "Queued: no learner took it within 5 s"),
                    "400": _json(ANY_OBJECT, "A bad command"),
                    "401": _json(ANY_OBJECT, "A wrong or missing token"),
                    "403": _json(ANY_OBJECT, "EDDY_ADMIN_TOKEN is not set"),
                    "409": _json(ANY_OBJECT, "Refused by the learner, with the reason"),
                },
            }
        },
        "/ready": {
            "get": {
                "summary": "Whether this process is ready, and why not",
                "responses": {"200": get, "503": get},
            }
        },
        "/status": {
            "get": {"summary": "What this process serves and owns", "responses": {"200": get}}
        },
        "/drift": {
            "get": {"summary": "Window statistics and drift events", "responses": {"200": get}}
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics of this process",
                "responses": {
                    "200": {
                        "description": "",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
        "/openapi.json": {"get": {"summary": "This document", "responses": {"200": get}}},
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "eddy", "version": version("eddy")},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
