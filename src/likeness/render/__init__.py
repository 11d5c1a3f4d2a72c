"""likeness.render"""
