"""``DerivedOperations``: what a backend builds from its own reads (``regctl.core.common``).

A mixin for backends with nothing faster of their own: searches, model names, download,
diff and gc. ``regctl.core.common`` (and the dataclasses it needs) is loaded on first use, so
that ``resolve`` on such a store stays light.
"""


class DerivedOperations:
    """``model_names``, ``search_models``, ``search_versions``, ``download``, ``diff`` and ``collect``."""

    search_dialect = "sql"  # searches mean what MLflow's SQL store makes of them (``filters.SQL_MODELS``)

    def model_names(self):
        from regctl.core import common

        return common.model_names(self)

    def search_models(self, search, max_results, progress=None):
        from regctl.core import common

        return common.search_models(self, search, max_results, progress)

    def search_versions(self, search, max_results, progress=None):
        from regctl.core import common

        return common.search_versions(self, search, max_results, progress)

    def download(self, uri, dest, progress=None):
        from regctl.core import common

        return common.download(self, uri, dest, progress)

    def diff(self, a, b):
        from regctl.core import common

        return common.diff(self, a, b)

    def artifact_bytes(self, resolution, relative):
        from regctl.core import common

        return common.local_artifact(resolution, relative)

    def collect(self, name, keep, *, keep_aliased, delete_staged):
        from regctl.core import common

        return common.collect(self, name, keep, keep_aliased=keep_aliased, delete_staged=delete_staged)
