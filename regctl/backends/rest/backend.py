"""The backend for an MLflow tracking server, over its REST API: ``RestBackend``.

The store is the server's URL (``--store http://HOST:PORT`` or ``https://...``,
or ``MLFLOW_REGISTRY_URI``/``MLFLOW_TRACKING_URI`` set to one). Requests go to
``/api/2.0/mlflow/...`` and, for files, to the server's artifact proxy
``/api/2.0/mlflow-artifacts/artifacts/...`` (``mlflow server`` serves it unless
started with ``--no-serve-artifacts``). Transport, credentials, TLS, proxies and
retries: ``regctl.backends.rest.client``. Every answer is checked against the shape of what is read
from it (``regctl.backends.rest.answers``) before anything reads it; an answer of another shape, or a
paged search whose server sends a page token again, is a StoreError naming the endpoint.

What a server store does differently, by necessity:

* ``register`` of a local directory (or ``file:`` URI) uploads the files through
  the artifact proxy as an MLflow 3 logged model (``POST logged-models``, one
  ``PUT`` per file, then the model marked READY), as ``mlflow.<flavor>.log_model``
  does, and registers ``models:/<model id>``; then it waits for the version to be
  READY.
* The digest: regctl adds no MLflow tag. It keeps the manifest (per-file SHA-256
  and the tree digest) in an artifact file of its own beside the version's files:
  ``<artifact location>.regctl-manifest.json`` (for a logged model,
  ``<experiment>/models/<model id>/artifacts.regctl-manifest.json``). ``verify``
  hashes the files again (locally when the server's artifact store is on this
  machine, else streamed through the proxy) and compares. A version pushed from a
  file store keeps that store's ``regctl.content_digest`` tag, which also counts.
* ``resolve`` prints a local path when the version's files are on this machine (a
  ``file:`` location that exists here, or a proxied one under
  ``REGCTL_ARTIFACTS_DESTINATION``, the server's ``--artifacts-destination`` as
  mounted here), else the server's download URI (``mlflow-artifacts:/...``).
* ``alias set --expect`` reads the alias, then moves it: the REST API has no
  compare-and-set, so another client can move it between the two requests.
* Soft-deleted versions are invisible through the REST API, so ``versions --all``
  lists the same versions as ``versions``.
* ``search`` is run by the server (``model-versions/search`` with the filter and
  order as written, once regctl has checked them): its answer, whatever its database.
* A dry run (``dry_run``) sends every read a real run sends, checks what the server
  would check (the model, the version, a free new name), and sends no request that
  changes anything. The version number a dry-run ``register`` shows is the one after
  the highest version the API lists; the server counts deleted versions too, so a
  real run may get a higher one.
* ``history`` and ``alias rollback`` use a journal of the changes regctl made,
  kept on this machine: ``$XDG_STATE_HOME/regctl/servers/<host>-<port>-<hash>.jsonl``
  (``~/.local/state/...`` by default). Changes made elsewhere are not in it.
* ``storage_location`` is the server's download URI in ``describe --version``,
  ``register`` and ``resolve``; listings leave it null (it costs a request per
  version). ``model_id`` is read from a ``models:/m-...`` source (the REST API
  does not return it).
"""

from regctl.backends.rest.writes import RestWrites
from regctl.core.derived import DerivedOperations


class RestBackend(RestWrites, DerivedOperations):
    """An MLflow tracking server at ``url``."""
