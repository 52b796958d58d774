"""Prefect flows: they only compose the wrapped tasks."""
