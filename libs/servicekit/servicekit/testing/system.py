"""Real components from the operating system (clamd, coturn, chromium) for the tests that need them.

``make install`` installs them from Debian where apt exists (``deploy/system/packages.txt``). Where
one cannot be had, the tests that need it are skipped and the run ends with a red banner naming
what did not run, as it does when PostgreSQL is missing.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

_SEARCHED = ("/usr/sbin", "/usr/bin", "/usr/local/bin", "/usr/local/sbin")
MISSING: dict[str, str] = {}


def require_program(program: str, *, package: str) -> Path:
    """The path of ``program``, or skip the test (loudly) saying which Debian package has it."""
    found = shutil.which(program) or next(
        (str(Path(d) / program) for d in _SEARCHED if (Path(d) / program).is_file()), None
    )
    if found is None:
        MISSING[program] = package
        pytest.skip(
            f"SKIPPED LOUDLY: {program} is not installed (Debian package {package!r};"
            " `make install` installs it where apt exists)"
        )
    return Path(found)


def report_missing(terminalreporter: pytest.TerminalReporter, missing: dict[str, str]) -> None:
    """The red banner at the end of a run in which a real component was missing
    (``missing``: program -> Debian package, from every process of the run)."""
    if not missing:
        return
    terminalreporter.write_sep("!", "TESTS OF REAL COMPONENTS SKIPPED", red=True, bold=True)
    for program, package in sorted(missing.items()):
        terminalreporter.write_line(
            f"{program}: not installed (Debian package {package}); its tests did not run",
            red=True,
            bold=True,
        )
