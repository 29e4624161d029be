"""Untrusted text from an Open311 file stays inert everywhere the window shows it: the layer name
(Layers panel rows and tooltips), the identify dock, the attribute table (cells and tooltips), the
Results panel (categories and the address near the peak) and message boxes (a server's error).

"Inert" is checked on what the widget would show: a label or tooltip Qt treats as rich text is
rendered to plain text first, and the raw markup must come out as the same literal characters
(so ``<script>`` is shown, not interpreted and not swallowed)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
from pyproj import Transformer
from PySide6 import QtGui
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QMouseEvent, QTextDocument
from PySide6.QtWidgets import QApplication, QLabel

pytestmark = pytest.mark.usefixtures("isolated_settings")

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
BOLD = "<b>Main</b> street 1"
NAME = IMG  # the file (and so the layer) is named with markup too


def shown(text: str, text_format=Qt.TextFormat.AutoText) -> str:
    """What a Qt label or tooltip shows for ``text`` in ``text_format``."""
    rich = text_format == Qt.TextFormat.RichText or (text_format == Qt.TextFormat.AutoText
                                                     and QtGui.Qt.mightBeRichText(text))
    if not rich:
        return text
    document = QTextDocument()
    document.setHtml(text)
    return document.toPlainText()


def _request(i: int, lon: float, lat: float, description: str, service: str = "Litter",
             address: str = "Kaivokatu 1") -> dict:
    return {"service_request_id": f"X-{i}", "status": "open", "service_name": service, "service_code": "x",
            "description": description, "requested_datetime": "2025-03-01T10:00:00+02:00", "address": address,
            "lat": lat, "long": lon}


@pytest.fixture
def reports_file(tmp_path):
    requests = [_request(1, 24.9400, 60.1700, SCRIPT, service=SCRIPT, address=BOLD),
                _request(2, 24.9400, 60.1700, "Bin full", service=SCRIPT, address=BOLD),
                _request(3, 24.9440, 60.1700, IMG, address="Kaivokatu 9"),
                _request(4, 24.9440, 60.1720, "Crossing " + IMG + " unsafe", service=IMG)]
    path = tmp_path / f"{NAME}.json"
    path.write_text(json.dumps(requests), encoding="utf-8")
    return path


@pytest.fixture
def loaded(window, qtbot, reports_file):
    with qtbot.waitSignal(window.taskFinished, timeout=30000):
        window.add_layer(reports_file)
    layer = window.project.layer(NAME)
    assert layer is not None and layer.role == "reports"
    return window, layer


def _click(canvas, x: float, y: float) -> None:
    pos = canvas.to_widget(x, y)
    for kind, buttons in ((QMouseEvent.Type.MouseButtonPress, Qt.MouseButton.LeftButton),
                          (QMouseEvent.Type.MouseButtonRelease, Qt.MouseButton.NoButton)):
        QApplication.sendEvent(canvas, QMouseEvent(kind, QPointF(pos), canvas.mapToGlobal(QPointF(pos)),
                                                   Qt.MouseButton.LeftButton, buttons, Qt.KeyboardModifier.NoModifier))


def test_layer_name_in_the_layers_panel(loaded):
    window, layer = loaded
    item = next(window.panel.topLevelItem(i) for i in range(window.panel.topLevelItemCount())
                if window.panel.topLevelItem(i).text(0) == NAME)
    assert shown(item.toolTip(0)).startswith(f"{NAME}: 4 features")


def test_identify_dock_shows_descriptions_as_text(loaded, qtbot):
    window, layer = loaded
    canvas = window.canvas
    to_map = Transformer.from_crs(4326, window.project.crs, always_xy=True)
    window.map_tools.actions["identify"].trigger()
    _click(canvas, *to_map.transform(24.9440, 60.1700))
    panel = window.map_tools.identify_panel
    qtbot.waitUntil(lambda: panel.topLevelItemCount() > 0 and panel.topLevelItem(0).text(0) == NAME)
    texts = panel.texts()
    assert IMG in texts and SCRIPT not in texts  # the one report there, its text as written
    _click(canvas, *to_map.transform(24.9400, 60.1700))
    qtbot.waitUntil(lambda: SCRIPT in panel.texts())
    top = panel.topLevelItem(0)
    assert top.text(1) == "2 features"
    for item_text in panel.texts():
        assert shown(item_text, Qt.TextFormat.PlainText) == item_text  # tree items are plain text


def test_attribute_table_cells_and_tooltips(loaded):
    window, layer = loaded
    table = window.open_attribute_table(layer)
    model = table.model
    column = model.column_index("description")
    cells = [model.index(row, column) for row in range(model.rowCount())]
    values = [model.data(index, Qt.ItemDataRole.DisplayRole) for index in cells]
    assert values[:3] == [SCRIPT, "Bin full", IMG]
    for index, value in zip(cells, values, strict=True):
        tip = model.data(index, Qt.ItemDataRole.ToolTipRole)
        if tip is not None:
            assert shown(tip) == value
    header = model.headerData(column, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole)
    assert shown(header).startswith("description")
    assert NAME in table.windowTitle() or NAME in (table.parent().windowTitle() if table.parent() else "")


def test_results_panel_shows_categories_and_addresses_as_text(loaded, qtbot):
    window, layer = loaded
    dialog = window.analyses.open_dialog("report-hotspots")
    assert dialog.pickers["reports"].currentText() == NAME
    with qtbot.waitSignal(window.analyses.resultAdded, timeout=30000):
        qtbot.mouseClick(dialog.run_button, Qt.MouseButton.LeftButton)
    card = window.analyses.panel.cards[0]
    labels = card.findChildren(QLabel)
    on_screen = [shown(label.text(), label.textFormat()) for label in labels if label.text()]
    assert f"Category: {SCRIPT}" in on_screen and f"Category: {IMG}" in on_screen
    assert BOLD in on_screen  # the address near the peak
    assert any(NAME in text for text in on_screen)  # the input layer's name
    for label in labels:  # markup in a label's text comes out literally
        for markup in (SCRIPT, IMG, BOLD):
            if markup in label.text():
                assert markup in shown(label.text(), label.textFormat())
    assert SCRIPT in card.text() and BOLD in card.text()  # the Copy text too


def test_message_box_shows_a_server_error_as_text(window, qtbot, tmp_path, messages):
    path = tmp_path / "answer.json"
    path.write_text(json.dumps([{"code": 400, "description": f"bad request {IMG}"}]))
    with qtbot.waitSignal(window.taskFinished, timeout=30000):
        window.add_layer(path)
    assert messages
    kind, title, text = messages[-1]
    assert f"bad request {IMG}" in shown(text) and "answer.json" in shown(text)


def test_a_dropped_georeport_xml_file_is_a_reports_layer(window, qtbot, tmp_path):
    from tests.app.test_layers_panel import drop

    root = ET.Element("service_requests")
    for record in (_request(1, 24.94, 60.17, SCRIPT), _request(2, 24.95, 60.17, IMG)):
        element = ET.SubElement(root, "request")
        for key, value in record.items():
            ET.SubElement(element, key).text = str(value)
    path = tmp_path / "requests.xml"
    path.write_bytes(ET.tostring(root, encoding="utf-8"))
    with qtbot.waitSignal(window.taskFinished, timeout=30000):
        assert drop(window, window.centralWidget(), [path])
    layer = window.project.layer("requests")
    assert layer.role == "reports" and layer.gdf["description"].tolist() == [SCRIPT, IMG]


def test_district_summary_from_the_analysis_menu(loaded, qtbot):
    window, layer = loaded
    action = next(a for a in window.analyses.menu.actions() if a.objectName() == "analysis_district-summary")
    action.trigger()
    dialog = window.analyses.dialog
    dialog.pickers["features"].setCurrentIndex(dialog.pickers["features"].findText(NAME))
    with qtbot.waitSignal(window.analyses.resultAdded, timeout=30000) as blocker:
        qtbot.mouseClick(dialog.run_button, Qt.MouseButton.LeftButton)
    entry = blocker.args[0]
    assert entry.summary["zones_used"] == "hexagonal grid, 250 m" and entry.summary["features_in_zones"] == 4
    zones = window.project.layer(entry.layers[0])
    assert zones.gdf["count"].sum() == 4 and zones.style.kind == "graduated" and zones.style.field == "count"
    assert window.analyses.panel.cards[0].headline.text().replace("\u00a0", " ").startswith("4 features in ")
