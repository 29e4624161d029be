"""Where an analysis runs: this computer, a local Dask cluster of N workers, or a cluster at an
address (issue 10). The helpers are shared by the command line (``--engine dask``) and the
analysis dialog; :class:`EngineBox` is the dialog's small "Engine" group (Qt imported lazily so
the command line stays Qt-free)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

LOCAL, CLUSTER_LOCAL, CLUSTER_ADDRESS = "local", "local-cluster", "cluster"


@dataclass(frozen=True)
class EngineChoice:
    kind: str = LOCAL
    workers: int = 2
    scheduler: str = ""

    @property
    def distributed(self) -> bool:
        return self.kind != LOCAL

    def label(self) -> str:
        if self.kind == CLUSTER_LOCAL:
            return f"a local cluster of {self.workers} workers"
        if self.kind == CLUSTER_ADDRESS:
            return f"the cluster at {self.scheduler}"
        return "this computer"


def open_for_cluster(path: str, layer: str | None = None):
    """A GeoPackage layer or a folder of GeoParquet partitions in a projected CRS becomes a
    :class:`~analysis.partition_sources.FileSource` (the workers read it box by box); anything
    else is read here as usual (and reprojected by the run)."""
    from analysis.partition_files import FileSource
    from layers.readers import read_layer

    p = Path(path)
    if p.is_dir() or p.suffix.lower() == ".gpkg":
        try:
            source = FileSource(p, layer)
        except Exception:  # not a plain layer file (several layers without a name...): read it as usual
            source = None
        if source is not None and source.crs is not None and source.crs.is_projected:
            return source
    return read_layer(path, layer)


def run_on_cluster(analysis_id: str, layers, params, *, scheduler: str | None = None, workers: int = 2,
                   feedback=None, names=None, tile_rows: int | None = None, notify=None):
    """Run on Dask: partitioned and exact where the analysis allows, else whole on one worker."""
    from analysis.dask_engine import DaskEngine
    from analysis.partition import TILE_ROWS, run_with_engine

    with DaskEngine(scheduler or None, workers) as engine:
        return run_with_engine(analysis_id, layers, params, engine, feedback=feedback, names=names,
                               tile_rows=tile_rows or TILE_ROWS, notify=notify)


def run_with_choice(choice: EngineChoice, analysis_id: str, layers, params, *, feedback=None, names=None,
                    notify=None):
    """The window's run: ``run_analysis`` on this computer, else :func:`run_on_cluster`."""
    if not choice.distributed:
        from analysis.runner import run_analysis

        return run_analysis(analysis_id, layers, params, feedback=feedback, names=names)
    scheduler = choice.scheduler if choice.kind == CLUSTER_ADDRESS else None
    return run_on_cluster(analysis_id, layers, params, scheduler=scheduler, workers=choice.workers,
                          feedback=feedback, names=names, notify=notify)


def engine_box(parent=None, reason=None):
    """The dialog's "Engine" group: this computer / a local cluster of N workers / a cluster
    address. ``box.choice()`` gives the :class:`EngineChoice`. ``reason()``: why the analysis (with
    the dialog's settings) would run whole on one worker, or None — told under the choice when a
    cluster is chosen."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QComboBox, QFormLayout, QGroupBox, QLabel, QLineEdit, QSpinBox

    class EngineBox(QGroupBox):
        def __init__(self, parent=None):
            super().__init__("Engine", parent)
            form = QFormLayout(self)
            form.setVerticalSpacing(3)
            self.kind = QComboBox(self)
            self.kind.addItem("This computer", LOCAL)
            self.kind.addItem("Local cluster (Dask)", CLUSTER_LOCAL)
            self.kind.addItem("Cluster at an address (Dask)", CLUSTER_ADDRESS)
            self.kind.setToolTip("Region-scale runs: the area is cut into tiles computed on Dask workers; the "
                                 "answer is the same as on this computer")
            self.workers = QSpinBox(self)
            self.workers.setRange(1, 64)
            self.workers.setValue(2)
            self.address = QLineEdit(self)
            self.address.setPlaceholderText("tcp://HOST:8786")
            form.addRow("Run on:", self.kind)
            form.addRow("Workers:", self.workers)
            form.addRow("Scheduler:", self.address)
            self.note = QLabel(self, wordWrap=True, visible=False)
            self.note.setTextFormat(Qt.TextFormat.PlainText)
            self.note.setStyleSheet("color: #5f6368;")
            form.addRow(self.note)
            self.kind.currentIndexChanged.connect(self._update)
            self._update()

        def _update(self, *_):
            kind = self.kind.currentData()
            self.workers.setEnabled(kind == CLUSTER_LOCAL)
            self.address.setEnabled(kind == CLUSTER_ADDRESS)
            why = reason() if reason is not None and kind != LOCAL else None
            self.note.setText(f"{why}. It runs whole on one worker." if why else "")
            self.note.setVisible(bool(why))
            # wrapped labels are not counted in a dialog's minimum height: grow the dialog for the note
            self.note.setMinimumHeight(self.note.heightForWidth(max(self.width() - 24, 320)) if why else 0)
            top = self.window()
            if why and top is not self and top.isVisible() and top.height() < top.sizeHint().height():
                top.resize(top.width(), top.sizeHint().height())

        def choice(self) -> EngineChoice:
            return EngineChoice(self.kind.currentData(), self.workers.value(), self.address.text().strip())

    return EngineBox(parent)
