"""The analysis dialog's Engine group (issue 10): a run on a local Dask cluster of 2 workers,
chosen in the dialog, gives the same result as the run on this computer."""

from __future__ import annotations

import pandas as pd
import pytest
from PySide6.QtCore import Qt

from analysis.runner import run_analysis
from app.engine_choice import CLUSTER_ADDRESS, CLUSTER_LOCAL, LOCAL, EngineChoice
from layers.project import load_project
from tests.app.qt_city import open_and_wait

pytest.importorskip("distributed")
pytestmark = pytest.mark.usefixtures("isolated_settings")



def test_the_engine_box_offers_this_computer_a_local_cluster_or_an_address(qtbot):
    from app.engine_choice import engine_box

    engine = engine_box()
    qtbot.addWidget(engine)
    assert [engine.kind.itemData(i) for i in range(engine.kind.count())] == [LOCAL, CLUSTER_LOCAL, CLUSTER_ADDRESS]
    assert engine.choice() == EngineChoice() and not engine.workers.isEnabled() and not engine.address.isEnabled()
    engine.kind.setCurrentIndex(2)
    engine.address.setText(" tcp://10.0.0.5:8786 ")
    assert engine.address.isEnabled() and not engine.workers.isEnabled()
    assert engine.choice() == EngineChoice(CLUSTER_ADDRESS, 2, "tcp://10.0.0.5:8786")
    assert engine.choice().label() == "the cluster at tcp://10.0.0.5:8786"


def test_a_run_on_a_local_cluster_equals_the_normal_run(window, qtbot, homes_project):
    open_and_wait(qtbot, window, homes_project)
    window.analyses.fill_menu()
    next(a for a in window.analyses.menu.actions() if a.objectName() == "analysis_coverage").trigger()
    dialog = window.analyses.dialog
    dialog.pickers["targets"].setCurrentIndex(dialog.pickers["targets"].findText("park"))
    engine = dialog.engine_box
    engine.kind.setCurrentIndex(engine.kind.findData(CLUSTER_LOCAL))
    engine.workers.setValue(2)
    assert engine.workers.isEnabled() and not engine.address.isEnabled()
    dialog.grab().save("/tmp/engine_dialog.png")
    with qtbot.waitSignal(window.analyses.resultAdded, timeout=90000) as blocker:
        qtbot.mouseClick(dialog.run_button, Qt.MouseButton.LeftButton)
    entry = blocker.args[0]
    project = load_project(homes_project)
    layers = {lay.name: lay.gdf for lay in project.layers}
    normal = run_analysis("coverage", {"buildings": layers["homes"], "targets": layers["park"]}, {})
    result = window.project.layers[0].gdf
    pd.testing.assert_frame_equal(pd.DataFrame(result.drop(columns="geometry")),
                                  pd.DataFrame(normal.layers["buildings"].drop(columns="geometry")))
    assert result["covered"].tolist() == [True, True, False, False]
    assert entry.summary == pytest.approx(normal.summary)


def test_the_dialog_says_when_an_analysis_runs_whole_on_the_cluster(window, qtbot, homes_project):
    """Choosing a cluster for an analysis that is not cut into tiles tells why, before the run."""
    open_and_wait(qtbot, window, homes_project)
    window.analyses.fill_menu()
    for analysis, says in (("coverage", None), ("isochrones", "one area per origin and band")):
        next(a for a in window.analyses.menu.actions() if a.objectName() == f"analysis_{analysis}").trigger()
        engine = window.analyses.dialog.engine_box
        assert not engine.note.isVisibleTo(engine)  # this computer: nothing to say
        engine.kind.setCurrentIndex(engine.kind.findData(CLUSTER_LOCAL))
        if says is None:
            assert not engine.note.isVisibleTo(engine)
        else:
            assert engine.note.isVisibleTo(engine) and says in engine.note.text()
            text = engine.note.text()
            assert text.endswith("It runs whole on one worker.") and "'isochrones' is not partitioned" in text
        window.analyses.dialog.reject()
