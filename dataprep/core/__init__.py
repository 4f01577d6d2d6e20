"""The bottom layer: the document schema, the protocols stages and libraries share, and storage.

Nothing here imports anything else from dataprep, so every layer above may use it.
"""
