"""likeness.consent"""
