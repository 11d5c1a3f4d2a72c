"""likeness.tagging"""
