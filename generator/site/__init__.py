"""Site stage: figures → the site's files (pages, charts, data files) as bytes.

Receives `Figures`, the `QualityReport` and the `Config`; builds the site model, renders its
pages with Jinja2, draws its charts with matplotlib and formats its data files. Writes nothing
to disk: the publish stage does.
"""
