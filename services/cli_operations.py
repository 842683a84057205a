"""The operator's commands of the `outcomes` CLI: migrations as a step, and key rotation
(docs/operations.md)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from shared.settings import CommonSettings


def add_operations_commands(commands: Any, services: Sequence[str]) -> None:
    migrate = commands.add_parser(
        "migrate", help="bring the stores' read models to this code's migrations, then exit"
    )
    migrate.add_argument("service", nargs="?", default="all", choices=[*services, "all"])
    migrate.set_defaults(handler=lambda args: _migrate(args, services))

    keys = commands.add_parser("keys", help="rotate keys").add_subparsers(
        required=True, metavar="KEYS_COMMAND"
    )
    rewrap = keys.add_parser(
        "rewrap-personal-data",
        help="wrap every participant key still under OUTCOMES_PERSONAL_DATA_PREVIOUS_KEYS with "
        "OUTCOMES_PERSONAL_DATA_KEY (the claims store; safe while the service runs)",
    )
    rewrap.set_defaults(handler=_rewrap_personal_data)


def _migrate(args: argparse.Namespace, services: Sequence[str]) -> int:
    from services.runner import migrate_stores

    CommonSettings().check_secrets()
    for name, revision in migrate_stores(services if args.service == "all" else [args.service]):
        print(f"{name}: migrated to {revision}")
    return 0


def _rewrap_personal_data(_: argparse.Namespace) -> int:
    from services.claims.personal import PersonalDataVault, UnreadableSealedValue, wrapping_key_id
    from services.claims.settings import ClaimsSettings
    from shared.sqlviews import create_engine
    from shared.storeurls import sqlalchemy_url

    common = CommonSettings()
    common.check_secrets()
    current = common.personal_data_key.get_secret_value()
    url = sqlalchemy_url(ClaimsSettings().store_url(common))
    vault = PersonalDataVault(
        create_engine(url, common.pool()),
        current,
        previous_keys=common.previous_personal_data_keys(),
        owns_engine=True,
    )
    try:
        done = vault.rewrap()
        left = {k: n for k, n in vault.wrapped_by().items() if k != wrapping_key_id(current)}
    except UnreadableSealedValue as exc:
        print(f"outcomes: {exc}", file=sys.stderr)
        return 1
    finally:
        vault.close()
    print(f"re-wrapped {done} participant keys with key {wrapping_key_id(current)}")
    if left:
        print(f"still under other keys: {left}", file=sys.stderr)
        return 1
    print("no participant key is wrapped by another key: the previous keys may be removed")
    return 0
