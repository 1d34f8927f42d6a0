"""The bare HTTP floor of regctl's listings on an MLflow tracking server (used by bench/server.py).

    python bench/floor_http.py URL models
    python bench/floor_http.py URL versions NAME [LIMIT]
    python bench/floor_http.py URL search MAX_RESULTS

A bare script with the standard library's http.client and json that makes the REST calls regctl's
server backend makes for the listing (the same endpoints, parameters and pages, on one kept-alive
connection) and prints one line per entry. Nothing else: no answer checking, no objects; what any
client of the server pays, the server's own time included. ``listing()`` is imported by the bench
to time the same calls inside one process, and returns how many requests it made.
"""

import http.client
import json
import socket
import sys
from urllib.parse import urlencode, urlsplit

API = "/api/2.0/mlflow"
MODEL_PAGE, VERSION_PAGE = 1000, 10000
PROMPT = "tags.`mlflow.prompt.is_prompt` = 'true'"


class Client:
    def __init__(self, url):
        parts = urlsplit(url)
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=60)
        self.connection.connect()
        self.connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.requests = 0

    def get(self, endpoint, params):
        self.connection.request("GET", API + endpoint + "?" + urlencode(params, doseq=True))
        response = self.connection.getresponse()
        body = response.read()
        self.requests += 1
        if response.status != 200:
            raise SystemExit(f"GET {endpoint}: {response.status} {body[:200]!r}")
        return json.loads(body)

    def pages(self, endpoint, params, key, limit=None):
        found, token = [], None
        while True:
            reply = self.get(endpoint, dict(params, page_token=token) if token else params)
            found += reply.get(key) or ()
            if limit is not None and len(found) >= limit:
                return found[:limit]
            token = reply.get("next_page_token")
            if not token:
                return found


def aliases_of(model):
    return {a["alias"]: int(a["version"]) for a in model.get("aliases") or ()}


def models(client):
    found = client.pages("/registered-models/search", {"max_results": MODEL_PAGE}, "registered_models")
    return sorted(((m["name"], m) for m in found
                   if {t["key"]: t.get("value") for t in m.get("tags") or ()}.get("mlflow.prompt.is_prompt") != "true"),
                  key=lambda pair: pair[0])


def versions(client, name, limit=None):
    aliases = aliases_of(client.get("/registered-models/get", {"name": name})["registered_model"])
    params = {"filter": f"name='{name}'", "order_by": "version_number DESC",
              "max_results": min(VERSION_PAGE, limit or VERSION_PAGE)}
    found = client.pages("/model-versions/search", params, "model_versions", limit)
    if not found:  # a prompt's versions answer only a search that asks for prompts
        params["filter"] += f" AND {PROMPT}"
        found = client.pages("/model-versions/search", params, "model_versions", limit)
    return [(v, [a for a, n in aliases.items() if n == int(v["version"])]) for v in found]


def search(client, max_results):
    """Every live version (the server's default order), then the aliases of their models: from
    registered-models/search pages when there are hundreds of models (one page per hundred at
    most), else, and for any model the pages did not have, one registered-models/get each."""
    found = client.pages("/model-versions/search", {"max_results": VERSION_PAGE}, "model_versions")[:max_results]
    names = list(dict.fromkeys(v["name"] for v in found))
    wanted = set(names)
    aliases, budget, token = {}, len(names) // 100 * MODEL_PAGE, None
    while budget > 0 and len(aliases) < len(names):
        reply = client.get("/registered-models/search",
                           {"max_results": MODEL_PAGE, **({"page_token": token} if token else {})})
        for model in reply.get("registered_models") or ():
            if model["name"] in wanted:
                aliases[model["name"]] = aliases_of(model)
        budget -= MODEL_PAGE
        token = reply.get("next_page_token")
        if not token:
            break
    for name in names:
        if name not in aliases:
            aliases[name] = aliases_of(client.get("/registered-models/get", {"name": name})["registered_model"])
    return [(v, [a for a, n in aliases[v["name"]].items() if n == int(v["version"])]) for v in found]


def listing(url, kind, *args):
    """(entries, requests made)."""
    client = Client(url)
    try:
        if kind == "models":
            entries = models(client)
        elif kind == "versions":
            entries = versions(client, args[0], int(args[1]) if len(args) > 1 else None)
        else:
            entries = search(client, int(args[0]))
        return entries, client.requests
    finally:
        client.connection.close()


def main(argv):
    entries, _ = listing(*argv)
    if argv[1] == "models":
        out = [f"{name}\t{len(m.get('latest_versions') or ())}\t{len(m.get('aliases') or ())}" for name, m in entries]
    else:
        out = [f"{v['name']}\t{v['version']}\t{v.get('current_stage')}\t{v.get('source')}\t{','.join(a)}"
               for v, a in entries]
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
