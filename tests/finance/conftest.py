"""Fixtures of the finance tests: the real app over HTTP, real tokens, an imported organisation."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import Tokens
from tests.finance.support import Api, Org, import_organisation


@pytest.fixture
async def org(engine: AsyncEngine) -> Org:
    return await import_organisation(engine)


@pytest.fixture
def api(client: httpx.AsyncClient, tokens: Tokens, org: Org) -> Api:
    return Api(client, tokens, org)
