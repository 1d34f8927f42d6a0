"""A password inside a URL is never shown: not in an error line, whichever variable or option
named the URL, and not in a traceback."""

import pytest
from conftest import regctl

SECRET = "s3cret-pw"


@pytest.mark.parametrize("store", [
    f"http://ada:{SECRET}@127.0.0.1:99999",     # a port out of range
    f"http://ada:{SECRET}@[::1",                # an unclosed IPv6 bracket
    f"https://ada:{SECRET}@host:abc/",          # a port that is no number
    f"sqlite://ada:{SECRET}@host/x.db",         # a host in a sqlite: URI
    f"postgresql://ada:{SECRET}@db/mlflow",     # a store regctl cannot serve
])
def test_a_password_in_a_store_url_is_never_shown(store):
    for result in (regctl("models", store=store), regctl("models", env={"MLFLOW_TRACKING_URI": store}),
                   regctl("models", env={"REGCTL_STORE": store}), regctl("--traceback", "models", store=store)):
        assert result.returncode != 0 and SECRET not in result.stderr + result.stdout, result
        assert "ada:***@" in result.stderr or "ada" not in result.stderr, result.stderr


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "HTTPS_PROXY", "http_proxy"])
def test_a_password_in_a_proxy_url_is_never_shown(variable):
    store = "http://127.0.0.1:9" if "HTTP_" in variable.upper() and "S" not in variable.upper()[4:5] else "https://127.0.0.1:9"
    result = regctl("models", store=store, env={variable: f"http://ada:{SECRET}@proxy:99999",
                                                "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"})
    assert result.returncode != 0 and SECRET not in result.stderr, result.stderr


@pytest.mark.parametrize("password", ["p@ss-s3cret", "p'ss-s3cret", "pa ss-s3cret", "p@ss'wo rd-s3cret"])
def test_a_password_holding_an_at_sign_a_quote_or_a_space_is_hidden_whole(password):
    """The password runs to the last '@' of the URL's authority, not the first: no tail of it is shown."""
    url = f"http://ada:{password}@host:abc"
    runs = [regctl("models", store=url), regctl("models", env={"MLFLOW_TRACKING_URI": url}),
            regctl("--traceback", "models", store=url),
            regctl("models", store="http://127.0.0.1:9", env={"HTTP_PROXY": url, "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"})]
    for result in runs:
        assert result.returncode != 0 and "s3cret" not in result.stderr + result.stdout, result.stderr
        assert "ada:***@host:abc" in result.stderr, result.stderr


@pytest.mark.parametrize("text, shown", [
    ("http://user:p@ssw0rd@h:bad", "http://user:***@h:bad"),
    ("invalid 'http://user:pa ss@h:bad': x", "invalid 'http://user:***@h:bad': x"),
    ("('http://u:p@h', 'a@b')", "('http://u:***@h', 'a@b')"),
    ("a http://u:p@h and https://c:d@e/f@g x@y", "a http://u:***@h and https://c:***@e/f@g x@y"),
    ("http://u:p@h/a@b?c@d", "http://u:***@h/a@b?c@d"),
    ("http://h:80/x@y", "http://h:80/x@y"),                       # a port and a path, no password
    ("'http://h:5000 is down, ask me@x.com'", "'http://h:5000 is down, ask me@x.com'"),
])
def test_redaction_hides_the_whole_password_and_nothing_else(text, shown):
    from regctl.core.locations import redact_credentials

    assert redact_credentials(text) == shown


@pytest.mark.parametrize("proxy, named", [
    ("http://127.0.0.1:1", "through the proxy 127.0.0.1:1: connection refused"),
    ("ada:s3cret@nonexistent.invalid:3128", "through the proxy nonexistent.invalid:3128: unknown host 'nonexistent.invalid'"),
])
def test_a_proxy_that_cannot_be_reached_is_named_not_the_server(proxy, named):
    result = regctl("models", store="http://127.0.0.1:9", env={"HTTP_PROXY": proxy, "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"})
    assert result.returncode == 5 and result.stderr.count("\n") == 1, result.stderr
    assert named in result.stderr and "s3cret" not in result.stderr, result.stderr
