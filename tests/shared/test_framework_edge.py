"""The framework stays at the edge: the rule engine, the domains and the auditor's recomputation
load with no web framework, database toolkit or HTTP client importable.

Each check runs in a fresh interpreter whose import system refuses those packages, so a module
that reaches one of them, however indirectly, fails to load and the test names it.
"""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import shared.rules

ROOT = Path(__file__).resolve().parents[2]
REFUSED = ("fastapi", "starlette", "sqlalchemy", "httpx", "uvicorn")

PURE_MODULES = [
    "shared.errors",
    "shared.money",
    "shared.periods",
    "shared.feed.catalogue",
    "shared.feed.accounts",
    "shared.feed.views",
    "shared.feed.envelope",
    "shared.feed.models",
    "shared.feed.docs",
    *(f"shared.rules.{m.name}" for m in pkgutil.iter_modules(shared.rules.__path__)),
    "services.claims.domain",
    "services.claims.claim",
    "services.claims.population",
    "services.claims.derivation",
    "services.ledger.domain",
    "services.ledger.booking",
    "services.metrics.domain",
    "services.metrics.facts",
    "services.auditor.recompute",
]

PROGRAM = """
import importlib, sys

REFUSED = set(sys.argv[1].split(","))

class Refuse:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in REFUSED:
            raise ImportError(f"{name} may not be imported here")
        return None

sys.meta_path.insert(0, Refuse())
importlib.import_module(sys.argv[2])
"""


def load_without_frameworks(module: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", PROGRAM, ",".join(REFUSED), module],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("module", PURE_MODULES)
def test_module_loads_without_the_framework(module: str) -> None:
    done = load_without_frameworks(module)
    assert done.returncode == 0, done.stderr[-2000:]


def test_the_guard_refuses_a_framework_module() -> None:
    """The check can fail: a module that needs FastAPI does not load under it."""
    done = load_without_frameworks("shared.problems")
    assert done.returncode != 0
    assert "fastapi may not be imported here" in done.stderr
