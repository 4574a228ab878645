"""kerascheck: a static linter for Keras pitfalls that raise no error."""

__version__ = "0.1.0"
