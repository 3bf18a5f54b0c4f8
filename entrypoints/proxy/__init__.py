"""The credential-injecting proxy inside the token broker: ``/openai/v1/<path>`` forwarded
to the login's model API with the login's headers (``forward.py``), only there
(``relay.py``), over one shared upstream session (``upstream.py``), with hooks for
metrics (``observer.py``)."""
