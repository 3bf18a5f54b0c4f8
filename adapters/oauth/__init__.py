"""The issuer's OAuth endpoints over aiohttp, with authlib's RFC helpers.

One module per job: ``transport`` (the one HTTP session, TLS, size limits, and every
aiohttp, SSL and JSON error translated into the project's own), ``discovery`` (an
issuer's metadata), ``dialects`` (how each issuer profile speaks: OpenAI's JSON bodies
and device endpoints, or RFC 6749/8628 forms) and ``endpoint`` (the ``TokenEndpoint``
port, which builds the requests and reads the answers). The issuer's ``error`` /
``error_description`` travel with every error. TLS verification is always on; proxies
come from the environment.
"""
