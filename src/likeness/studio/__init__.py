"""likeness.studio: the studio server (organisations, jobs, workers)."""
