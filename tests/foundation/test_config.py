"""Configuration precedence: defaults < featurestore.yaml < FEATURESTORE_* env < arguments."""

from __future__ import annotations

from pathlib import Path

import pytest

import featurestore
from featurestore.config import load_config, mask_secrets
from featurestore.errors import ConfigError


def write_yaml(folder: Path, text: str) -> Path:
    path = folder / "featurestore.yaml"
    path.write_text(text)
    return path


def test_defaults_are_the_embedded_catalog(tmp_path: Path) -> None:
    config = load_config(environ={}, cwd=tmp_path)
    assert config.is_embedded
    props = config.catalog_properties()
    assert props["type"] == "sql"
    assert props["uri"].startswith("sqlite:///")
    assert props["uri"].endswith("catalog.db")
    assert props["warehouse"].startswith("file:///")
    assert config.namespace == "featurestore"
    assert config.sources == ("defaults",)


def test_file_overrides_defaults_and_env_overrides_file(tmp_path: Path) -> None:
    write_yaml(tmp_path, "namespace: from_file\ncatalog:\n  type: rest\n  uri: http://file:8181\n")
    config = load_config(environ={}, cwd=tmp_path)
    assert config.namespace == "from_file"
    assert config.catalog == {"type": "rest", "uri": "http://file:8181"}

    env = {"FEATURESTORE_NAMESPACE": "from_env", "FEATURESTORE_CATALOG__URI": "http://env:8181"}
    config = load_config(environ=env, cwd=tmp_path)
    assert config.namespace == "from_env"
    assert config.catalog == {"type": "rest", "uri": "http://env:8181"}

    config = load_config({"namespace": "from_kwargs"}, environ=env, cwd=tmp_path)
    assert config.namespace == "from_kwargs"
    assert config.sources[-1] == "connect() arguments"


def test_env_names_follow_pyiceberg_convention() -> None:
    env = {
        "FEATURESTORE_CATALOG__TYPE": "rest",
        "FEATURESTORE_CATALOG__S3__ACCESS_KEY_ID": "AK",
        "FEATURESTORE_ENGINE__THREADS": "3",
    }
    config = load_config(environ=env, cwd=Path("/nonexistent"))
    assert config.catalog == {"type": "rest", "s3.access-key-id": "AK"}
    assert config.engine.threads == 3


def test_explicit_catalog_of_another_type_replaces_the_file_catalog(tmp_path: Path) -> None:
    write_yaml(tmp_path, "catalog:\n  type: rest\n  uri: http://x\n  token: t\n")
    config = load_config(
        {"catalog": {"type": "sql", "uri": "sqlite:///y.db"}}, environ={}, cwd=tmp_path
    )
    assert config.catalog == {"type": "sql", "uri": "sqlite:///y.db"}


def test_featurestore_config_names_the_file(tmp_path: Path) -> None:
    other = tmp_path / "elsewhere"
    other.mkdir()
    path = write_yaml(other, "namespace: named\nhome: relative_home\n")
    config = load_config(environ={"FEATURESTORE_CONFIG": str(path)}, cwd=tmp_path)
    assert config.namespace == "named"
    assert config.home == other / "relative_home"  # relative to the file, not the cwd


def test_missing_named_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"FEATURESTORE_CONFIG names .*missing\.yaml"):
        load_config(environ={"FEATURESTORE_CONFIG": str(tmp_path / "missing.yaml")})


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("namespace: [unclosed", "Cannot read configuration file"),
        ("- a\n- b\n", "must hold a mapping"),
        ("unknown_key: 1\n", "unknown_key"),
        ("namespace: 'bad name;'\n", "Invalid namespace 'bad name;'"),
        ("engine:\n  threads: 0\n", "engine.threads"),
    ],
)
def test_invalid_files_name_the_problem(tmp_path: Path, text: str, match: str) -> None:
    write_yaml(tmp_path, text)
    with pytest.raises(ConfigError, match=match):
        load_config(environ={}, cwd=tmp_path)


def test_secrets_are_masked_in_repr_and_masked() -> None:
    config = load_config(
        {
            "catalog": {
                "type": "rest",
                "uri": "http://x",
                "token": "s3cr3t",
                "credential": "id:s3cr3t",
                "s3.secret-access-key": "s3cr3t",
            }
        },
        environ={},
    )
    assert "s3cr3t" not in repr(config)
    assert "s3cr3t" not in str(config.masked())
    assert config.masked()["catalog"]["uri"] == "http://x"
    assert config.catalog["token"] == "s3cr3t"  # still passed through to PyIceberg


def test_mask_secrets_keeps_non_secrets() -> None:
    masked = mask_secrets({"warehouse": "s3://w", "s3.access-key-id": "AK", "password": "p"})
    assert masked == {"warehouse": "s3://w", "s3.access-key-id": "AK", "password": "********"}


def test_connect_reads_cwd_file(tmp_path: Path) -> None:
    write_yaml(tmp_path, "namespace: via_yaml\n")
    store = featurestore.connect()
    assert store.namespace == "via_yaml"
    assert "via_yaml" in repr(store)


def test_connect_env_beats_file_and_kwargs_beat_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_yaml(tmp_path, "namespace: via_yaml\n")
    monkeypatch.setenv("FEATURESTORE_NAMESPACE", "via_env")
    assert featurestore.connect().namespace == "via_env"
    assert featurestore.connect(namespace="via_kwarg").namespace == "via_kwarg"


def test_passwords_inside_uris_are_masked_everywhere(tmp_path: Path) -> None:
    uri = "postgresql+psycopg2://alice:S3cretPW@127.0.0.1:1/cat"
    store = featurestore.connect(
        catalog={"type": "sql", "uri": uri, "warehouse": tmp_path.as_uri()}
    )
    assert "S3cretPW" not in repr(store)
    assert "S3cretPW" not in repr(store.config)
    assert "S3cretPW" not in str(store.config.masked())
    assert "alice:********@" in str(store.config.masked())


def test_unreachable_rest_error_does_not_print_the_password() -> None:
    store = featurestore.connect(catalog={"type": "rest", "uri": "http://u:tok3n@127.0.0.1:9"})
    info = store.info()
    assert info["reachable"] is False
    assert "tok3n" not in str(info)


def test_connect_rejects_zero_threads_instead_of_ignoring_them() -> None:
    with pytest.raises(ConfigError, match=r"engine\.threads"):
        featurestore.connect(threads=0)
