"""``py-autotask report``: one HTML file from the sync mirror, opened in a real headless Chromium
(Debian's, driven by Playwright): the charts render, the console stays clean, nothing is fetched."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from .._cli import cli_env, run_cli

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _env(home: Path) -> dict[str, str]:
    # no simulator credentials at all: the report reads the mirror only
    return cli_env({}, home)


@pytest.fixture(scope="module")
def report(mirror: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    home = tmp_path_factory.mktemp("report")
    out = home / "report.html"
    done = run_cli(
        "report",
        "--db",
        str(mirror),
        "--out",
        str(out),
        "--time-range",
        "last_2_years",
        env=_env(home),
    )
    assert done.returncode == 0, done.stderr
    return out, done.stderr


def test_the_report_is_one_self_contained_file(report: tuple[Path, str]) -> None:
    out, stderr = report
    assert f"wrote {out}" in stderr and "tickets (2023-01-01 .. 2025-12-3" in stderr
    page = out.read_text(encoding="utf-8")
    assert page.count("<svg") == 3  # priority trends, queue trends, the model vs the baseline
    assert "<script" not in page and "<img" not in page and "<link" not in page
    # no URL but the SVG namespaces
    assert re.findall(r"https?://[^\s\"']+", page) and not [
        u for u in re.findall(r"https?://[^\s\"']+", page) if not u.startswith("http://www.w3.org/")
    ]
    assert "the model beats the baseline" in page and "median per priority" in page
    assert "2023-01-01" in page  # the data's date range
    assert "customer_satisfaction: unavailable" in page
    assert not list(out.parent.glob("*.partial"))


def test_the_report_renders_in_a_browser_without_errors_or_network(
    report: tuple[Path, str],
) -> None:
    from playwright.sync_api import sync_playwright

    assert CHROMIUM, "the browser test needs Debian's chromium: make servers (.ci/install-servers)"
    out, _ = report
    messages: list[str] = []
    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.on("console", lambda m: messages.append(f"{m.type}: {m.text}"))
            page.on("pageerror", lambda e: messages.append(f"pageerror: {e}"))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(out.as_uri(), wait_until="load")
            sizes = page.eval_on_selector_all(
                "figure svg",
                "els => els.map(e => { const r = e.getBoundingClientRect(); return [r.width, r.height]; })",
            )
            drawn = page.eval_on_selector_all("figure svg path", "els => els.length")
        finally:
            browser.close()
    assert len(sizes) == 3 and all(w > 100 and h > 100 for w, h in sizes), sizes
    assert drawn > 50  # lines, bars, axes and glyphs (fonts are paths)
    assert not [m for m in messages if m.startswith(("error", "pageerror"))], messages
    assert requests == [out.as_uri()]  # the file itself, nothing else


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--db", "{tmp}/missing.db"], ["missing.db", "no such database file", "sync"]),
        (["--db", "{tmp}/x.duckdb"], ["DuckDB", "SQLite"]),
        (["--out", "{tmp}/no/such/dir/r.html"], ["--out", "does not exist"]),
    ],
)
def test_bad_input_is_one_line_exit_2_nothing_written(
    args: list[str], words: list[str], mirror: Path, tmp_path: Path
) -> None:
    full = ["--db", str(mirror), "--out", str(tmp_path / "r.html")]
    given = [a.replace("{tmp}", str(tmp_path)) for a in args]
    for i in range(0, len(given), 2):
        full[full.index(given[i]) + 1] = given[i + 1]
    done = run_cli("report", *full, env=_env(tmp_path / "home"))
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    for word in words:
        assert word in done.stderr
    assert not list(tmp_path.rglob("*.html")) and not list(tmp_path.rglob("*.partial"))
    assert not (tmp_path / "missing.db").exists() and not (tmp_path / "x.duckdb").exists()
