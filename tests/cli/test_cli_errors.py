"""The one line the command prints for an error that is not veilflow's: type, HTTP status, place; never a body."""

from __future__ import annotations

import httpx
import pytest

from veilflow.cli.main import _http_status, main


def test_http_status_when_server_refuses_then_status_reason_and_host_without_path_or_body():
    request = httpx.Request("GET", "http://127.0.0.1:4200/api/flows/filter?name=Jane%20Doe")
    response = httpx.Response(401, request=request, text="no: Jane Doe")
    with pytest.raises(httpx.HTTPStatusError) as caught:
        response.raise_for_status()
    line = _http_status(caught.value)
    assert line == " (HTTP 401 Unauthorized from 127.0.0.1:4200)"
    assert "Jane" not in line and "filter" not in line
    assert _http_status(ValueError("Jane Doe")) == ""


def test_main_when_library_error_then_exit_1_and_one_line_without_its_message(monkeypatch, capsys):
    def boom(model):
        raise RuntimeError("row 7: Jane Doe, jane@example.com")  # a library message that quotes data

    monkeypatch.setattr("veilflow.tasks.ops.registry.format_status", boom)
    assert main(["status"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("veilflow: unexpected RuntimeError at ")
    assert "Jane" not in err[0] and "example.com" not in err[0]
