"""The ``outcomes`` command: run the services, mint local tokens, load rule books."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx

from services.cli_operations import add_operations_commands
from services.cli_provider import add_diagnose_command, add_import_command
from shared.auth import Role, TokenSigner
from shared.errors import OutcomesError
from shared.settings import CommonSettings, InsecureSettingsError

HTTP_TIMEOUT_S = 30.0
MAX_CLOSE_CALLS = 1_000  # of at most 500 populations each
NAMED_ROLES = ("payer", "provider", "evaluator")  # tokens that must say who holds them
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
PDF_TIMEOUT_S = 120


SERVICES = ("claims", "ledger", "metrics")
MIGRATE_HELP = "migrate the store's read models first (else a store behind the code stops it)"


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        result: int = args.handler(args)
        return result
    except (OutcomesError, InsecureSettingsError, OSError, ValueError, httpx.HTTPError) as exc:
        print(f"outcomes: {exc}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="outcomes", description=__doc__)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="run claims, ledger and metrics on 127.0.0.1:8001-8003")
    run.add_argument("--migrate", action="store_true", help=MIGRATE_HELP)
    run.set_defaults(handler=_run)

    serve = commands.add_parser("serve", help="run one service (as containers do)")
    serve.add_argument("service", choices=SERVICES)
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=None)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--migrate", action="store_true", help=MIGRATE_HELP)
    serve.set_defaults(handler=_serve)

    add_operations_commands(commands, SERVICES)

    token = commands.add_parser("token", help="print a signed token for local use")
    token.add_argument("--role", required=True, choices=[r.value for r in Role])
    token.add_argument("--provider", help="provider id (provider tokens)")
    token.add_argument("--contract", action="append", default=[], help="contract id; repeatable")
    token.add_argument(
        "--subject",
        help="who holds the token; required for payer, provider and evaluator tokens",
    )
    token.add_argument("--ttl-s", type=int, default=3600, help="lifetime in seconds")
    token.set_defaults(handler=_token)

    contracts = commands.add_parser("contracts", help="manage contracts")
    contract_commands = contracts.add_subparsers(required=True, metavar="ACTION")
    load = contract_commands.add_parser("load", help="register a rule book (YAML or JSON)")
    load.add_argument("file", type=Path)
    load.add_argument(
        "--url", default=os.environ.get("OUTCOMES_CLAIMS_URL", "http://127.0.0.1:8001")
    )
    load.add_argument(
        "--token", default=os.environ.get("OUTCOMES_TOKEN"), help="admin token (default: mint one)"
    )
    load.set_defaults(handler=_load_contract)
    close = contract_commands.add_parser(
        "close-populations",
        help="derive the claims of every population whose period has closed (run it daily)",
    )
    close.add_argument("contract")
    close.add_argument(
        "--url", default=os.environ.get("OUTCOMES_CLAIMS_URL", "http://127.0.0.1:8001")
    )
    close.add_argument(
        "--token", default=os.environ.get("OUTCOMES_TOKEN"), help="admin token (default: mint one)"
    )
    close.set_defaults(handler=_close_populations)
    add_import_command(commands)
    add_diagnose_command(commands)
    _metrics_commands(commands)
    return parser


def _metrics_commands(commands: Any) -> None:
    dashboard = commands.add_parser(
        "dashboard", help="save a contract's performance dashboard as one HTML file"
    )
    dashboard.add_argument("contract")
    for option in ("--month", "--as-known-at", "--provider-id", "--site", "--cohort"):
        dashboard.add_argument(option)
    dashboard.add_argument(
        "--url", default=os.environ.get("OUTCOMES_METRICS_URL", "http://127.0.0.1:8003")
    )
    dashboard.add_argument("--token", default=os.environ.get("OUTCOMES_TOKEN"))
    saved = dashboard.add_mutually_exclusive_group()
    saved.add_argument("--out", type=Path, help="file to write (default: standard output)")
    saved.add_argument(
        "--pdf", type=Path, help="save the pack as a PDF instead (through headless Chromium)"
    )
    saved.add_argument(
        "--link",
        action="store_true",
        help="print a link that opens the page in a browser for five minutes, as the token's "
        "holder (no token to paste)",
    )
    dashboard.set_defaults(handler=_dashboard)

    metrics = commands.add_parser("metrics", help="the metrics read models")
    metrics_commands = metrics.add_subparsers(required=True, metavar="ACTION")
    rebuild = metrics_commands.add_parser(
        "rebuild", help="empty the read models and replay the claims and ledger feeds"
    )
    rebuild.add_argument("--claims-url", help="default: METRICS_CLAIMS_URL")
    rebuild.add_argument("--ledger-url", help="default: METRICS_LEDGER_URL")
    rebuild.set_defaults(handler=_metrics_rebuild)

    audit = commands.add_parser("audit", help="independent checks an auditor runs")
    audit_commands = audit.add_subparsers(required=True, metavar="ACTION")
    check = audit_commands.add_parser(
        "verify", help="recompute every claim and ledger balance from the public feeds"
    )
    check.add_argument(
        "--claims", default=os.environ.get("OUTCOMES_CLAIMS_URL", "http://127.0.0.1:8001")
    )
    check.add_argument(
        "--ledger", default=os.environ.get("OUTCOMES_LEDGER_URL", "http://127.0.0.1:8002")
    )
    check.add_argument("--token", default=os.environ.get("OUTCOMES_TOKEN"), help="auditor token")
    check.set_defaults(handler=_audit_verify)
    rebuild_check = audit_commands.add_parser(
        "rebuild", help="replay feeds into fresh tables and compare them with the live ones"
    )
    rebuild_check.add_argument("--service", required=True, choices=["ledger", "metrics"])
    rebuild_check.add_argument("--claims-url", help="default: METRICS_CLAIMS_URL")
    rebuild_check.add_argument("--ledger-url", help="default: METRICS_LEDGER_URL")
    rebuild_check.set_defaults(handler=_audit_rebuild)


def _run(args: argparse.Namespace) -> int:
    from services.runner import run_all

    CommonSettings().check_secrets()
    _migrate_on_start(args)
    return run_all()


def _migrate_on_start(args: argparse.Namespace) -> None:
    """``--migrate``: the service (uvicorn imports it afresh) reads it from its environment."""
    if args.migrate:
        os.environ["OUTCOMES_MIGRATE_ON_START"] = "true"


def _serve(args: argparse.Namespace) -> int:
    from services.runner import serve_command, service_specs

    CommonSettings().check_secrets()
    _migrate_on_start(args)
    spec = next(s for s in service_specs() if s.name == args.service)
    command = serve_command(spec, workers=args.workers)
    if args.host:
        command[command.index("--host") + 1] = args.host
    if args.port:
        command[command.index("--port") + 1] = str(args.port)
    os.execv(command[0], command)  # noqa: S606 - replaces this process with uvicorn
    return 0


def _token(args: argparse.Namespace) -> int:
    if args.role in NAMED_ROLES and not args.subject:
        print(
            f"a {args.role} token needs --subject: who holds it (e.g. the payment system's or "
            "the case-management system's name); idempotency keys and the access trail are "
            "kept per subject",
            file=sys.stderr,
        )
        return 2
    signer = TokenSigner.from_settings(CommonSettings())
    print(
        signer.issue(
            Role(args.role),
            subject=args.subject,
            provider_id=args.provider,
            contract_ids=args.contract,
            ttl_s=args.ttl_s,
        )
    )
    return 0


def _load_contract(args: argparse.Namespace) -> int:
    """Send the file as it is, so the service can point at lines when it refuses it."""
    path: Path = args.file
    content_type = "application/json" if path.suffix.lower() == ".json" else "application/yaml"
    token = args.token or TokenSigner.from_settings(CommonSettings()).issue(Role.ADMIN, ttl_s=300)
    response = httpx.post(
        f"{args.url.rstrip('/')}/v1/contracts",
        content=path.read_bytes(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": content_type},
        timeout=HTTP_TIMEOUT_S,
    )
    if response.status_code in (200, 201):
        body = response.json()
        verb = "registered" if response.status_code == 201 else "already registered"
        print(f"{verb}: {body['contract_id']} version {body['version']}")
        return 0
    print(f"refused ({response.status_code}): {_problem_text(response)}", file=sys.stderr)
    for problem in _problems(response):
        line = f":{problem['line']}" if problem.get("line") else ""
        print(f"{path}{line}: {problem['field']}: {problem['message']}", file=sys.stderr)
    return 1


def _close_populations(args: argparse.Namespace) -> int:
    """Call the close endpoint until it has nothing more to close (each call is bounded)."""
    token = args.token or TokenSigner.from_settings(CommonSettings()).issue(Role.ADMIN, ttl_s=300)
    url = f"{args.url.rstrip('/')}/v1/contracts/{args.contract}/populations/close"
    closed = derived = 0
    for _call in range(MAX_CLOSE_CALLS):
        response = httpx.post(
            url, headers={"Authorization": f"Bearer {token}"}, timeout=HTTP_TIMEOUT_S
        )
        if response.status_code != 200:
            print(f"refused ({response.status_code}): {_problem_text(response)}", file=sys.stderr)
            return 1
        body = response.json()
        closed, derived = closed + body["closed"], derived + len(body["claim_ids"])
        if not body["more"]:
            break
    print(f"closed {closed} populations of {args.contract}; {derived} claims derived")
    return 0


def _dashboard(args: argparse.Namespace) -> int:
    """Fetch the page with a token (by default an auditor's, minted locally) and save it as
    HTML or PDF, or print a link that opens it in a browser."""
    token = args.token or TokenSigner.from_settings(CommonSettings()).issue(Role.AUDITOR, ttl_s=300)
    base = args.url.rstrip("/")
    if args.link:
        return _dashboard_link(base, args.contract, args.month, token)
    params = {
        name: getattr(args, name)
        for name in ("month", "as_known_at", "provider_id", "site", "cohort")
        if getattr(args, name)
    }
    response = httpx.get(
        f"{base}/dashboard/{args.contract}",
        params=params,
        headers={"Authorization": f"Bearer {token}"},
        timeout=HTTP_TIMEOUT_S,
    )
    if response.status_code != 200:
        print(f"refused ({response.status_code}): {_problem_text(response)}", file=sys.stderr)
        return 1
    if args.pdf is not None:
        print_pdf(response.text, args.pdf)
        print(f"saved: {args.pdf}")
    elif args.out is None:
        sys.stdout.write(response.text)
    else:
        args.out.write_text(response.text, encoding="utf-8")
        print(f"saved: {args.out}")
    return 0


def _dashboard_link(base: str, contract: str, month: str | None, token: str) -> int:
    response = httpx.post(
        f"{base}/v1/contracts/{contract}/dashboard-links",
        json={"month": month} if month else None,
        headers={"Authorization": f"Bearer {token}"},
        timeout=HTTP_TIMEOUT_S,
    )
    if response.status_code != 201:
        print(f"refused ({response.status_code}): {_problem_text(response)}", file=sys.stderr)
        return 1
    link = response.json()
    print(f"{base}{link['url']}")
    print(f"open it before {link['expires_at']}", file=sys.stderr)
    return 0


def print_pdf(page: str, target: Path) -> None:
    """Print a self-contained page to PDF with headless Chromium (``OUTCOMES_CHROMIUM``, or
    the first of chromium, chromium-browser, google-chrome found on the path)."""
    chromium = os.environ.get("OUTCOMES_CHROMIUM") or next(
        (found for name in CHROMIUM_NAMES if (found := shutil.which(name))), None
    )
    if chromium is None:
        raise OSError("no Chromium found: install chromium or set OUTCOMES_CHROMIUM")
    with tempfile.TemporaryDirectory(prefix="outcomes-pdf-") as folder:
        source = Path(folder) / "dashboard.html"
        source.write_text(page, encoding="utf-8")
        printed = Path(folder) / "dashboard.pdf"
        command = [
            chromium, "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run",
            f"--user-data-dir={Path(folder) / 'profile'}", "--no-pdf-header-footer",
            f"--print-to-pdf={printed}", source.as_uri(),
        ]  # fmt: skip
        try:
            done = subprocess.run(command, capture_output=True, timeout=PDF_TIMEOUT_S, check=False)
        except subprocess.TimeoutExpired:
            raise OSError(f"Chromium did not print the page within {PDF_TIMEOUT_S} s") from None
        if done.returncode != 0 or not printed.exists():
            raise OSError(f"Chromium could not print the page: {done.stderr.decode()[-500:]}")
        shutil.copyfile(printed, target)


def _metrics_rebuild(args: argparse.Namespace) -> int:
    from services.metrics.api import MIGRATIONS
    from services.metrics.application import CLAIMS_UPSTREAM, LEDGER_UPSTREAM
    from services.metrics.following import upstreams
    from services.metrics.rebuild import rebuild
    from services.metrics.settings import MetricsSettings
    from shared.auth import ServiceTokens
    from shared.sqlviews import create_engine, migrate
    from shared.storeurls import sqlalchemy_url

    common = CommonSettings()
    common.check_secrets()
    settings = MetricsSettings()
    engine = create_engine(sqlalchemy_url(settings.store_url(common)))
    tokens = ServiceTokens(TokenSigner.from_settings(common), "metrics-rebuild")
    urls = {
        CLAIMS_UPSTREAM: args.claims_url or settings.claims_url,
        LEDGER_UPSTREAM: args.ledger_url or settings.ledger_url,
    }
    sources = {u.name: u.source(urls[u.service], tokens) for u in upstreams()}
    try:
        migrate(engine, MIGRATIONS, "alembic_version_metrics")
        result = rebuild(engine, sources)
    finally:
        for source in sources.values():
            source.close()
        engine.dispose()
    print(
        f"rebuilt: {result.claims_entries} claims entries, {result.ledger_entries} ledger entries"
    )
    return 0


def _audit_verify(args: argparse.Namespace) -> int:
    """Exit 0 when the books follow from the feeds, 1 when anything differs."""
    from services.auditor.verify import HTTP_TIMEOUT_S as AUDIT_TIMEOUT_S
    from services.auditor.verify import report, verify
    from shared.feed.follower import HttpFeedSource

    token = args.token or TokenSigner.from_settings(CommonSettings()).issue(Role.AUDITOR)
    claims = HttpFeedSource(args.claims, lambda: token)
    ledger = HttpFeedSource(args.ledger, lambda: token)
    ledger_api = httpx.Client(
        base_url=args.ledger, headers={"Authorization": f"Bearer {token}"}, timeout=AUDIT_TIMEOUT_S
    )
    try:
        return report(verify(claims, ledger, ledger_api), sys.stdout)
    finally:
        claims.close()
        ledger.close()
        ledger_api.close()


def _audit_rebuild(args: argparse.Namespace) -> int:
    """Exit 0 when the fresh tables equal the live ones row for row, 1 when not."""
    from services.auditor.rebuild import rebuild_and_compare
    from services.auditor.sources import rebuild_plan

    common = CommonSettings()
    common.check_secrets()
    plan = rebuild_plan(args.service, common, args.claims_url, args.ledger_url)
    try:
        differences = rebuild_and_compare(
            plan.live, plan.migrations, plan.version_table, plan.replays(), plan.tables
        )
    finally:
        plan.close()
    for difference in differences:
        print(
            f"DIFFERENCE {difference.table}: {difference.only_live} rows only live, "
            f"{difference.only_rebuilt} only rebuilt"
        )
        for example in difference.examples:
            print(f"  {example}")
    print("identical" if not differences else f"{len(differences)} tables differ")
    return 0 if not differences else 1


def _problem_text(response: httpx.Response) -> str:
    try:
        return str(response.json().get("detail", response.text))
    except ValueError:
        return response.text


def _problems(response: httpx.Response) -> list[dict[str, Any]]:
    try:
        problems = response.json().get("errors", [])
    except ValueError:
        return []
    return problems if isinstance(problems, list) else []


if __name__ == "__main__":
    sys.exit(main())
