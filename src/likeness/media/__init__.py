"""likeness.media"""
