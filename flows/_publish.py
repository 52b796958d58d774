"""Publish a flow's Markdown summary and MLflow link as Prefect artifacts; a UI nicety never fails a run."""

from __future__ import annotations

import logging


def publish(key: str, markdown: str, link: str, link_text: str, description: str) -> None:
    """Create a Markdown artifact `<key>` and a link artifact `<key>-mlflow-run` in the current flow run."""
    from prefect.artifacts import create_link_artifact, create_markdown_artifact

    try:
        create_markdown_artifact(key=key, markdown=markdown, description=description)
        create_link_artifact(key=f"{key}-mlflow-run", link=link, link_text=link_text)
    except Exception as exc:  # the summary must never fail a finished run
        logging.getLogger("veilflow").warning("could not publish Prefect artifacts: %s", type(exc).__name__)
