"""Shared test helpers: real stores in temporary directories and the real CLI."""

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

pytest_plugins = ["servers", "stores"]  # live MLflow servers (tests/servers.py) and the store fixture over file, SQLite and a server (tests/stores.py)

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).parent.parent


def model_source(directory: Path) -> Path:
    """A directory holding the smallest model regctl registers: an MLmodel file."""
    directory.mkdir(parents=True)
    (directory / "MLmodel").write_text("flavors: {}\n")
    return directory


def copy_fixture_store(kind: str, dest: Path) -> Path:
    """Copy ``tests/fixtures/<kind>/mlruns`` into ``dest`` with its empty directories recreated."""
    source = FIXTURES / kind
    # copy the bytes only: a checkout may carry read-only modes the test must not inherit
    shutil.copytree(source / "mlruns", dest / "mlruns", copy_function=shutil.copyfile)
    expected = json.loads((source / "expected.json").read_text())
    for directory in expected["empty_dirs"]:
        (dest / directory).mkdir(parents=True, exist_ok=True)
    return dest / "mlruns"


def expected_of(kind: str) -> dict:
    return json.loads((FIXTURES / kind / "expected.json").read_text())


@pytest.fixture
def store3(tmp_path) -> Path:
    """A private copy of the store written by MLflow 3.17."""
    return copy_fixture_store("mlflow3-store", tmp_path)


@pytest.fixture
def store2(tmp_path) -> Path:
    """A private copy of the store written by MLflow 2.22."""
    return copy_fixture_store("mlflow2-store", tmp_path)


@pytest.fixture(params=["mlflow3-store", "mlflow2-store"])
def fixture_store(request, tmp_path):
    """Each fixture store in turn: ``(kind, path)``."""
    return request.param, copy_fixture_store(request.param, tmp_path)


PROJECT = "/srv/project/"  # where the fixtures were generated; every recorded location starts there


def copy_fixture_db(kind: str, dest: Path) -> Path:
    """Copy ``tests/fixtures/<kind>`` (``mlflow.db`` and the artifacts in ``mlruns/``) into ``dest``."""
    source = FIXTURES / kind
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source / "mlflow.db", dest / "mlflow.db")
    shutil.copytree(source / "mlruns", dest / "mlruns", copy_function=shutil.copyfile)
    for directory in expected_of(kind)["empty_dirs"]:
        (dest / directory).mkdir(parents=True, exist_ok=True)
    return dest / "mlflow.db"


def sqlite_uri(path: Path) -> str:
    """The ``sqlite:`` URI of a database file (SQLAlchemy's form: four slashes for an absolute path)."""
    return f"sqlite:///{path}"


class FixtureStore:
    """A private copy of one fixture, as a file store (``mlruns/``) or a database (``mlflow.db``).

    ``store`` is what ``--store`` takes, ``base`` the directory holding the copy,
    ``expected`` the fixture's oracle.
    """

    def __init__(self, fixture: str, tmp_path: Path):
        self.fixture = fixture
        self.kind = "sqlite" if fixture.endswith("-db") else "file"
        self.expected = expected_of(fixture)
        self.base = tmp_path
        if self.kind == "file":
            self.root = copy_fixture_store(fixture, tmp_path)
            self.store = self.root
        else:
            self.root = copy_fixture_db(fixture, tmp_path)
            self.store = sqlite_uri(self.root)

    @property
    def is_file(self) -> bool:
        return self.kind == "file"

    @property
    def major(self) -> int:
        return int(self.expected["mlflow_version"].split(".")[0])

    def on_disk(self, location: str) -> Path:
        """Where a location recorded under /srv/project lives in this copy."""
        for prefix in ("file://" + PROJECT, PROJECT):
            if location.startswith(prefix):
                return self.base / location[len(prefix):]
        raise AssertionError(f"{location} is not under {PROJECT}")

    def snapshot(self) -> dict:
        return snapshot(self.base)

    def __str__(self) -> str:
        return str(self.store)


@pytest.fixture(params=["mlflow3-store", "mlflow3-db"], ids=["file", "sqlite"])
def backend(request, tmp_path) -> FixtureStore:
    """The MLflow 3 fixture on each backend: a file store copy, then a database copy."""
    return FixtureStore(request.param, tmp_path)


@pytest.fixture(params=["mlflow3-store", "mlflow2-store", "mlflow3-db", "mlflow2-db"])
def fixture_backend(request, tmp_path) -> FixtureStore:
    """Every fixture in turn: both MLflow versions, each as a file store and as a database."""
    return FixtureStore(request.param, tmp_path)


def regctl(*args, store=None, env=None, input=None, cwd=None, process=False) -> subprocess.CompletedProcess:
    """Run the ``regctl`` command: in this process (the default, about 20x faster), or with
    ``process=True`` in a real ``python -m regctl`` subprocess, where the process itself is under
    test (pipes, signals, the resolve fast path, start-up, bytes arguments, encodings).
    ``REGCTL_TEST_SUBPROCESS=1`` runs every call in a subprocess."""
    command = [] if store is None else ["--store", str(store)]
    command += [a if isinstance(a, bytes) else str(a) for a in args]
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("REGCTL_", "MLFLOW_"))}
    full_env.pop("PYTHONDONTWRITEBYTECODE", None)  # as users run it: compiled once, not on every call
    full_env.update(env or {})
    if process or os.environ.get("REGCTL_TEST_SUBPROCESS") or any(isinstance(a, bytes) for a in command):
        return subprocess.run([sys.executable, "-m", "regctl", *command], capture_output=True, text=True,
                              env=full_env, input=input, cwd=cwd)
    return _in_process(command, full_env, input, cwd)


def _in_process(argv: list, env: dict, input, cwd) -> subprocess.CompletedProcess:
    """``regctl.cli.main.main(argv)`` with its own environment, working directory and standard streams."""
    import io
    import signal

    from regctl.cli.main import main

    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    saved_sigint = signal.getsignal(signal.SIGINT)
    saved_streams = sys.stdin, sys.stdout, sys.stderr
    out, err = io.StringIO(), io.StringIO()
    os.environ.clear()
    os.environ.update(env)
    try:
        if cwd is not None:
            os.chdir(cwd)
        sys.stdin, sys.stdout, sys.stderr = io.StringIO(input or ""), out, err
        try:
            main(argv)
            code = 0
        except SystemExit as exit:
            code = exit.code if isinstance(exit.code, int) else (0 if exit.code is None else 1)
    finally:
        sys.stdin, sys.stdout, sys.stderr = saved_streams
        signal.signal(signal.SIGINT, saved_sigint)
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
    return subprocess.CompletedProcess(["regctl", *argv], code, out.getvalue(), err.getvalue())


def ok(result) -> str:
    """Assert success without a traceback; return stdout."""
    assert result.returncode == 0, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    return result.stdout


def ok_json(*args, store, **kwargs):
    """The parsed ``--json`` output of a successful ``regctl`` call."""
    return json.loads(ok(regctl(*args, "--json", store=store, **kwargs)))


def one_line_failure(result, code: int, *needles: str) -> str:
    """The failure a user must see: exit ``code``, nothing on stdout, exactly one ``regctl:`` line
    on stderr containing each of ``needles``, no traceback. Returns that line."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert result.stdout == "", result.stdout
    assert result.stderr.startswith("regctl: ") and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in result.stderr, (needle, result.stderr)
    return result.stderr


def regctl_own_files(names) -> list:
    """``names`` without regctl's lock files (which exist only while a writer holds them)."""
    return [n for n in names if not str(n).startswith(".regctl%lock%")]


def snapshot(root: Path) -> dict:
    """Every file's bytes and every directory under ``root``, to prove a store unchanged."""
    state = {}
    for parent, _dirs, files in os.walk(root):
        rel = os.path.relpath(parent, root)
        state[rel + "/"] = None
        for name in files:
            path = Path(parent) / name
            mode = os.lstat(path).st_mode
            special = stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
            state[os.path.join(rel, name)] = ("special", stat.S_IFMT(mode)) if special else path.read_bytes()
    return state


def drain_pty(master: int, timeout: float = 20) -> bytes:
    """Everything a process writes to a pseudo-terminal, until it closes its end (then close ours)."""
    import select

    chunks = []
    while True:
        ready, _, _ = select.select([master], [], [], timeout)
        if not ready:
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the other end is closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    return b"".join(chunks)


# ------------------------------------------------------------ nothing outside a test's directory

@pytest.fixture(scope="session", autouse=True)
def _session_working_directory(tmp_path_factory):
    """Session and module fixtures run in an empty directory too (MLflow 3 makes ./mlflow.db for
    some calls that name no store, such as registering a prompt)."""
    saved = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("session-cwd"))
    yield
    os.chdir(saved)


@pytest.fixture(autouse=True)
def _own_working_directory(tmp_path_factory, monkeypatch):
    """Every test runs in an empty directory of its own: a store chosen by the directory rule
    (``./mlruns``, ``./mlflow.db``), or the ``./mlflow.db`` MLflow 3 makes by default, can never
    be the checkout's."""
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))


def _checkout_state() -> "set | None":
    """The checkout's untracked and changed files (git's view), or None outside a git checkout."""
    ignored = (".venv", ".hypothesis", ".pytest_cache", ".mypy_cache", ".ruff_cache", "regctl.egg-info", "build/",
               "bench/stores")
    try:
        done = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=all", "--ignored"],
                              capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    return {line for line in done.stdout.splitlines()
            if not line[3:].startswith(ignored) and "__pycache__" not in line}


def pytest_sessionstart(session):
    if not hasattr(session.config, "workerinput"):  # the controller, once per run
        session.config._checkout_before = _checkout_state()


def pytest_sessionfinish(session, exitstatus):
    before = getattr(session.config, "_checkout_before", None)
    if before is None or hasattr(session.config, "workerinput"):
        return
    after = _checkout_state() or set()
    new = sorted(after - before)
    if new:
        session.config.pluginmanager.get_plugin("terminalreporter").write_line(
            "the suite changed the checkout (a test wrote outside its temporary directory): " + ", ".join(new),
            red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
