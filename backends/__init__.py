"""In-tree minigrad backends, installed as the ``minigrad_backends`` package.

Each backend is registered through the ``minigrad.backends`` entry-point group in ``pyproject.toml``,
exactly as a third-party package would register one. Backends never import the ``minigrad`` front layer.
"""
