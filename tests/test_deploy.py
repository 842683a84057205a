"""docker-compose.yml and deploy/ name only things that exist in the project.

No Docker engine runs here, so this is the check: every command parses with the project's own
CLI (or is a module in it), every mounted or copied path exists, and every variable a service
is given is a setting that service reads.
"""

from __future__ import annotations

import importlib.util
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.claims.settings import ClaimsSettings
from services.cli import _parser
from services.ledger.settings import LedgerSettings
from services.metrics.settings import MetricsSettings
from shared.settings import CommonSettings

ROOT = Path(__file__).parent.parent
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
APP_SERVICES = ["claims", "ledger", "metrics"]
SETTINGS = {"claims": ClaimsSettings, "ledger": LedgerSettings, "metrics": MetricsSettings}


def console_scripts() -> set[str]:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return set(pyproject["project"]["scripts"])


def check_command(argv: list[str]) -> None:
    if argv[0] == "outcomes":
        assert "outcomes" in console_scripts()
        _parser().parse_args(argv[1:])
    elif argv[:2] == ["python", "-m"]:
        assert importlib.util.find_spec(argv[2]) is not None, argv
    elif argv[0] != "pg_isready":
        raise AssertionError(f"unknown command {argv}")


def test_the_compose_file_runs_postgres_the_migration_and_the_three_services() -> None:
    assert set(COMPOSE["services"]) == {"postgres", "migrate", *APP_SERVICES}


def test_the_migration_runs_once_on_every_store_before_the_services_start() -> None:
    migrate = COMPOSE["services"]["migrate"]
    check_command(migrate["command"])
    assert migrate["command"][1:] == ["migrate", "all"] and migrate["restart"] == "no"
    for name in APP_SERVICES:
        key = f"{name.upper()}_DATABASE_URL"
        assert migrate["environment"][key] == COMPOSE["services"][name]["environment"][key]
        after = COMPOSE["services"][name]["depends_on"]["migrate"]
        assert after == {"condition": "service_completed_successfully"}
        assert "--migrate" not in COMPOSE["services"][name]["command"]


@pytest.mark.parametrize("name", [*APP_SERVICES, "postgres"])
def test_every_command_names_something_that_exists(name: str) -> None:
    service = COMPOSE["services"][name]
    if "command" in service:
        check_command(service["command"])
        assert service["command"][2] == name
    check_command(service["healthcheck"]["test"][1:])


@pytest.mark.parametrize("name", APP_SERVICES)
def test_the_build_and_environment_fit_the_service(name: str) -> None:
    service = COMPOSE["services"][name]
    assert (ROOT / service["build"]["context"] / service["build"]["dockerfile"]).is_file()
    port = str(SETTINGS[name]().port)
    assert service["ports"] == [f"127.0.0.1:{port}:{port}"]
    assert service["healthcheck"]["test"][-1] == port
    known = {f"{name.upper()}_{field.upper()}" for field in SETTINGS[name].model_fields}
    known |= {f"OUTCOMES_{field.upper()}" for field in CommonSettings.model_fields}
    assert set(service["environment"]) <= known
    for key, value in service["environment"].items():
        if key.endswith("_URL") and "claims:" in value:
            assert value == f"http://claims:{ClaimsSettings().port}"


def test_mounted_files_exist() -> None:
    for volume in COMPOSE["services"]["postgres"]["volumes"]:
        source = volume.split(":")[0]
        if source.startswith("./"):
            assert (ROOT / source).is_file(), source


def test_the_dockerfile_copies_what_exists_and_runs_the_cli() -> None:
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    for line in re.findall(r"^COPY (.+)$", dockerfile, re.MULTILINE):
        *sources, _ = line.split()
        for source in sources:
            assert (ROOT / source).exists(), source
    command = re.search(r"^CMD (\[.+\])$", dockerfile, re.MULTILINE)
    assert command is not None
    check_command(yaml.safe_load(command.group(1)))


def test_the_env_example_names_every_variable_compose_requires() -> None:
    required = set(re.findall(r"\$\{(\w+):\?", (ROOT / "docker-compose.yml").read_text()))
    example = (ROOT / "deploy" / "env.example").read_text()
    assert required == set(re.findall(r"^(\w+)=", example, re.MULTILINE))
