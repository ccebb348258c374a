"""Publish stage: the site's files → the output folder, atomically.

Receives file paths and bytes; writes them into a staging folder and swaps it in place of the
output folder only when the whole build succeeded. Knows nothing of how the files were made.
"""
