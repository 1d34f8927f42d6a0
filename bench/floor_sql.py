"""The raw SQL floor of regctl's listings on MLflow's SQLite database (used by bench/sqlfloor.py).

    python bench/floor_sql.py DB models
    python bench/floor_sql.py DB versions NAME [LIMIT]
    python bench/floor_sql.py DB search MAX_RESULTS

A bare script with the standard library's sqlite3 that runs the queries regctl's SQLite backend
runs for the listing (one read transaction: the rows, sorted by SQLite in regctl's order, their
tags, the aliases, the latest version of each model; for ``versions``, the model's tags, which say
whether it is a prompt) and prints one line per entry. Nothing else: no schema check, no objects, no
filter grammar; what any reader of the database pays. ``listing()`` is imported by the bench to
time the same queries inside one process.
"""

import sqlite3
import sys

DELETED = "Deleted_Internal"
WS = " AND workspace = 'default'"  # MLflow 3.17's schema: the default workspace
VERSION_COLUMNS = ("name, version, creation_time, last_updated_time, current_stage, description, source, run_id, "
                   "run_link, status, status_message, user_id, storage_location")


def connect(db):
    return sqlite3.connect(f"file:{db}?mode=ro", uri=True, isolation_level=None)


def models(connection):
    rows = connection.execute(
        "SELECT name, creation_time, last_updated_time, description, (SELECT version FROM model_versions "
        "WHERE model_versions.name = registered_models.name AND current_stage IS NOT ?" + WS
        + " ORDER BY version DESC LIMIT 1) FROM registered_models WHERE 1 = 1" + WS + " ORDER BY name COLLATE BINARY",
        (DELETED,)).fetchall()
    tags, aliases = {}, {}
    for name, key, value in connection.execute('SELECT name, "key", value FROM registered_model_tags WHERE 1 = 1' + WS):
        tags.setdefault(name, {})[key] = value
    for name, alias, version in connection.execute(
            "SELECT name, alias, version FROM registered_model_aliases WHERE 1 = 1" + WS):
        aliases.setdefault(name, {})[alias] = version
    return [(row, tags.get(row[0], {}), aliases.get(row[0], {})) for row in rows]


def versions(connection, name, limit=None):
    if connection.execute("SELECT name FROM registered_models WHERE name = ?" + WS, (name,)).fetchone() is None:
        raise SystemExit(f"no model {name}")
    if "mlflow.prompt.is_prompt" in dict(connection.execute(
            'SELECT "key", value FROM registered_model_tags WHERE name = ?' + WS, (name,)).fetchall()):
        raise SystemExit(f"{name} is a prompt")
    sql = f"SELECT {VERSION_COLUMNS} FROM model_versions WHERE name = ?" + WS + \
        " AND current_stage IS NOT ? ORDER BY version DESC"
    rows = connection.execute(sql + (" LIMIT ?" if limit else ""),
                              (name, DELETED, limit) if limit else (name, DELETED)).fetchall()
    tag_sql = 'SELECT version, "key", value FROM model_version_tags WHERE name = ?' + WS
    params = [name]
    if limit:
        tag_sql += f" AND version IN ({', '.join('?' * len(rows))})"
        params += [row[1] for row in rows]
    tags = {}
    for version, key, value in connection.execute(tag_sql, params):
        tags.setdefault(version, {})[key] = value
    aliases = {}
    for alias, version in connection.execute(
            "SELECT alias, version FROM registered_model_aliases WHERE name = ?" + WS + " ORDER BY alias", (name,)):
        aliases.setdefault(version, []).append(alias)
    return [(row, tags.get(row[1], {}), aliases.get(row[1], [])) for row in rows]


def search(connection, max_results):
    """Every live version of the models listed, newest update first (MLflow's default order), prompts left out."""
    connection.execute("SELECT COUNT(*) FROM registered_models WHERE 1 = 1" + WS).fetchone()
    rows = connection.execute(
        f"SELECT {VERSION_COLUMNS} FROM model_versions WHERE current_stage IS NOT ?" + WS
        + " AND name IN (SELECT name FROM registered_models WHERE 1 = 1" + WS + ")"
        + " ORDER BY last_updated_time DESC, name COLLATE BINARY, version DESC", (DELETED,)).fetchall()
    tags = {}
    for name, version, key, value in connection.execute(
            'SELECT name, version, "key", value FROM model_version_tags WHERE 1 = 1' + WS):
        tags.setdefault((name, version), {})[key] = value
    aliases = {}
    for name, alias, version in connection.execute(
            "SELECT name, alias, version FROM registered_model_aliases WHERE 1 = 1" + WS):
        aliases.setdefault((name, version), []).append(alias)
    found = [(row, tags.get(row[:2], {}), aliases.get(row[:2], [])) for row in rows
             if tags.get(row[:2], {}).get("mlflow.prompt.is_prompt") != "true"]
    return found[:max_results]


def listing(db, kind, *args):
    connection = connect(db)
    try:
        connection.execute("BEGIN")
        if kind == "models":
            return models(connection)
        if kind == "versions":
            return versions(connection, args[0], int(args[1]) if len(args) > 1 else None)
        return search(connection, int(args[0]))
    finally:
        connection.close()


def main(argv):
    entries = listing(*argv)
    out = [f"{row[0]}\t{row[1]}\t{row[2]}\t{row[3]}\t{len(tags)}\t{','.join(aliases)}"
           for row, tags, aliases in entries]
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
