"""Listings read each version file once, quickly, and still refuse what leads outside the store."""

import os
import subprocess
import sys

from conftest import model_source, ok, regctl, snapshot

MODEL = "iris-classifier"

PROBE = """
import sys
from regctl.cli.main import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
sys.stderr.write("\\nimported yaml: %s\\n" % ("yaml" in sys.modules))
"""


def test_listing_a_model_with_aliases_does_not_import_pyyaml(tmp_path):
    """Its meta.yaml holds ``aliases:`` with indented lines; the fast reader takes it (PyYAML costs ~15 ms)."""
    store = tmp_path / "mlruns"
    source = model_source(tmp_path / "src")
    for _ in range(3):
        ok(regctl("register", source, "--name", "m", store=store))
    ok(regctl("alias", "set", "m", "champion", "3", store=store))
    assert "aliases:\n  champion: '3'\n" in (store / "models" / "m" / "meta.yaml").read_text()
    for args in (["versions", "m"], ["models"], ["versions", "m", "--json"], ["versions", "m", "--limit", "1"]):
        done = subprocess.run([sys.executable, "-c", PROBE, "--store", str(store), *args],
                              capture_output=True, text=True)
        assert "champion" in done.stdout and "imported yaml: False" in done.stderr, (args, done.stderr)


def _outside_copy(store3, tmp_path, version):
    meta = store3 / "models" / MODEL / f"version-{version}" / "meta.yaml"
    outside = tmp_path / "outside-meta.yaml"
    outside.write_bytes(meta.read_bytes())
    return meta, outside


def _refused(result, *needles):
    """A listing skips the damaged version, shows the rest and says what it skipped (exit 4)."""
    assert result.returncode == 4, (result.returncode, result.stdout, result.stderr)
    assert result.stderr.startswith("regctl: ") and result.stderr.count("\n") == 1, result.stderr
    for needle in needles:
        assert needle in result.stderr, (needle, result.stderr)
    assert not any(line.split("\t")[0] == "2" for line in result.stdout.splitlines()), result.stdout


def test_a_version_file_linked_outside_the_store_is_refused_by_listings(store3, tmp_path):
    meta, outside = _outside_copy(store3, tmp_path, 2)
    meta.unlink()
    meta.symlink_to(outside)
    before = snapshot(store3)
    for args in (["versions", MODEL], ["versions", MODEL, "--limit", "5"]):
        _refused(regctl(*args, store=store3), "symbolic link leading outside the store", "version-2")
    assert snapshot(store3) == before


def test_a_version_directory_linked_outside_the_store_is_refused_by_listings(store3, tmp_path):
    version_dir = store3 / "models" / MODEL / "version-2"
    moved = tmp_path / "elsewhere"
    os.rename(version_dir, moved)
    version_dir.symlink_to(moved, target_is_directory=True)
    before = snapshot(store3)
    _refused(regctl("versions", MODEL, store=store3), "symbolic link leading outside the store", "version-2")
    assert snapshot(store3) == before


def test_a_version_file_linked_inside_the_store_is_read_as_before(store3):
    meta = store3 / "models" / MODEL / "version-2" / "meta.yaml"
    kept = store3 / "models" / MODEL / "version-2" / "kept.yaml"
    os.rename(meta, kept)
    meta.symlink_to(kept.name)
    out = regctl("versions", MODEL, "--json", store=store3)
    assert out.returncode == 0, out.stderr
    assert "\"version\": 2" in out.stdout
