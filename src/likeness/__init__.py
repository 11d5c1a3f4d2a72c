"""likeness: a consent-first face-swap studio.

Images are RGB ``uint8`` arrays of shape (H, W, 3) everywhere in this package.
"""

__version__ = "0.1.0"
