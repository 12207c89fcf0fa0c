"""The whole system from the README's run command, driven in a real headless browser
(Debian's chromium through Playwright): open the lab, run a what-if, see the verdict, upload a
bad roster and see its error; Ctrl-C leaves no process behind."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.lab.conftest import ROOT, free_port

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _wait(url: str, process: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert process.poll() is None, "make run stopped before the system was up"
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"{url} did not answer within {timeout_s:.0f} s")


def _ours(data_dir: Path, ports: tuple[int, int]) -> list[str]:
    """Command lines of live processes that belong to this system."""
    out = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    marks = [str(data_dir), f"--port {ports[0]}", f"--server.port {ports[1]}",
             f"127.0.0.1:{ports[0]}"]
    return [line for line in out.splitlines() if any(m in line for m in marks)
            and "ps -eo" not in line]


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed: apt-get install -y "
                                             "chromium (.ci/run does)")
def test_make_run_serves_a_lab_that_runs_a_whatif(tmp_path: Path):
    """make run starts the system; in the lab a what-if shows its verdict; a bad roster upload
    shows its error; Ctrl-C stops every process."""
    from playwright.sync_api import expect, sync_playwright

    api_port, lab_port = free_port(), free_port()
    data_dir = tmp_path / "system"
    args = (f"--data-dir {data_dir} --api-port {api_port} --lab-port {lab_port} "
            "--history-days 5 --leads-per-minute 60")
    log = (tmp_path / "make-run.log").open("wb")
    process = subprocess.Popen(["make", "-s", "run", f"ARGS={args}"], cwd=ROOT, stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True,
                               env={**os.environ, "PYTHON": "python3"})
    try:
        _wait(f"http://127.0.0.1:{api_port}/healthz", process, 300)
        _wait(f"http://127.0.0.1:{lab_port}/_stcore/health", process, 180)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM,
                                        args=["--no-sandbox", "--disable-dev-shm-usage"])
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"http://127.0.0.1:{lab_port}/", wait_until="networkidle")
            expect(page.get_by_role("heading", name="Data")).to_be_visible(timeout=60_000)

            bad = (ROOT / "data" / "demo" / "officers.csv").read_text().replace(
                ",America/Chicago,", ",Mars/Olympus,", 1)
            page.locator("input[type=file]").first.set_input_files(
                files=[{"name": "bad.csv", "mimeType": "text/csv", "buffer": bad.encode()}])
            expect(page.get_by_text(re.compile("bad.csv was not accepted"))).to_be_visible(
                timeout=60_000)

            page.get_by_role("link", name="What-if").click()
            expect(page.get_by_role("heading", name="What-if")).to_be_visible(timeout=60_000)
            page.get_by_role("button", name="Run the what-if").click()
            expect(page.get_by_role("heading", name="Verdict")).to_be_visible(timeout=240_000)
            verdict = page.locator(".st-key-verdict")
            expect(verdict).to_contain_text(
                re.compile(r"is best|expects the most|cannot be told apart"), timeout=30_000)
            shot = tmp_path / "whatif.png"
            page.screenshot(path=str(shot), full_page=False)
            assert shot.stat().st_size > 10_000
            assert "rules" in verdict.inner_text()
            browser.close()
        # the demo leads reached the API
        keys = dict(line.split("=", 1) for line in (data_dir / "keys.env").read_text().split())
        leads = httpx.get(f"http://127.0.0.1:{api_port}/v1/leads?limit=5",
                          headers={"Authorization": f"Bearer {keys['ADMIN']}"}).json()
        assert leads["items"], "no demo lead arrived"
    finally:
        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C in the terminal
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            raise
        log.close()
    time.sleep(1)
    left = _ours(data_dir, (api_port, lab_port))
    assert not left, f"processes left after Ctrl-C: {left}"
    output = (tmp_path / "make-run.log").read_text()
    assert f"lab: http://127.0.0.1:{lab_port}" in output and "stopped" in output
