"""A small GitHub REST client for ``flaskfix pr`` (pull requests, labels, comments).

What it promises:

* the token travels only in the ``Authorization`` header: it is never part of a URL, an
  exception text or anything this module returns;
* every failure is a ``GitHubError`` with a one-line message and the exit code the
  command uses for it (401 -> 3, 403 -> 4, 404 -> 5, rate limit -> 6, network, server
  or unexpected answer -> 7);
* reads (and writes that are idempotent: PATCH, adding labels) are retried with
  backoff after network errors and 5xx answers; a create (POST of a pull request or a
  comment) is never repeated blindly: the caller decides after looking;
* rate limits (``Retry-After``, ``X-RateLimit-Remaining: 0`` + ``X-RateLimit-Reset``):
  the request is repeated after the wait when the wait is short (a rate-limited request
  was not processed, so repeating even a POST is safe), else it fails.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import httpx


EXIT_AUTH = 3
EXIT_FORBIDDEN = 4
EXIT_NOT_FOUND = 5
EXIT_RATE_LIMITED = 6
EXIT_API = 7

PERMISSIONS = "contents: write and pull-requests: write"
USER_AGENT = "flaskfix-pr"


class GitHubError(Exception):
    """A failed API call; ``str()`` is a one-line message, ``exit_code`` the command's code."""

    def __init__(self, message: str, exit_code: int, status: int | None = None) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.status = status


class AlreadyExists(GitHubError):
    """422: a pull request for this head and base already exists."""


class NetworkError(GitHubError):
    """The API could not be reached (after the retries allowed for the call)."""


class GitHub:
    def __init__(
        self,
        api_url: str,
        token: str | None,
        *,
        max_wait: float = 60.0,
        retries: int = 3,
        backoff: float = 0.5,
        timeout: float = 30.0,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": USER_AGENT,
        }
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.api_url = api_url.rstrip("/")
        self.host = urlsplit(self.api_url).netloc or self.api_url
        self.max_wait = max_wait
        self.retries = retries
        self.backoff = backoff
        self._sleep = sleep or time.sleep
        self._clock = clock or time.time
        import httpx  # imported here: start-up of every other command stays cheap

        self._httpx = httpx
        self._client = httpx.Client(
            base_url=self.api_url, headers=headers, timeout=timeout, follow_redirects=False, transport=transport
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> "GitHub":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the calls flaskfix pr makes -----------------------------------------------------

    def open_pulls(self, repo: str, owner: str, branch: str) -> list[dict[str, Any]]:
        """Open pull requests whose head is ``owner:branch``."""
        resp = self.request(
            "GET",
            f"/repos/{repo}/pulls",
            params={"head": f"{owner}:{branch}", "state": "open", "per_page": "100"},
            what=f"listing the open pull requests of {repo}",
            retry=True,
        )
        data = resp.json()
        if not isinstance(data, list):
            raise GitHubError(f"unexpected answer while listing the pull requests of {repo}", EXIT_API, resp.status_code)
        return data

    def default_branch(self, repo: str) -> str:
        resp = self.request("GET", f"/repos/{repo}", what=f"reading repository {repo}", retry=True)
        return str(resp.json()["default_branch"])

    def create_pull(self, repo: str, *, title: str, body: str, head: str, base: str, draft: bool) -> dict[str, Any]:
        payload = {"title": title, "body": body, "head": head, "base": base, "draft": draft}
        return self.request(
            "POST", f"/repos/{repo}/pulls", json=payload, what="creating the pull request", retry=False
        ).json()

    def update_pull(self, repo: str, number: int, **fields: Any) -> dict[str, Any]:
        return self.request(
            "PATCH", f"/repos/{repo}/pulls/{number}", json=fields, what=f"updating pull request #{number}", retry=True
        ).json()

    def add_labels(self, repo: str, number: int, labels: list[str]) -> None:
        self.request(
            "POST",
            f"/repos/{repo}/issues/{number}/labels",
            json={"labels": labels},
            what=f"labelling pull request #{number}",
            retry=True,  # adding a label twice is harmless
        )

    def comment(self, repo: str, number: int, body: str) -> None:
        self.request(
            "POST", f"/repos/{repo}/issues/{number}/comments", json={"body": body},
            what=f"commenting on pull request #{number}", retry=False,
        )

    # -- the machinery ---------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        what: str,
        retry: bool,
        params: dict[str, str] | None = None,
        json: Any = None,
    ) -> httpx.Response:
        attempt = 0
        waited = 0.0
        rate_limited = 0
        while True:
            try:
                resp = self._client.request(method, path, params=params, json=json)
            except self._httpx.TransportError as exc:
                if retry and attempt < self.retries:
                    self._sleep(self.backoff * 2**attempt)
                    attempt += 1
                    continue
                tries = f" after {attempt + 1} attempts" if attempt else ""
                raise NetworkError(
                    f"network error while {what}: cannot reach {self.host}{tries} ({type(exc).__name__})", EXIT_API
                ) from None
            if resp.status_code >= 500 and retry and attempt < self.retries:
                self._sleep(self.backoff * 2**attempt)
                attempt += 1
                continue
            wait = self._rate_limit_wait(resp)
            if wait is not None:
                rate_limited += 1
                if waited + wait <= self.max_wait and rate_limited <= 5:
                    self._sleep(wait)
                    waited += wait
                    continue
                raise GitHubError(
                    f"rate limited by GitHub while {what}: the limit resets in {int(wait)}s, longer than the "
                    f"{int(self.max_wait)}s flaskfix waits (--max-wait); run again later",
                    EXIT_RATE_LIMITED,
                    resp.status_code,
                )
            if resp.status_code < 400:
                return resp
            raise self._error(resp, what)

    def _rate_limit_wait(self, resp: httpx.Response) -> float | None:
        """Seconds to wait when ``resp`` is a rate-limit answer, else None."""
        if resp.status_code not in (403, 429):
            return None
        retry_after = resp.headers.get("Retry-After")
        if retry_after is not None:
            try:
                return max(0.0, float(retry_after))
            except ValueError:
                return 60.0
        if resp.headers.get("X-RateLimit-Remaining") == "0":
            try:
                return max(0.0, float(resp.headers["X-RateLimit-Reset"]) - self._clock()) + 1.0
            except (KeyError, ValueError):
                return 60.0
        if resp.status_code == 429 or "rate limit" in _message(resp).lower():
            return 60.0  # a secondary limit without headers: GitHub asks for at least a minute
        return None

    def _error(self, resp: httpx.Response, what: str) -> GitHubError:
        status = resp.status_code
        msg = _message(resp)
        said = f" ({msg})" if msg else ""
        if status == 401:
            return GitHubError(
                f"GitHub rejected the token while {what} (401{said}): check GITHUB_TOKEN or GH_TOKEN",
                EXIT_AUTH, status,
            )
        if status == 403:
            return GitHubError(
                f"GitHub refused {what} (403{said}): the token needs the permissions {PERMISSIONS}",
                EXIT_FORBIDDEN, status,
            )
        if status == 404:
            return GitHubError(
                f"not found while {what} (404): check --repo and --api-url, and that the token can see the repository",
                EXIT_NOT_FOUND, status,
            )
        if status == 422:
            details = _errors(resp)
            if any("already exists" in d.lower() for d in details + [msg]):
                return AlreadyExists(f"a pull request already exists ({what})", EXIT_API, status)
            extra = "; ".join(details) or msg
            return GitHubError(f"GitHub did not accept {what} (422: {extra})", EXIT_API, status)
        return GitHubError(f"unexpected answer from GitHub while {what} (HTTP {status}{said})", EXIT_API, status)


def _json(resp: httpx.Response) -> Any:
    try:
        return resp.json()
    except ValueError:
        return None


def _message(resp: httpx.Response) -> str:
    data = _json(resp)
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        return " ".join(data["message"].split())[:200]
    return ""


def _errors(resp: httpx.Response) -> list[str]:
    data = _json(resp)
    out = []
    if isinstance(data, dict) and isinstance(data.get("errors"), list):
        for e in data["errors"]:
            if isinstance(e, dict):
                out.append(" ".join(str(e.get("message") or e.get("code") or "").split())[:200])
            elif isinstance(e, str):
                out.append(e[:200])
    return [e for e in out if e]
