"""Print the table of reports for ``docs/metrics.md``: ``python -m services.metrics.reports``."""

from services.metrics.reports import docs_index

print(docs_index())
