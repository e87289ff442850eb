"""Serve plotly.js from the installed plotly package, as a static file.

The plotly package on PyPI ships the browser library it draws with; this
finder offers that one file as `analytics/plotly.min.js`, to runserver,
to the test server and to collectstatic, so the version is the one the lock
file pins and nothing comes from a CDN.
"""

from pathlib import Path

import plotly
from django.contrib.staticfiles.finders import BaseFinder
from django.core.files.storage import FileSystemStorage

FILE_NAME = "plotly.min.js"
PREFIX = "analytics"
PACKAGE_DATA = Path(plotly.__file__).parent / "package_data"


class PlotlyFinder(BaseFinder):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.storage = FileSystemStorage(location=PACKAGE_DATA)
        self.storage.prefix = PREFIX

    def check(self, **kwargs):
        return []

    def find(self, path, find_all=False, **kwargs):
        if path != f"{PREFIX}/{FILE_NAME}":
            return [] if find_all else None
        found = str(PACKAGE_DATA / FILE_NAME)
        return [found] if find_all else found

    def list(self, ignore_patterns):
        yield FILE_NAME, self.storage
