"""The run report: ``report.html`` (self-contained, figures inline) and ``report/*.png`` of a run or several.

Reads only what a run wrote (run.json, stage manifests, their artifacts and shards), through
``dataprep.core.storage``, so it works on any finished run, local or on object storage, and
never needs the pipeline file or the engine.
"""

from dataprep.report.build import PNG_DIR, REPORT_HTML, write_report
from dataprep.report.page import TIMING_END, TIMING_START

__all__ = ["write_report", "REPORT_HTML", "PNG_DIR", "TIMING_START", "TIMING_END"]
