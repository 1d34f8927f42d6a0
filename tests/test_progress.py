"""``progressbar.progress``: a Rich bar on a terminal, nothing at all otherwise."""

import io
import sys

from regctl.cli import progressbar


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_is_silent_off_a_terminal(monkeypatch):
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    with progressbar.progress(10, "copying") as update:
        update(5, 10)
        update(10, 10)
    assert err.getvalue() == ""


def test_progress_draws_a_bar_on_a_terminal(monkeypatch):
    err = Terminal()
    monkeypatch.setattr(sys, "stderr", err)
    monkeypatch.setenv("NO_COLOR", "1")
    with progressbar.progress(None, "copying") as update:
        update(3, 10)
        update(10, 10)
    assert "copying" in err.getvalue()


def test_download_reports_progress_to_the_callback(store3, tmp_path):
    from regctl import Registry

    calls = []
    Registry(str(store3)).download("models:/iris-classifier/1", str(tmp_path / "d"),
                                   progress=lambda done, total: calls.append((done, total)))
    assert calls and calls[-1][0] == calls[-1][1] > 0
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)
    searched = []
    Registry(str(store3)).search_versions(progress=lambda done, total: searched.append((done, total)))
    assert searched[-1] == (2, 2)


def test_a_download_bar_shows_sizes_in_human_units(monkeypatch):
    err = Terminal()
    monkeypatch.setattr(sys, "stderr", err)
    monkeypatch.setenv("NO_COLOR", "1")
    with progressbar.progress(None, "downloading", unit="bytes") as update:
        update(14535, 400014535)
    shown = err.getvalue()
    assert "400014535" not in shown and "14535/" not in shown
    assert "400.0 MB" in shown or "0.0/400.0 MB" in shown


def test_a_download_bar_counts_files_done_of_total(store3, tmp_path, monkeypatch):
    from regctl import Registry

    err = Terminal()
    monkeypatch.setattr(sys, "stderr", err)
    monkeypatch.setenv("NO_COLOR", "1")
    with progressbar.progress(None, "downloading", unit="bytes") as update:
        result = Registry(str(store3)).download("models:/iris-classifier/1", str(tmp_path / "d"), progress=update)
    assert f"{result.files}/{result.files} files" in err.getvalue()
