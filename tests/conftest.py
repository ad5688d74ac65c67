import os

import pytest


@pytest.fixture(autouse=True, scope="session")
def _private_result_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep the test run's result cache out of the user's cache folder (subprocesses inherit it)."""
    os.environ["FLASKFIX_CACHE_DIR"] = str(tmp_path_factory.mktemp("flaskfix-cache"))
