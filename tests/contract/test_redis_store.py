"""The Redis store passes the store contract, against a real redis-server.

Every ``make_store()`` builds a new client on the same keys (a new connection
pool; in a forked child, its own), under a prefix of the test's own.
"""

from __future__ import annotations

import pytest

from codex_login.adapters.redis.config import connect
from codex_login.adapters.redis.store import RedisCredentialStore
from codex_login.testing.contract import CredentialStoreContract, StoreFactory
from support.redis_server import (  # noqa: F401  (fixtures)
    RedisServer,
    redis_prefix_fixture,
    redis_server_fixture,
)


class TestRedisCredentialStore(CredentialStoreContract):
    @pytest.fixture
    def make_store(self, redis_server: RedisServer, redis_prefix: str) -> StoreFactory:
        return lambda: RedisCredentialStore(connect(redis_server.url), prefix=redis_prefix)


class TestRedisCredentialStoreWithClientSideCaching(CredentialStoreContract):
    """The same, with fingerprints served from the invalidation-tracked cache."""

    @pytest.fixture
    def make_store(self, redis_server: RedisServer, redis_prefix: str) -> StoreFactory:
        return lambda: RedisCredentialStore(
            connect(redis_server.url), prefix=redis_prefix, client_side_cache=True
        )
