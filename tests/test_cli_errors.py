"""A ``ChefbotError`` is printed as one line of plain text: its message quotes paths, titles and server answers,
where ``[/x]`` or ``[bold]`` is text, not rich markup (``[/x]`` used to crash the error printer itself)."""

from __future__ import annotations

import sys

import pytest


@pytest.mark.parametrize("path", ["nowhere/[/x]c.yaml", "nowhere/[bold]c[/bold].yaml", "nowhere/[red]c.yaml"])
def test_an_error_message_with_brackets_is_printed_as_it_is(monkeypatch, capsys, path):
    from chefbot.cli import main

    monkeypatch.setattr(sys, "argv", ["chefbot", "config", "show", path])
    with pytest.raises(SystemExit) as done:
        main()
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert err.strip() == f"error: {path}: config file not found"
