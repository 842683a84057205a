"""``outcomes import events``: a CSV or XLSX file sent in parts, checked whole before anything is
recorded, problems printed with the file's own lines, the valid rows mode writing the rejected
rows beside the file, and the same command again recording nothing twice. The claims service
runs on a loopback port (uvicorn in a thread), as the CLI would meet it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from openpyxl import Workbook

from services.claims.api import create_app
from services.claims.settings import ClaimsSettings
from services.cli import main
from shared.settings import CommonSettings
from tests.claims.conftest import EXAMPLES
from tests.claims.test_import import HEADER, STORY
from tests.conftest import over_http

Auth = Callable[..., dict[str, str]]
PROVIDER = "northside-ips"


@pytest.fixture
def claims_url(urls: dict[str, str], common: CommonSettings, auth: Auth) -> Iterator[str]:
    app = create_app(ClaimsSettings(database_url=urls["claims"]), common)
    with over_http(app) as url:
        registered = httpx.post(
            f"{url}/v1/contracts",
            content=(EXAMPLES / "ips-employment.yaml").read_bytes(),
            headers=auth("admin") | {"Content-Type": "application/yaml"},
        )
        assert registered.status_code == 201, registered.text
        yield url


def run(url: str, token: str, *args: str) -> int:
    return main(["import", "events", *args, "--contract", "ips-employment", "--url", url,
                 "--token", token])  # fmt: skip


def token(auth: Auth) -> str:
    return auth("provider", provider_id=PROVIDER)["Authorization"].removeprefix("Bearer ")


def claims_count(url: str, auth: Auth) -> int:
    answer = httpx.get(f"{url}/v1/claims", params={"wait_s": 0}, headers=auth("admin"))
    return len(answer.json()["items"])


def story_rows(count: int) -> list[str]:
    return [
        row.replace("ev-", f"p{index}-").replace("case-1", f"case-{index}")
        for index in range(count)
        for row in STORY
    ]


def test_a_file_in_parts_is_checked_whole_then_recorded_once(
    claims_url: str, auth: Auth, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "events.csv"
    path.write_text("\r\n".join([HEADER, *story_rows(5)]) + "\r\n", encoding="utf-8-sig")
    assert run(claims_url, token(auth), str(path), "--part-rows", "3") == 0
    out = capsys.readouterr()
    assert "20 rows, 20 events recorded, 0 recorded before, 0 rejected, 15 claims" in out.out
    assert "checking events.csv" in out.err and "recording events.csv" in out.err
    assert run(claims_url, token(auth), str(path), "--part-rows", "7") == 0
    assert "0 events recorded, 20 recorded before" in capsys.readouterr().out


def test_problems_anywhere_in_the_file_stop_it_before_anything_is_recorded(
    claims_url: str, auth: Auth, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = story_rows(3)
    rows[10] = rows[10].replace(",,20,", ",,,")  # line 12: p2's job start without hours
    rows[11] = rows[0].replace("case-0", "case-9")  # line 13: p0-1 again, in another part
    path = tmp_path / "events.csv"
    path.write_text("\r\n".join([HEADER, *rows]) + "\r\n", encoding="utf-8")
    assert run(claims_url, token(auth), str(path), "--part-rows", "4") == 1
    err = capsys.readouterr().err
    assert f"{path}:12: hours_per_week: required attribute is missing" in err
    assert f"{path}:13: event_id: also on line 2" in err
    assert "nothing was recorded" in err
    assert claims_count(claims_url, auth) == 0


def test_valid_rows_are_recorded_and_the_rejected_written_beside_the_file(
    claims_url: str, auth: Auth, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = story_rows(2)
    rows[2] = rows[2].replace(",,20,", ",,200,")  # line 4: over the maximum of 80
    path = tmp_path / "events.csv"
    path.write_text("\r\n".join([HEADER, *rows]) + "\r\n", encoding="utf-8")
    assert run(claims_url, token(auth), str(path), "--valid-rows", "--part-rows", "3") == 0
    assert "7 events recorded" in capsys.readouterr().out
    rejected = (tmp_path / "events.csv.rejected.csv").read_text().splitlines()
    assert rejected[0] == "line,problems," + HEADER
    assert rejected[1].startswith("4,hours_per_week: more than the maximum 80,p0-3,")


def test_an_xlsx_file_imports_like_its_csv(
    claims_url: str, auth: Auth, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(HEADER.split(","))
    sheet.append(["x-1", "case-x", "referral", dt.date(2026, 3, 2), "self", None, None])
    sheet.append(["x-3", "case-x", "job_start", dt.datetime(2026, 4, 1), None, 20, 12.5])
    path = tmp_path / "events.xlsx"
    workbook.save(path)
    assert run(claims_url, token(auth), str(path)) == 0
    assert "2 events recorded" in capsys.readouterr().out


def test_a_file_not_in_utf8_is_refused_with_its_line(
    claims_url: str, auth: Auth, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "events.csv"
    path.write_bytes(("\r\n".join([HEADER, "ev-1,café,referral,2026-03-02,,,"])).encode("cp1252"))
    assert run(claims_url, token(auth), str(path)) == 2
    assert "not UTF-8" in capsys.readouterr().err
    assert claims_count(claims_url, auth) == 0


def test_diagnose_prints_why_each_outcome_was_or_was_not_derived(
    claims_url: str, auth: Auth, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [*STORY[:3], STORY[3].replace("2026-07-08", "2026-05-30")]  # 59 days after the start
    path = tmp_path / "events.csv"
    path.write_text("\r\n".join([HEADER, *rows]) + "\r\n", encoding="utf-8")
    assert run(claims_url, token(auth), str(path)) == 0
    capsys.readouterr()
    participant = httpx.post(
        f"{claims_url}/v1/contracts/ips-employment/events",
        json={"event_id": "ev-1", "participant_ref": "case-1", "type": "referral",
              "occurred_on": "2026-03-02", "attributes": {"referral_source": "self"}},
        headers=auth("provider", provider_id=PROVIDER),
    ).json()["participant_id"]  # fmt: skip
    command = ["diagnose", participant, "--contract", "ips-employment", "--url", claims_url]
    assert main([*command, "--token", token(auth)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "engagement: derived (ev-2)",
        "job_start: derived (ev-3)",
        "sustainment_13_weeks: not derived [ev-4]: needs a job_start at least 91 days before "
        "the job_sustained of 2026-05-30; the job_start events found are 59 days before it",
    ]
    assert main([*command, "--token", token(auth), "--event", "ev-3"]) == 0
    assert capsys.readouterr().out.splitlines() == ["job_start: derived (ev-3)"]
    other = auth("provider", provider_id="riverside-works")["Authorization"].removeprefix("Bearer ")
    assert main([*command, "--token", other]) == 1
    assert "own participants" in capsys.readouterr().err
    assert main([*command, "--token", token(auth), "--event", "nope"]) == 1
    assert "404" in capsys.readouterr().err


def test_with_job_the_file_is_uploaded_once_and_followed_to_its_end(
    claims_url: str, auth: Auth, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = story_rows(3)
    rows[2] = rows[2].replace(",,20,", ",,200,")  # line 4: over the maximum of 80
    path = tmp_path / "events.csv"
    path.write_text("\r\n".join([HEADER, *rows]) + "\r\n", encoding="utf-8")
    assert run(claims_url, token(auth), str(path), "--job", "--poll-s", "0.05") == 1
    err = capsys.readouterr().err
    assert "import job " in err and "uploading events.csv" in err
    assert f"{path}:4: hours_per_week: more than the maximum 80" in err
    assert claims_count(claims_url, auth) == 0
    args = ("--job", "--valid-rows", "--poll-s", "0.05")
    assert run(claims_url, token(auth), str(path), *args) == 0
    out = capsys.readouterr().out
    # p0 has its referral and enrollment only: one claim; p1 and p2 three each
    assert "12 rows, 11 events recorded, 0 recorded before, 1 rejected, 7 claims" in out
    rejected = (tmp_path / "events.csv.rejected.csv").read_text().splitlines()
    assert rejected[1].startswith("4,hours_per_week: more than the maximum 80,p0-3,")
