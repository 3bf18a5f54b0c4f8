"""Entry points: the composition root, the command line, the callback server."""
