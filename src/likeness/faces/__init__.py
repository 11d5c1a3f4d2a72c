"""likeness.faces"""
