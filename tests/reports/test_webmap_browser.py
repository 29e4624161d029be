"""The web map in a real browser: Debian's Chromium driven by Playwright with the network blocked.

Every request that is not a file (or data:) URL is aborted and recorded. The page must load
with no such request, draw the features, switch a layer off from the layer control, and open a
popup that shows a citizen report's ``<script>`` and ``<img onerror>`` as text, running neither.
Skipped only where Chromium or Playwright is missing (a dev machine); ``scripts/setup.sh dev``
installs both, so CI runs it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import geopandas as gpd
import pytest
from shapely.geometry import LineString, Point, box

from layers.layer import Layer
from layers.style import Style
from reports.webmap import write_webmap

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
EVIL = '<script>window.__pwned = 1</script><img src="x" onerror="window.__pwned = 2">'
CRS = "EPSG:3067"


def _layers() -> list[Layer]:
    reports = gpd.GeoDataFrame(
        {"service_name": ["Litter", "Broken bench"], "description": [EVIL, "Bench broken"]},
        geometry=[box(385000, 6672000, 385400, 6672400), box(385500, 6672000, 385600, 6672100)], crs=CRS)
    streets = gpd.GeoDataFrame({"name": ["Mannerheimintie", "Esplanadi"]},
                               geometry=[LineString([(384900, 6671900), (385700, 6671900)]),
                                         LineString([(384900, 6672500), (385700, 6672500)])], crs=CRS)
    stops = gpd.GeoDataFrame({"name": ["Stop A", "Stop B", "Stop C"]},
                             geometry=[Point(384950, 6672600), Point(385650, 6672600), Point(385300, 6672650)],
                             crs=CRS)
    return [
        Layer("Stops", stops, style=Style(fill="#0072B2", stroke="#ffffff", size=10)),
        Layer('Reports <b onmouseover="x">', reports,
              style=Style(kind="categorized", field="service_name", stroke="#333333")),
        Layer("Streets", streets, style=Style(stroke="#ff0000", stroke_width=3)),
    ]


@pytest.fixture(scope="module")
def browser():
    missing = None
    try:
        from playwright import sync_api
    except ImportError:
        missing = "Playwright is not installed (scripts/setup.sh dev installs it)"
    if missing is None and not Path(CHROMIUM).exists():
        missing = "Chromium is not installed (scripts/setup.sh dev installs it)"
    if missing:  # on a developer's machine a skip; in CI (.ci/run sets CI) the test must run
        (pytest.fail if os.environ.get("CI") else pytest.skip)(missing)
    profile = tempfile.mkdtemp(prefix="citydesk-chromium-")
    with sync_api.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(profile, executable_path=CHROMIUM, headless=True,
                                                       args=FLAGS, viewport={"width": 1000, "height": 700})
        yield context
        context.close()
    shutil.rmtree(profile, ignore_errors=True)


def _open(browser, path: Path):
    page = browser.new_page()
    external, errors = [], []

    def route(r):
        if r.request.url.startswith(("file:", "data:")):
            r.continue_()
        else:
            external.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(path.as_uri())
    page.wait_for_function("document.querySelectorAll('.leaflet-interactive').length >= 7", timeout=15000)
    return page, external, errors


def test_offline_page_draws_switches_and_escapes(browser, tmp_path):
    out = tmp_path / "map.html"
    write_webmap(_layers(), out, title="Test <city>", attribution=["HSL, CC BY 4.0 <i>x</i>"])
    page, external, errors = _open(browser, out)
    try:
        assert external == [] and errors == []
        assert page.locator("path.leaflet-interactive").count() == 7  # 3 stops, 2 reports, 2 streets
        assert page.evaluate("window.__pwned") is None
        # names and attribution show literally (Leaflet would read them as HTML)
        assert page.locator(".cd-title h1").inner_text() == "Test <city>"
        assert 'Reports <b onmouseover="x">' in page.locator(".leaflet-control-layers").inner_text()
        assert "HSL, CC BY 4.0 <i>x</i>" in page.locator(".leaflet-control-attribution").inner_text()
        legend = page.locator(".cd-legend").inner_text()
        assert "Litter" in legend and "Broken bench" in legend and "Stops" in legend

        # the big report polygon: its popup shows the untrusted description as text
        page.mouse.click(*_centre(page, "Reports"))
        popup = page.locator(".leaflet-popup-content")
        popup.wait_for(timeout=5000)
        assert EVIL in popup.inner_text()
        assert popup.locator("img, script").count() == 0
        assert page.evaluate("window.__pwned") is None

        # switching the streets off removes their two lines and their legend entry
        label = page.locator(".leaflet-control-layers-overlays label", has_text="Streets")
        label.locator("input").click()
        assert page.locator("path.leaflet-interactive").count() == 5
        assert not page.locator('.cd-legend [data-layer="cd-layer-2"]').is_visible()
        assert external == [] and errors == []
    finally:
        page.close()


def _centre(page, layer: str) -> tuple[float, float]:
    """The screen point at the middle of the first (largest) feature of the layer ``layer``."""
    index = {"Stops": 0, "Reports": 1, "Streets": 2}[layer]
    box_ = page.locator(f".leaflet-cd-layer-{index}-pane path.leaflet-interactive").first.bounding_box()
    return box_["x"] + box_["width"] / 2, box_["y"] + box_["height"] / 2


def test_osm_background_is_the_only_network_request(browser, tmp_path):
    """With the optional OpenStreetMap background the blocked requests are the tiles only (this
    also shows that the route really catches requests), and the layers are still drawn."""
    out = tmp_path / "tiles.html"
    write_webmap(_layers(), out, tiles=True)
    page, external, errors = _open(browser, out)
    try:
        page.wait_for_function("document.querySelectorAll('img.leaflet-tile').length > 0", timeout=10000)
        assert external and all("tile.openstreetmap.org" in url for url in external)
        assert errors == []
        assert "internet" in page.locator(".cd-note").inner_text()
    finally:
        page.close()
