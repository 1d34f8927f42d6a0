"""YAML as MLflow writes it: PyYAML's safe dumper, block style, sorted keys, unicode kept.

libyaml's C loader and dumper are used when PyYAML was built with them; the
pure-Python ones produce the same bytes and are the fallback.
"""

import yaml

try:
    from yaml import CSafeDumper as SafeDumper
    from yaml import CSafeLoader as SafeLoader
except ImportError:  # PyYAML without libyaml
    from yaml import SafeDumper, SafeLoader

YAMLError = yaml.YAMLError


def loads(text: str):
    """Parse YAML text with the safe loader (YAML 1.1 rules, as MLflow reads)."""
    return yaml.load(text, Loader=SafeLoader)


def dumps(data) -> str:
    """Serialise a mapping exactly as MLflow's file store does."""
    return yaml.dump(
        data,
        Dumper=SafeDumper,
        default_flow_style=False,
        allow_unicode=True,
        sort_keys=True,
    )


def use_pure_python() -> None:
    """Switch to the pure-Python loader and dumper (used to test the fallback)."""
    global SafeDumper, SafeLoader
    SafeDumper, SafeLoader = yaml.SafeDumper, yaml.SafeLoader
