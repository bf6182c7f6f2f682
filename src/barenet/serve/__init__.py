"""A drawing page for a trained classifier (``barenet serve``), standard library only.

``DrawingApp`` holds the model and turns pixels into predictions (``preprocess``
centres, scales and inverts a drawing as the training images were); ``DrawingServer``
answers HTTP with the page in ``page/`` and the JSON API.
"""

from .app import DrawingApp
from .preprocess import InputSpec, prepare
from .server import DrawingServer

__all__ = ["DrawingApp", "DrawingServer", "InputSpec", "prepare"]
