"""likeness.train"""
