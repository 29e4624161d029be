"""CityDesk analyses: pure functions over GeoDataFrames, one registry for window and command line.

No Qt here. Long work reports through a ``feedback`` object (see :mod:`layers.feedback`).
"""

from analysis.registry import Analysis, analyses, get
from analysis.result import AnalysisResult
from analysis.runner import run_analysis
from layers.feedback import Cancelled, Feedback, NullFeedback

__all__ = ["Analysis", "AnalysisResult", "Cancelled", "Feedback", "NullFeedback", "analyses", "get", "run_analysis"]
