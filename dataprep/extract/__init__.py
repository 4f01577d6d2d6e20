"""Turning markup (HTML pages) into the plain text a document carries."""
