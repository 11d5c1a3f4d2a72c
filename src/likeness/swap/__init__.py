"""likeness.swap"""
