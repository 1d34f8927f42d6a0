"""``regctl alias set|delete|rollback|list`` on every kind of store (file, SQLite, a live server):
the same answers, messages and exit codes."""


def registered(store, count: int = 2) -> str:
    """The test's model with ``count`` versions; returns its name."""
    for _ in range(count):
        store.ok("register", store.model_dir(), "--name", store.name)
    return store.name


def test_a_rerun_alias_set_with_expect_none_is_a_no_op(any_store):
    name = registered(any_store)
    any_store.ok("alias", "set", name, "champion", "1", "--expect", "none")
    again = any_store.run("alias", "set", name, "champion", "1", "--expect", "none")
    assert again.returncode == 0 and again.stdout == "", again
    assert again.stderr == "champion: already 1, nothing changed\n"
    assert any_store.json("alias", "list", name) == {"champion": 1}


def test_expect_still_guards_a_move(any_store):
    name = registered(any_store)
    any_store.ok("alias", "set", name, "champion", "1")
    line = any_store.fails(3, "alias", "set", name, "champion", "2", "--expect", "none")
    assert line == f"regctl: alias 'champion' of '{name}' points at 1, expected none; not changed\n"
    assert any_store.json("alias", "list", name) == {"champion": 1}


def test_rollback_without_a_recorded_change_says_so_alike(any_store):
    name = registered(any_store, 1)
    line = any_store.fails(1, "alias", "rollback", name, "champion")
    assert line.startswith(f"regctl: no recorded change of alias 'champion' of '{name}' to roll back")


def test_rollback_undoes_a_move_and_a_delete_alike(any_store):
    name = registered(any_store)
    any_store.ok("alias", "set", name, "champion", "1")
    any_store.ok("alias", "set", name, "champion", "2")
    assert any_store.run("alias", "rollback", name, "champion").stderr == "champion: 2 -> 1\n"
    any_store.ok("alias", "delete", name, "champion")
    assert any_store.run("alias", "rollback", name, "champion").stderr == "champion: (none) -> 1\n"
    assert any_store.json("alias", "list", name) == {"champion": 1}


def test_a_mistyped_alias_gets_did_you_mean_on_every_store(any_store):
    name = registered(any_store, 1)
    any_store.ok("alias", "set", name, "champion", "1")
    for args in (("resolve", f"models:/{name}@champio"), ("describe", name, "--alias", "champio"),
                 ("tag", name, "--version", "@champio", "k=v")):
        line = any_store.fails(1, *args)
        assert line == f"regctl: alias 'champio' of model '{name}' not found; did you mean 'champion'?\n", args


def test_a_mistyped_model_gets_did_you_mean_on_every_store(any_store):
    name = registered(any_store, 1)
    typo = name[:-1]
    for args in (("resolve", f"models:/{typo}/1"), ("describe", typo), ("versions", typo),
                 ("alias", "set", typo, "champion", "1")):
        line = any_store.fails(1, *args)
        assert line.startswith(f"regctl: registered model '{typo}' not found; did you mean '"), (args, line)
