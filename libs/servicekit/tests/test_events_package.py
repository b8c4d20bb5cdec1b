"""The events package: its names importable from it, its modules loaded only when needed."""

from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

import servicekit.events
from servicekit.delivery import RETRY_PAUSES_S, pause_after


def modules_loaded_by(statement: str) -> set[str]:
    """The modules a fresh interpreter has loaded after ``statement``."""
    script = f"import json, sys\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    output = subprocess.run(
        [sys.executable, "-c", script], check=True, capture_output=True, text=True
    ).stdout
    return set(json.loads(output))


def test_the_settings_do_not_load_the_machinery_that_sends_and_receives_events() -> None:
    loaded = modules_loaded_by("import servicekit.settings")

    assert "servicekit.events.subscribers" in loaded
    heavy = {
        name
        for name in loaded
        if name.startswith(("servicekit.events.", "servicekit.delivery", "servicekit.db"))
        or name.split(".")[0] in {"httpx", "cloudevents", "sqlalchemy", "fastapi"}
    }
    assert heavy == {"servicekit.events.subscribers"}


def test_the_delivery_bookkeeping_knows_no_events() -> None:
    loaded = modules_loaded_by("import servicekit.delivery")

    assert not {name for name in loaded if name.startswith("servicekit.events")}


def type_checked_names() -> dict[str, str]:
    """The names the package's ``if TYPE_CHECKING:`` block imports, with their modules."""
    tree = ast.parse(Path(servicekit.events.__file__).read_text(encoding="utf-8"))
    [block] = [
        node
        for node in tree.body
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name)
        if node.test.id == "TYPE_CHECKING"
    ]
    return {
        alias.name: str(statement.module)
        for statement in block.body
        if isinstance(statement, ast.ImportFrom)
        for alias in statement.names
    }


def test_the_package_loads_each_name_from_the_module_the_type_checker_sees() -> None:
    assert servicekit.events.MODULE_OF == type_checked_names()
    for name, module in servicekit.events.MODULE_OF.items():
        assert getattr(servicekit.events, name) is getattr(importlib.import_module(module), name)


def test_a_name_the_package_does_not_have_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Nonexistent'"):
        servicekit.events.Nonexistent  # type: ignore[attr-defined]  # noqa: B018


def test_the_pauses_grow_and_the_last_repeats() -> None:
    pauses = [pause_after(attempts) for attempts in range(1, len(RETRY_PAUSES_S) + 3)]

    assert pauses == [1, 5, 30, 120, 600, 1800, 3600, 3600, 3600]
