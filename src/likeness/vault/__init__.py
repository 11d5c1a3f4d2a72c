"""likeness.vault"""
