"""Per-turn work that Rasa 3.6 repeats for nothing, removed once when the process loads the
project's components (the pinned ``rasa==3.6.21``; see README, chat capacity).

- Every custom action's answer is checked against Rasa's response schema with
  ``jsonschema.validate``, which first checks the schema itself against the JSON Schema
  meta-schema: a third of the Rasa process's CPU per turn. The same check runs here with one
  validator built (and its schema checked) once.
- Every event read back from the tracker store finds its class by walking all subclasses of
  ``Event`` (an eighth of the CPU per turn); here the walk's result is kept.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any

from jsonschema.exceptions import best_match
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.shared.core.events import Event
from rasa.shared.utils.common import all_subclasses

logger = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def response_validator() -> Validator:
    schema = RemoteAction.action_response_format_spec()
    cls = validator_for(schema)
    cls.check_schema(schema)
    validator: Validator = cls(schema)
    return validator


def validate_action_result(_action: RemoteAction, result: dict[str, Any]) -> bool:
    """``RemoteAction._validate_action_result`` with the validator built once."""
    error = best_match(response_validator().iter_errors(result))
    if error is not None:
        error.message += (
            ". Failed to validate Action server response from API, make sure your response "
            "from the Action endpoint is valid."
        )
        raise error
    return True


@lru_cache(maxsize=1)
def event_types() -> dict[str, type[Event]]:
    types: dict[str, type[Event]] = {}
    for cls in all_subclasses(Event):
        types.setdefault(cls.type_name, cls)  # the first found wins, as in Rasa's own walk
    return types


_resolve_event_type = Event.resolve_by_type


def resolve_event_type(type_name: str, default: type[Event] | None = None) -> type[Event] | None:
    """``Event.resolve_by_type`` over the kept walk; a name it lacks gets Rasa's own answer."""
    found = event_types().get(type_name)
    return found if found is not None else _resolve_event_type(type_name, default)


def install() -> None:
    if not hasattr(RemoteAction, "_validate_action_result"):
        logger.warning("hotline.rasa_speedups_skipped")  # a Rasa other than the pinned one
        return
    RemoteAction._validate_action_result = validate_action_result
    Event.resolve_by_type = staticmethod(resolve_event_type)
