"""Per-turn work that Rasa 3.6 repeats for nothing, removed once when the process loads the
project's components (the pinned ``rasa==3.6.21``; see README, chat capacity).

Every custom action's answer is checked against Rasa's response schema with
``jsonschema.validate``, which first checks the schema itself against the JSON Schema
meta-schema: a third of the Rasa process's CPU per turn. The same check runs here with one
validator built (and its schema checked) once.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any

from jsonschema.exceptions import best_match
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction

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


def install() -> None:
    if not hasattr(RemoteAction, "_validate_action_result"):
        logger.warning("hotline.rasa_speedups_skipped")  # a Rasa other than the pinned one
        return
    RemoteAction._validate_action_result = validate_action_result
