"""A stateful stand-in for the part of the GitHub REST API ``flaskfix pr`` uses.

It serves, over a real local HTTP server (pytest-httpserver):

* ``GET /repos/{o}/{r}``: the repository (its default branch);
* ``GET /repos/{o}/{r}/pulls?head=OWNER:BRANCH&state=open``;
* ``POST /repos/{o}/{r}/pulls``: 422 "already exists" when an open pull request has the
  same head and base, 422 when the head branch is not on the remote;
* ``PATCH /repos/{o}/{r}/pulls/{n}``: title, body, base, state;
* ``POST /repos/{o}/{r}/issues/{n}/labels`` and ``.../comments``.

Head SHAs are read from the bare repository that plays the remote, so a listed pull
request shows what was really pushed. Every request is recorded (method, path, query,
body, headers). ``fail`` queues canned error answers for the next matching requests;
``list_blind`` makes the next list calls miss existing pull requests (as GitHub's
listing may lag behind a create).
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass, field
from typing import Any

from werkzeug import Request, Response

ROUTES = [
    ("GET", re.compile(r"^/repos/([^/]+)/([^/]+)$"), "repo"),
    ("GET", re.compile(r"^/repos/([^/]+)/([^/]+)/pulls$"), "list"),
    ("POST", re.compile(r"^/repos/([^/]+)/([^/]+)/pulls$"), "create"),
    ("PATCH", re.compile(r"^/repos/([^/]+)/([^/]+)/pulls/(\d+)$"), "update"),
    ("POST", re.compile(r"^/repos/([^/]+)/([^/]+)/issues/(\d+)/labels$"), "labels"),
    ("POST", re.compile(r"^/repos/([^/]+)/([^/]+)/issues/(\d+)/comments$"), "comment"),
]


@dataclass
class Recorded:
    method: str
    path: str
    query: str
    body: str
    headers: dict[str, str]
    route: str


@dataclass
class FakeGitHub:
    owner: str
    name: str
    remote_git_dir: str
    token: str
    default_branch: str = "main"
    pulls: dict[int, dict[str, Any]] = field(default_factory=dict)
    comments: list[tuple[int, str]] = field(default_factory=list)
    requests: list[Recorded] = field(default_factory=list)
    #: route -> list of (status, json body, headers) answered, in order, instead of the real thing
    fail: dict[str, list[tuple[int, Any, dict[str, str]]]] = field(default_factory=dict)
    list_blind: int = 0
    base_url: str = ""
    _next: int = 1

    def install(self, httpserver: Any) -> "FakeGitHub":
        httpserver.expect_request(re.compile(r".*")).respond_with_handler(self.handle)
        self.base_url = httpserver.url_for("/").rstrip("/")
        return self

    # -- what tests look at -------------------------------------------------------------

    @property
    def writes(self) -> list[Recorded]:
        return [r for r in self.requests if r.method != "GET"]

    def routes(self) -> list[str]:
        return [r.route for r in self.requests]

    def open_pulls(self) -> list[dict[str, Any]]:
        return [p for p in self.pulls.values() if p["state"] == "open"]

    def fail_next(self, route: str, status: int, body: Any = None, headers: dict[str, str] | None = None,
                  times: int = 1) -> None:
        self.fail.setdefault(route, []).extend([(status, body, headers or {})] * times)

    # -- the server side ------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        route, groups = self._route(request.method, request.path)
        self.requests.append(Recorded(request.method, request.path, request.query_string.decode(),
                                      request.get_data(as_text=True), dict(request.headers), route))
        if route == "unknown":
            return self._json(404, {"message": "Not Found"})
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return self._json(401, {"message": "Bad credentials"})
        if groups[0] != self.owner or groups[1] != self.name:
            return self._json(404, {"message": "Not Found"})
        if self.fail.get(route):
            status, body, headers = self.fail[route].pop(0)
            return self._json(status, body if body is not None else {"message": f"canned {status}"}, headers)
        payload = json.loads(request.get_data(as_text=True) or "null")
        return getattr(self, f"_{route}")(request, groups, payload)

    def _route(self, method: str, path: str) -> tuple[str, tuple[str, ...]]:
        for m, rx, name in ROUTES:
            found = rx.match(path)
            if m == method and found:
                return name, found.groups()
        return "unknown", ()

    def _json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> Response:
        return Response(json.dumps(data), status=status, headers=headers or {}, content_type="application/json")

    def _branch_sha(self, branch: str) -> str | None:
        out = subprocess.run(["git", "rev-parse", "--verify", "-q", f"refs/heads/{branch}"], cwd=self.remote_git_dir,
                             capture_output=True, text=True)
        return out.stdout.strip() or None

    def _view(self, p: dict[str, Any]) -> dict[str, Any]:
        view = json.loads(json.dumps(p))
        view["head"]["sha"] = self._branch_sha(p["head"]["ref"])
        view["labels"] = [{"name": n} for n in p["labels"]]
        return view

    def _repo(self, request: Request, groups: tuple[str, ...], payload: Any) -> Response:
        return self._json(200, {"full_name": f"{self.owner}/{self.name}", "default_branch": self.default_branch})

    def _list(self, request: Request, groups: tuple[str, ...], payload: Any) -> Response:
        head = request.args.get("head")
        state = request.args.get("state", "open")
        if self.list_blind > 0:
            self.list_blind -= 1
            return self._json(200, [])
        found = [self._view(p) for p in self.pulls.values()
                 if (head is None or p["head"]["label"] == head) and (state == "all" or p["state"] == state)]
        return self._json(200, found)

    def _create(self, request: Request, groups: tuple[str, ...], payload: Any) -> Response:
        for key in ("title", "head", "base"):
            if not payload.get(key):
                return self._json(422, {"message": "Validation Failed", "errors": [{"field": key, "code": "missing_field"}]})
        head = payload["head"] if ":" in payload["head"] else f"{self.owner}:{payload['head']}"
        ref = head.split(":", 1)[1]
        if self._branch_sha(ref) is None:
            return self._json(422, {"message": "Validation Failed", "errors": [{"field": "head", "code": "invalid"}]})
        for p in self.open_pulls():
            if p["head"]["label"] == head and p["base"]["ref"] == payload["base"]:
                return self._json(422, {"message": "Validation Failed", "errors": [
                    {"resource": "PullRequest", "code": "custom",
                     "message": f"A pull request already exists for {head}."}]})
        number = self._next
        self._next += 1
        self.pulls[number] = {
            "number": number, "state": "open", "title": payload["title"], "body": payload.get("body") or "",
            "draft": bool(payload.get("draft")), "head": {"ref": ref, "label": head},
            "base": {"ref": payload["base"]}, "labels": [],
            "html_url": f"https://github.example/{self.owner}/{self.name}/pull/{number}",
        }
        return self._json(201, self._view(self.pulls[number]))

    def _update(self, request: Request, groups: tuple[str, ...], payload: Any) -> Response:
        p = self.pulls.get(int(groups[2]))
        if p is None:
            return self._json(404, {"message": "Not Found"})
        for key in ("title", "body", "state"):
            if key in payload:
                p[key] = payload[key]
        if "base" in payload:
            p["base"] = {"ref": payload["base"]}
        return self._json(200, self._view(p))

    def _labels(self, request: Request, groups: tuple[str, ...], payload: Any) -> Response:
        p = self.pulls.get(int(groups[2]))
        if p is None:
            return self._json(404, {"message": "Not Found"})
        for name in payload["labels"]:
            if name not in p["labels"]:
                p["labels"].append(name)
        return self._json(200, [{"name": n} for n in p["labels"]])

    def _comment(self, request: Request, groups: tuple[str, ...], payload: Any) -> Response:
        number = int(groups[2])
        if number not in self.pulls:
            return self._json(404, {"message": "Not Found"})
        self.comments.append((number, payload["body"]))
        return self._json(201, {"id": len(self.comments), "body": payload["body"]})
