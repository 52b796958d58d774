"""What the recognizers return: the entities they add to Presidio's, and the result helper."""

from __future__ import annotations

from presidio_analyzer import EntityRecognizer, RecognizerResult

# Entities produced here that Presidio's defaults do not know: a policy must list them.
ADDRESS_ENTITY = "STREET_ADDRESS"
USERNAME_ENTITY = "USERNAME"
CUSTOM_ENTITIES: tuple[str, ...] = (ADDRESS_ENTITY, USERNAME_ENTITY)


def _result(entity: str, start: int, end: int, score: float, rec: EntityRecognizer) -> RecognizerResult:
    """A result carrying the recognizer's name and id, as Presidio's own recognizers record them."""
    return RecognizerResult(
        entity_type=entity,
        start=start,
        end=end,
        score=score,
        recognition_metadata={
            RecognizerResult.RECOGNIZER_NAME_KEY: rec.name,  # type: ignore[has-type]  # Presidio declares `name: str = None`, so mypy skips the first assignment of EntityRecognizer.name as unreachable and cannot infer it
            RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: rec.id,
        },
    )
