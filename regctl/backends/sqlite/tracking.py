"""MLflow's tracking tables in its SQLite database, read only to resolve sources: runs and
logged models (``runs:/<run>/<path>``, ``models:/m-<id>``).

Functions of a ``sqlite3`` connection and the database's ``sqlschema.Schema``; a table
the schema does not have (MLflow 2 has no logged models) finds nothing.
"""

from regctl.core.names import validate_logged_model_id, validate_run_id
from regctl.core.rules import logged_model_not_found, run_not_found

LOGGED_MODEL_COLUMNS = ("model_id", "experiment_id", "name", "artifact_location", "creation_timestamp_ms",
                        "source_run_id", "lifecycle_stage")
# the step a run logged each of its models at, 0 when MLflow recorded none
_STEP = ("COALESCE((SELECT MAX(step) FROM inputs WHERE source_type = 'RUN_OUTPUT' AND source_id = lm.source_run_id "
         "AND destination_type = 'MODEL_OUTPUT' AND destination_id = lm.model_id), 0)")


def find_run(connection, schema, run_id: str) -> dict:
    """The run's id, name, experiment and artifact URI; NotFound when there is no such run."""
    validate_run_id(run_id)
    row = None
    if schema.has("runs"):
        row = connection.execute("SELECT run_uuid, name, experiment_id, artifact_uri FROM runs WHERE run_uuid = ?",
                                 (run_id,)).fetchone()
    if row is None:
        raise run_not_found(run_id)
    return {"run_id": row[0], "run_name": row[1], "experiment_id": None if row[2] is None else str(row[2]),
            "artifact_uri": row[3]}


def find_logged_model(connection, schema, model_id: str) -> dict:
    """A logged model that is not deleted, as ``{column: value}``; NotFound otherwise."""
    validate_logged_model_id(model_id)
    row = None
    if schema.has("logged_models"):
        row = connection.execute("SELECT " + ", ".join(LOGGED_MODEL_COLUMNS) + " FROM logged_models "
                                 "WHERE model_id = ?", (model_id,)).fetchone()
    if row is None or row[-1] == "deleted":
        raise logged_model_not_found(model_id)
    return dict(zip(LOGGED_MODEL_COLUMNS, row))


def logged_model_named(connection, schema, run: dict, name: str, *, newest_first: bool):
    """The run's logged model called ``name``: the newest (download rule) or the highest step
    (registration rule); None when it has none."""
    if not schema.has("logged_models"):
        return None
    step = _STEP if schema.has("inputs", "step") else "0"
    rows = connection.execute(
        "SELECT " + ", ".join("lm." + c for c in LOGGED_MODEL_COLUMNS) + f", {step} FROM logged_models AS lm "
        "WHERE lm.source_run_id = ? AND lm.name = ? AND (lm.lifecycle_stage IS NULL OR lm.lifecycle_stage != 'deleted')",
        (run["run_id"], name)).fetchall()
    if not rows:
        return None
    candidates = [dict(zip(LOGGED_MODEL_COLUMNS + ("step",), r)) for r in rows]
    if newest_first:
        candidates.sort(key=lambda m: (-(m["creation_timestamp_ms"] or 0), m["model_id"]))
    else:
        candidates.sort(key=lambda m: (-(m["step"] or 0), -(m["creation_timestamp_ms"] or 0)))
    return candidates[0]
