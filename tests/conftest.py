import os

import pytest


@pytest.fixture(autouse=True, scope="session")
def _private_result_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep the test run's result cache out of the user's cache folder (subprocesses inherit it)."""
    os.environ["FLASKFIX_CACHE_DIR"] = str(tmp_path_factory.mktemp("flaskfix-cache"))


@pytest.fixture(autouse=True, scope="session")
def _pool_for_any_number_of_files() -> None:
    """Small test projects with --jobs N go through the worker pool, as large ones do
    (flaskfix itself keeps projects under POOL_MIN_FILES files in one process)."""
    os.environ["FLASKFIX_POOL_MIN_FILES"] = "0"

#: sample projects with test suites of their own (run by --verify's tests, not collected here)
collect_ignore_glob = ["data/*"]
