"""The partnership's report on how its procedure is used: a read model over cases and events.

``figures`` counts (pure functions over stored cases, their histories and the pack);
``publish`` turns the counts into what may be shown (small numbers in an agency's cells
suppressed, no child details); ``schedule`` decides when the report is owed and what the
business team is told. Drawing it (HTML, PDF, CSV, JSON) is ``adapters.documents``' job.
"""
