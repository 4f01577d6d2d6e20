"""The run report: every section and figure from a real quickstart run, byte-reproducible apart
from timings, side-by-side comparison, and the page as headless Chromium renders it."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from dataprep.cli import main
from dataprep.report import PNG_DIR, REPORT_HTML, TIMING_END, TIMING_START, write_report

SECTIONS = ("funnel", "rejections", "quality", "languages", "dedup", "contamination", "mixture", "tokens", "timings")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
CHROMIUM = "/usr/bin/chromium"
WINDOW = (1400, 2400)


@pytest.fixture(scope="module")
def quickstart(quickstart_local) -> Path:
    """The quickstart, run once in this process (a session fixture); ``run`` writes the report at the end."""
    return Path(quickstart_local.output_dir)


def _stage_dir(run_dir: Path, name: str) -> str:
    return next(s["dir"] for s in json.loads((run_dir / "run.json").read_text())["stages"] if s["name"] == name)


def _strip_timing(page: str) -> str:
    return re.sub(re.escape(TIMING_START) + ".*?" + re.escape(TIMING_END), "", page, flags=re.S)


def _as_if_run_again(src: Path, dst: Path) -> None:
    """A copy of a run with another run's clock: every timing field and measured CPU second changed.

    Shards and manifests are otherwise what a second run of the same pipeline writes (the engine's
    byte-identity guarantee, tested in test_engine), so this is a second identical run, minus the CPU.
    """
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(REPORT_HTML, PNG_DIR))
    for manifest in dst.glob("*/manifest.json"):
        m = json.loads(manifest.read_text())
        m["timing"].update(start="2030-01-01T00:00:00.000+00:00", wall_seconds=m["timing"]["wall_seconds"] * 3 + 1)
        for key in [k for k in m["stats"] if k.endswith("cpu_seconds")]:
            m["stats"][key] += 7.5
        manifest.write_text(json.dumps(m))
    r = json.loads((dst / "run.json").read_text())
    r.update(start="2030-01-01T00:00:00.000+00:00", end="2030-01-01T00:09:00.000+00:00")
    (dst / "run.json").write_text(json.dumps(r))


@pytest.mark.slow
def test_report_has_every_section_and_a_png_per_figure(quickstart):
    page = (quickstart / REPORT_HTML).read_text()
    for section in SECTIONS:
        assert f'<section id="{section}">' in page, section
    figures = re.findall(r'<figure class="plot" id="plot-([^"]+)"><img [^>]*src="data:image/png;base64,', page)
    pngs = sorted(p.stem for p in (quickstart / PNG_DIR).glob("*.png"))
    assert sorted(figures) == pngs
    # a histogram per quality signal, with the threshold of each rule on its signal
    rules = json.loads((quickstart / _stage_dir(quickstart, "quality") / "rules.json").read_text())
    assert {f"signal-{r['signal']}" for r in rules if "allowed" not in r} <= set(figures)  # lang: languages
    assert len([f for f in figures if f.startswith("signal-q_")]) >= 25
    assert "gopher_repetition.dup_5gram max 0.15" in page
    for name in pngs:
        data = (quickstart / PNG_DIR / f"{name}.png").read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 2000, name
    # contamination: per benchmark, linked to its item table and to the stage's full report
    assert 'href="#contam-0-mbpp/full"' in page and 'id="contam-0-mbpp/full"' in page
    assert f'href="{_stage_dir(quickstart, "decontaminate")}/contamination.md"' in page
    # nothing is fetched when the page is viewed
    assert not re.search(r'(src|href)="(https?:)?//', page)


@pytest.mark.slow
def test_report_is_byte_identical_between_identical_runs_except_timings(quickstart, tmp_path, capsys):
    again = tmp_path / "qs-again"
    _as_if_run_again(quickstart, again)
    assert main(["report", str(again)]) == 0
    assert capsys.readouterr().out.strip() == str(again / REPORT_HTML)
    first, second = (quickstart / REPORT_HTML).read_text(), (again / REPORT_HTML).read_text()
    assert first != second  # the timing section does differ ...
    assert _strip_timing(first) == _strip_timing(second)  # ... and nothing else
    assert TIMING_START in first and len(_strip_timing(first)) < len(first)
    for png in (quickstart / PNG_DIR).glob("*.png"):
        same = png.read_bytes() == (again / PNG_DIR / png.name).read_bytes()
        assert same == (png.stem != "timings"), png.name


@pytest.mark.slow
def test_comparison_puts_runs_side_by_side(quickstart, tmp_path):
    other = tmp_path / "qs-b"
    _as_if_run_again(quickstart, other)
    with pytest.raises(ValueError, match="--output"):
        write_report([str(quickstart), str(other)])
    out = write_report([str(quickstart), str(other)], str(tmp_path / "cmp"))
    page = Path(out).read_text()
    assert "dataprep report: qs vs qs-b" in page
    single = (quickstart / REPORT_HTML).read_text()
    figures = re.findall(r'id="plot-([^"]+)"', page)
    assert figures == re.findall(r'id="plot-([^"]+)"', single)
    # the same figure, one panel per run: twice as wide
    widths = dict(re.findall(r'id="plot-([^"]+)"><img [^>]*width="(\d+)"', page))
    for name, width in re.findall(r'id="plot-([^"]+)"><img [^>]*width="(\d+)"', single):
        assert int(widths[name]) == 2 * int(width), name
    assert f'href="../qs-b/{_stage_dir(quickstart, "decontaminate")}/contamination.md"' in page
    assert (tmp_path / "cmp" / PNG_DIR / "funnel.png").read_bytes().startswith(PNG_MAGIC)


@pytest.mark.slow
def test_report_in_headless_chromium(quickstart, tmp_path):
    """Loaded in a real browser: no console error, no request leaving the page, every plot drawn."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/run installs it)")
    import websocket

    profile = tmp_path / "chromium-profile"
    cmd = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={profile}", f"--window-size={WINDOW[0]},{WINDOW[1]}", "--remote-debugging-port=0",
        "about:blank",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port = _devtools_port(profile)
        pages = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=30))
        target = next(p for p in pages if p["type"] == "page")["webSocketDebuggerUrl"]
        ws = websocket.create_connection(target, suppress_origin=True)  # Chromium refuses foreign origins
        cdp = _Cdp(ws)
        for domain in ("Page", "Runtime", "Log", "Network"):
            cdp.call(f"{domain}.enable")
        cdp.call("Emulation.setDeviceMetricsOverride", width=WINDOW[0], height=WINDOW[1], deviceScaleFactor=1,
                 mobile=False)  # fmt: skip
        cdp.call("Page.navigate", url=(quickstart / REPORT_HTML).as_uri())
        cdp.wait("Page.loadEventFired")
        plots = cdp.call(
            "Runtime.evaluate",
            expression="JSON.stringify([...document.querySelectorAll('figure.plot img')].map(i => {"
            "const r = i.getBoundingClientRect(); return {id: i.parentElement.id, w: r.width, h: r.height,"
            " natural: i.naturalWidth, done: i.complete}}))",
            returnByValue=True,
        )["result"]["value"]
        shot = cdp.call("Page.captureScreenshot", format="png", clip={"x": 0, "y": 0, "width": WINDOW[0],
                        "height": WINDOW[1], "scale": 1})["data"]  # fmt: skip
        ws.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    import base64

    artifact = tmp_path / "report-screenshot.png"
    artifact.write_bytes(base64.b64decode(shot))
    assert artifact.read_bytes().startswith(PNG_MAGIC) and artifact.stat().st_size > 20_000
    errors = [
        e
        for e in cdp.events
        if e["method"] == "Runtime.exceptionThrown"
        or (e["method"] == "Runtime.consoleAPICalled" and e["params"]["type"] in ("error", "assert"))
        or (e["method"] == "Log.entryAdded" and e["params"]["entry"]["level"] == "error")
    ]
    assert errors == []
    requests = [e["params"]["request"]["url"] for e in cdp.events if e["method"] == "Network.requestWillBeSent"]
    assert [u for u in requests if not u.startswith(("file:", "data:"))] == []
    plots = json.loads(plots)
    expected = len(list((quickstart / PNG_DIR).glob("*.png")))
    assert len(plots) == expected > 30
    for p in plots:
        assert p["done"] and p["natural"] > 0 and p["w"] > 100 and p["h"] > 100, p


def _devtools_port(profile: Path) -> int:
    """Chromium writes the port it chose (``--remote-debugging-port=0``) to DevToolsActivePort."""
    path = profile / "DevToolsActivePort"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return int(path.read_text().split()[0])
        time.sleep(0.1)
    raise AssertionError("chromium did not open its DevTools port within 60 s")


class _Cdp:
    """A minimal Chrome DevTools Protocol client: calls by id, every event kept."""

    def __init__(self, ws) -> None:
        self.ws, self.next_id, self.events = ws, 0, []

    def call(self, method: str, **params) -> dict:
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.next_id:
                assert "error" not in msg, msg
                return msg["result"]
            self.events.append(msg)

    def wait(self, method: str, timeout: float = 60) -> None:
        self.ws.settimeout(timeout)
        while True:
            msg = json.loads(self.ws.recv())
            self.events.append(msg)
            if msg.get("method") == method:
                return
