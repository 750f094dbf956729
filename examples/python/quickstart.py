#!/usr/bin/env python3
"""MCP Agents Platform quick start over the REST API, with nothing but Python's standard library.

Registers a user, logs in, creates an organization, registers an MCP server, tests and syncs it,
creates an agent and a policy that lets the agent call one tool, runs the tool as the agent and
pages through the organization's runs.

    python3 quickstart.py                                   # platform and demo MCP server on :3000
    python3 quickstart.py --base-url https://mcp.example.com --mcp-url https://tools.example.com/mcp \\
        --tool echo --input '{"text": "hello"}'

Every option can also be set by environment variable: BASE_URL, MCP_URL, TOOL_NAME, TOOL_INPUT,
EMAIL, PASSWORD. Exits 1 with the API's error (code, message, field issues, request id) on failure.
"""

import argparse
import http.client
import json
import os
import secrets
import sys
import urllib.error
import urllib.parse
import urllib.request


class ApiError(Exception):
    """A failed call: the platform's error body is `{code, message, issues?, request_id}`."""

    def __init__(self, method, path, status, body):
        self.status = status
        self.body = body if isinstance(body, dict) else {"message": str(body)}
        detail = f"{method} {path} -> HTTP {status} {self.body.get('code', '')}: {self.body.get('message', '')}"
        for issue in self.body.get("issues") or []:
            detail += f"\n    {issue.get('path') or '(body)'}: {issue.get('message')}"
        if self.body.get("request_id"):
            detail += f"\n    request_id: {self.body['request_id']}"
        super().__init__(detail)


class Platform:
    def __init__(self, base_url, timeout=60):
        self.api = base_url.rstrip("/") + "/api/v1"
        self.timeout = timeout
        self.token = None

    def request(self, method, path, body=None, query=None):
        url = self.api + path
        if query:
            url += "?" + urllib.parse.urlencode({k: v for k, v in query.items() if v is not None})
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = f"Token {self.token}"
        req = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as response:
                raw = response.read()
                return json.loads(raw) if raw else None
        except urllib.error.HTTPError as error:
            raw = error.read().decode("utf-8", "replace")
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = raw
            raise ApiError(method, path, error.code, parsed) from None
        except urllib.error.URLError as error:
            raise SystemExit(f"error: cannot reach {url}: {error.reason}") from None
        except (OSError, http.client.HTTPException) as error:
            raise SystemExit(f"error: {method} {url} failed: {error!r}") from None

    def pages(self, path, query=None, limit=50):
        """Yields every item of a list endpoint, following next_cursor."""
        cursor = None
        while True:
            page = self.request("GET", path, query={**(query or {}), "limit": limit, "cursor": cursor})
            yield from page["results"]
            cursor = page["next_cursor"]
            if cursor is None:
                return


def parse_args():
    env = os.environ.get
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", default=env("BASE_URL", "http://localhost:3000"))
    parser.add_argument("--mcp-url", default=env("MCP_URL") or "http://localhost:3000/demo/mcp")
    parser.add_argument("--tool", default=env("TOOL_NAME", "calculate"), help="the tool to run after the sync")
    parser.add_argument("--input", default=env("TOOL_INPUT", '{"expression": "(2 + 3) * 4"}'), help="its arguments, as JSON")
    parser.add_argument("--email", default=env("EMAIL") or f"quickstart-{secrets.token_hex(4)}@example.com")
    parser.add_argument("--password", default=env("PASSWORD") or secrets.token_urlsafe(16))
    args = parser.parse_args()
    try:
        args.input = json.loads(args.input)
    except ValueError as error:
        parser.error(f"--input is not JSON: {error}")
    if not isinstance(args.input, dict):
        parser.error("--input must be a JSON object")
    return args


def main():
    args = parse_args()
    platform = Platform(args.base_url)

    # 1. Register (201), then log in: both return a token for `Authorization: Token <token>`.
    registered = platform.request(
        "POST",
        "/auth/register",
        {"email": args.email, "password": args.password, "password_confirm": args.password, "first_name": "Quick"},
    )
    print(f"registered {registered['user']['email']}")
    platform.token = platform.request("POST", "/auth/login", {"email": args.email, "password": args.password})["token"]
    me = platform.request("GET", "/auth/me")
    print(f"logged in as {me['email']} ({me['id']})")

    # 2. An organization: everything else belongs to one.
    # Slugs (derived from the name unless given) are unique across the platform.
    org = platform.request("POST", "/orgs", {"name": f"Quick start {secrets.token_hex(3)}"})
    print(f"created org {org['name']} ({org['id']}), role {org['role']}")

    # 3. Register the MCP server, check it answers, and sync its tools into the registry.
    connection = platform.request(
        "POST",
        f"/orgs/{org['id']}/connections",
        {"name": "Quick start MCP", "transport": "streamable_http", "url": args.mcp_url},
    )
    print(f"created connection {connection['id']} -> {connection['url']}")
    test = platform.request("POST", f"/connections/{connection['id']}/test")
    if not test["ok"]:
        raise SystemExit(f"error: the MCP server at {args.mcp_url} failed its test: {test['error']}")
    server = test["server"] or {}
    print(f"connection ok: {server.get('name')} {server.get('version')} in {test['latency_ms']} ms")
    sync = platform.request("POST", f"/connections/{connection['id']}/sync")
    print(f"synced {sync['total']} tools ({sync['created']} new)")

    tools = list(platform.pages(f"/orgs/{org['id']}/tools", {"connection_id": connection["id"]}))
    tool = next((t for t in tools if args.tool in (t["name"], t["upstream_name"])), None)
    if tool is None:
        names = ", ".join(sorted(t["name"] for t in tools)) or "none"
        raise SystemExit(f"error: the server offers no tool named {args.tool!r} (it offers: {names})")

    # 4. An agent, and a policy allowing it to call the tool (at most 60 calls a minute).
    agent = platform.request("POST", f"/orgs/{org['id']}/agents", {"name": "Quick start agent"})
    print(f"created agent {agent['name']} ({agent['id']}), MCP endpoint {agent['mcp_url']}")
    policy = platform.request(
        "POST",
        f"/orgs/{org['id']}/policies",
        {
            "name": f"Quick start agent may call {tool['name']}",
            "effect": "allow",
            "agent_id": agent["id"],
            "tool_pattern": tool["name"],
            "rate_limit": {"max_calls": 60, "per_seconds": 60},
        },
    )
    print(f"created policy {policy['name']!r}")

    # 5. Run the tool on the agent's behalf. A denied or failed call is still a recorded run (201).
    run = platform.request("POST", f"/tools/{tool['id']}/run", {"agent_id": agent["id"], "input": args.input})
    if run["status"] != "succeeded":
        raise SystemExit(f"error: run {run['id']} {run['status']}: {run['error']}")
    texts = [c.get("text") for c in (run["output"] or {}).get("content", []) if c.get("type") == "text"]
    print(f"ran {tool['name']}({json.dumps(args.input)}) in {run['duration_ms']} ms -> {' '.join(texts)}")

    # 6. Page through the organization's runs, newest first.
    runs = list(platform.pages(f"/orgs/{org['id']}/runs", limit=20))
    for item in runs:
        print(f"  run {item['id']} {item['tool_name']} {item['status']} {item['started_at']}")
    print(f"{len(runs)} run(s) in the organization")
    print("quick start succeeded")


if __name__ == "__main__":
    try:
        main()
    except ApiError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
