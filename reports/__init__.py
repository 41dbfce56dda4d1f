"""The weekly report (report.html, flags.csv/.xlsx, fixed.csv, pages.csv, summary.json) and the
editors' one-page recheck. `write_report` is what `pipeline.py report`, `run` and `demo` call."""

from reports.folder import write_report

__all__ = ["write_report"]
