"""A provider's CSV file imported, against the same events posted as JSON batches (PostgreSQL).

    .venv/bin/python -m bench.imports [--events 100000]

In one run, on a fresh database dropped afterwards, with the claims service running as in
production (``outcomes serve claims``, one uvicorn worker):

- baseline B: the events posted as JSON, ``POST …/events/batch`` of 1,000 events a request, one
  request at a time (what a provider's system does today);
- P: the same number of other events (same shape: participants walking referral, enrollment, job
  start, sustainment) written to a CSV file and imported with ``outcomes import events`` (a
  process of its own: every part checked first, then recorded, 5,000 rows a part);
- J: as many other events, uploaded whole as an import job (``outcomes import events --job``:
  the service stores the file, checks every row, then records them) and followed to its end.

Reported: events per second of each and P's and J's rates as ratios of B's (the target is at
least 0.5), the command's own peak RSS, and the claims service's peak RSS after each (to show
that an import holds no more than a part, or a thousand rows, at a time).
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.common import free_port, peak_rss_mb, temporary_database, wait_healthy
from bench.intake import CONTRACT, PROVIDER, journey_event, rulebook_yaml
from shared.auth import Role, TokenSigner
from shared.settings import CommonSettings

BATCH = 1_000
COLUMNS = ["event_id", "participant_ref", "type", "occurred_on", "referral_source",
           "long_term_unemployed", "hours_per_week", "hourly_wage"]  # fmt: skip


def events(run: str, count: int) -> list[dict[str, Any]]:
    return [journey_event(run, 0, sequence) for sequence in range(count)]


def write_csv(path: Path, found: list[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(COLUMNS)
        for event in found:
            attributes = event["attributes"]
            writer.writerow(
                [event["event_id"], event["participant_ref"], event["type"], event["occurred_on"]]
                + [_cell(attributes.get(name)) for name in COLUMNS[4:]]
            )


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def post_json_batches(url: str, token: str, found: list[dict[str, Any]]) -> float:
    """Events per second, posting batches of 1,000 one after another."""
    headers = {"Authorization": f"Bearer {token}"}
    started = time.perf_counter()
    with httpx.Client(headers=headers, timeout=300) as client:
        for start in range(0, len(found), BATCH):
            response = client.post(
                f"{url}/v1/contracts/{CONTRACT}/events/batch",
                json={"events": found[start : start + BATCH]},
            )
            response.raise_for_status()
    return len(found) / (time.perf_counter() - started)


def import_file(url: str, token: str, path: Path, folder: str, *extra: str) -> tuple[float, float]:
    """(events per second, the command's peak RSS in MiB) for ``outcomes import events``."""
    command = [sys.executable, "-m", "services.cli", "import", "events", str(path),
               "--contract", CONTRACT, "--url", url, "--token", token, *extra]  # fmt: skip
    log = Path(folder, "import.log").open("ab")  # noqa: SIM115 - the child's output
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=log, stderr=log)
    peak = 0.0  # VmHWM while it runs: its own (ru_maxrss would carry this parent's over exec)
    while process.poll() is None:
        try:
            peak = max(peak, peak_rss_mb(process.pid))
        except (OSError, RuntimeError):  # it has just exited
            break
        time.sleep(0.2)
    status = process.wait()
    elapsed = time.perf_counter() - started
    log.close()
    if status != 0:
        raise RuntimeError(f"the import failed: see {folder}/import.log")
    rows = sum(1 for _ in path.open(encoding="utf-8")) - 1
    return rows / elapsed, peak


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args()
    signer = TokenSigner.from_settings(CommonSettings(env="development"))
    admin = signer.issue(Role.ADMIN, ttl_s=3600)
    provider = signer.issue(Role.PROVIDER, subject="bench", provider_id=PROVIDER, ttl_s=7200)
    with tempfile.TemporaryDirectory() as folder, temporary_database("bench_import") as database:
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("CLAIMS_")}
        env |= {"OUTCOMES_ENV": "development", "OUTCOMES_DATA_DIR": folder,
                "CLAIMS_PORT": str(port), "CLAIMS_DATABASE_URL": database}  # fmt: skip
        log = Path(folder, "claims.log").open("ab")  # noqa: SIM115 - the child's output
        service = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "serve", "claims", "--migrate"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_healthy(url)
            registered = httpx.post(
                f"{url}/v1/contracts",
                content=rulebook_yaml(),
                headers={"Authorization": f"Bearer {admin}", "Content-Type": "application/yaml"},
                timeout=60,
            )
            registered.raise_for_status()
            baseline = post_json_batches(url, provider, events("json", args.events))
            rss_after_json = peak_rss_mb(service.pid)
            path = Path(folder, "events.csv")
            write_csv(path, events("csv", args.events))
            rate, command_rss = import_file(url, provider, path, folder)
            rss_after_import = peak_rss_mb(service.pid)
            job_path = Path(folder, "job.csv")
            write_csv(job_path, events("job", args.events))
            job_rate, job_command_rss = import_file(url, provider, job_path, folder, "--job")
            rss_after_job = peak_rss_mb(service.pid)
        finally:
            service.terminate()
            service.wait(30)
            log.close()
    print(f"events: {args.events:,} each way (PostgreSQL, one claims process)")
    print(f"B  JSON batches of {BATCH:,}:        {baseline:10,.0f} events/s")
    print(f"P  outcomes import events (CSV): {rate:10,.0f} events/s  {rate / baseline:.2f}x B")
    print(f"J  outcomes import events --job:  {job_rate:10,.0f} events/s  "
          f"{job_rate / baseline:.2f}x B")  # fmt: skip
    print(f"   the command's peak RSS: {command_rss:.1f} MiB (P), {job_command_rss:.1f} MiB (J)")
    print(
        f"   claims service peak RSS: {rss_after_json:.1f} MiB after B, "
        f"{rss_after_import:.1f} MiB after P, {rss_after_job:.1f} MiB after J"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
