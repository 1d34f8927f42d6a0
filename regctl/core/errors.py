"""Typed errors. Each carries its one-line message and its exit code.

The CLI turns any of these into ``regctl: <message>`` on stderr and exits with
``exit_code``; nothing else in the package prints or exits.
"""

EXIT_OK = 0
EXIT_NOT_FOUND = 1
EXIT_INVALID = 2
EXIT_CONFLICT = 3
EXIT_STORE = 4
# An MLflow tracking server (``--store http(s)://...``):
EXIT_UNREACHABLE = 5
EXIT_ACCESS_DENIED = 6
EXIT_NO_API = 7
# Artifacts at a remote location (s3:, gs:, dbfs:, mlflow-artifacts: without its server, ...):
EXIT_REMOTE = 8


class RegctlError(Exception):
    """Base of every error regctl reports to its user."""

    exit_code = EXIT_STORE

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class NotFound(RegctlError):
    """A model, version, alias, run, logged model or source does not exist."""

    exit_code = EXIT_NOT_FOUND


class InvalidInput(RegctlError):
    """A name, alias, tag, version, stage or URI is not acceptable."""

    exit_code = EXIT_INVALID


class Conflict(RegctlError):
    """The target already exists, or an expected value did not match."""

    exit_code = EXIT_CONFLICT


class StoreError(RegctlError):
    """The store cannot be used: unreadable or damaged files, permissions, locks."""

    exit_code = EXIT_STORE


class IntegrityError(StoreError):
    """Artifacts on disk do not match the digest recorded at registration."""


class ServerUnreachable(StoreError):
    """The tracking server cannot be reached: refused, unknown host, timed out, TLS failure."""

    exit_code = EXIT_UNREACHABLE


class AccessDenied(StoreError):
    """The tracking server refused the credentials (HTTP 401) or the permission (HTTP 403)."""

    exit_code = EXIT_ACCESS_DENIED


class NoApi(StoreError):
    """The URL answers, but not as MLflow's REST API (HTTP 404 for an endpoint, not for a resource)."""

    exit_code = EXIT_NO_API


class RemoteArtifacts(RegctlError):
    """A version's files are at a remote location regctl does not read from here (``s3:``, ``gs:``,
    ``dbfs:``, ...; ``mlflow-artifacts:`` without the server that serves it): not damage, not missing."""

    exit_code = EXIT_REMOTE
