"""``featurestore apply / list / describe`` and definition files (Python and YAML)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

from featurestore import DefinitionError
from featurestore.cli.main import main
from featurestore.registry.loader import load_definitions, parse_ttl

if TYPE_CHECKING:
    from pathlib import Path

    from featurestore.store import FeatureStore

YAML_DEFS = """
entities:
  - {{name: user, join_keys: [user_id], description: A customer}}
feature_views:
  - name: user_spend
    entities: [user]
    table: {table}
    ttl: 7d
    owner: risk-team
    tags: {{team: risk}}
    features:
      - {{name: spend_7d, dtype: float64}}
      - {{name: n_orders, dtype: int64}}
"""

PY_DEFS = """
from datetime import timedelta
from featurestore import Entity, Feature, FeatureView

user = Entity(name="user", join_keys=["user_id"])
views = [
    FeatureView(name="user_spend", entities=["user"], table="features.user_spend",
                ttl=timedelta(hours=12), features=[Feature(name="spend_7d", dtype="float64")]),
]
_private = Entity(name="hidden")
"""


@pytest.fixture
def cli_env(store: FeatureStore, monkeypatch: pytest.MonkeyPatch) -> FeatureStore:
    """Point the CLI (which connects from file/env) at the test's store."""
    config = store.config
    monkeypatch.setenv("FEATURESTORE_NAMESPACE", config.namespace)
    if config.is_embedded:
        monkeypatch.setenv("FEATURESTORE_HOME", str(config.home))
    else:
        for key, value in config.catalog.items():
            env_key = "__".join(p.upper().replace("-", "_") for p in key.split("."))
            monkeypatch.setenv(f"FEATURESTORE_CATALOG__{env_key}", value)
    return store


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_yaml_file_loads_with_ttl_shorthand(tmp_path: Path) -> None:
    file = tmp_path / "defs.yaml"
    file.write_text(YAML_DEFS.format(table="features.user_spend"))
    user, view = load_definitions(file)
    assert user.name == "user"
    assert view.ttl == timedelta(days=7)
    assert view.tags == {"team": "risk"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7d", timedelta(days=7)),
        ("12h", timedelta(hours=12)),
        ("30m", timedelta(minutes=30)),
        ("2w", timedelta(weeks=2)),
        ("45s", timedelta(seconds=45)),
    ],
)
def test_parse_ttl(text: str, expected: timedelta) -> None:
    assert parse_ttl(text) == expected


def test_yaml_ttl_iso_and_seconds(tmp_path: Path) -> None:
    file = tmp_path / "defs.yaml"
    text = YAML_DEFS.format(table="f.t")
    file.write_text(text.replace("ttl: 7d", "ttl: PT12H"))
    assert load_definitions(file)[1].ttl == timedelta(hours=12)
    file.write_text(text.replace("ttl: 7d", "ttl: 3600"))
    assert load_definitions(file)[1].ttl == timedelta(hours=1)


def test_python_file_collects_module_level_objects(tmp_path: Path) -> None:
    file = tmp_path / "defs.py"
    file.write_text(PY_DEFS)
    assert [o.name for o in load_definitions(file)] == ["user", "user_spend"]


def test_folder_loads_every_file(tmp_path: Path) -> None:
    (tmp_path / "a_entities.yaml").write_text("entities:\n  - {name: user}\n")
    (tmp_path / "b_views.py").write_text(PY_DEFS)
    (tmp_path / "notes.txt").write_text("ignored")
    assert [o.name for o in load_definitions(tmp_path)] == ["user", "user", "user_spend"]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bad.yaml", "entities: [{name: 'drop table;--'}]", r"entities\[0\]: Invalid entity name"),
        ("bad.yaml", "views: []", "must be a mapping with the keys 'entities'"),
        ("bad.yaml", "entities: [{name: u, colour: red}]", "colour: Extra inputs"),
        ("bad.yaml", "feature_views: [{name: v, ttl: -1d}]", r"feature_views\[0\]"),
        ("bad.yaml", "entities: [oops", "Cannot read definition file"),
        ("bad.yaml", "1: x\nentities: []", r"got \['1', 'entities'\]"),
        (
            "bad.yaml",
            "feature_views: [{name: v, entities: [u], table: f.v, ttl: 99999999999d}]",
            r"Invalid ttl '99999999999d': at most 999999999 days",
        ),
        ("bad.py", "raise RuntimeError('boom')", "failed: RuntimeError: boom"),
        ("bad.py", "x = 1", "defines no Entity or FeatureView"),
        ("bad.txt", "x", "use a .py, .yaml or .yml file"),
    ],
)
def test_bad_definition_files(tmp_path: Path, name: str, content: str, message: str) -> None:
    file = tmp_path / name
    file.write_text(content)
    with pytest.raises(DefinitionError, match=message):
        load_definitions(file)


def test_cli_apply_list_describe(
    cli_env: FeatureStore, feature_ns: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import pyarrow as pa

    table_name = f"{feature_ns}.user_spend"
    file = tmp_path / "defs.yaml"
    file.write_text(YAML_DEFS.format(table=table_name))
    code, out, err = run(capsys, "apply", str(file))
    assert (code, err) == (0, "")
    assert "user_spend  created" in out
    assert "registry snapshot:" in out
    code, out, _ = run(capsys, "apply", str(file), "--json")
    assert json.loads(out)["unchanged"] == ["user", "user_spend"]

    code, out, _ = run(capsys, "list")
    assert code == 0
    assert out.splitlines()[0].split() == [
        "kind",
        "name",
        "keys",
        "table",
        "features",
        "owner",
        "description",
    ]
    assert any(line.startswith("feature_view  user_spend") for line in out.splitlines())
    code, out, _ = run(capsys, "list", "--tag", "team=risk", "--json")
    assert [r["name"] for r in json.loads(out)] == ["user_spend"]
    code, out, _ = run(capsys, "list", "--owner", "nobody", "--json")
    assert json.loads(out) == []

    schema = pa.schema(
        [
            ("user_id", pa.int64()),
            ("event_timestamp", pa.timestamp("us", tz="UTC")),
            ("spend_7d", pa.float64()),
            ("n_orders", pa.int64()),
        ]
    )
    table = cli_env.catalog.create_table(table_name, schema=schema)
    newest = datetime(2024, 3, 1, 12, tzinfo=UTC)
    for stamps in ([datetime(2024, 1, 1, tzinfo=UTC), newest], [datetime(2024, 2, 1, tzinfo=UTC)]):
        n = len(stamps)
        table.append(
            pa.table(
                {
                    "user_id": list(range(n)),
                    "event_timestamp": stamps,
                    "spend_7d": [1.0] * n,
                    "n_orders": [1] * n,
                },
                schema=schema,
            )
        )
    code, out, _ = run(capsys, "describe", "user_spend", "--json")
    info: dict[str, Any] = json.loads(out)
    assert code == 0
    assert info["table_exists"] is True
    assert info["row_count"] == 3
    assert (
        info["snapshot_id"] == cli_env.catalog.load_table(table_name).current_snapshot().snapshot_id
    )
    assert info["newest_event_timestamp"] == newest.isoformat()
    assert info["join_keys"] == ["user_id"]
    assert info["version"] == 1
    assert info["definition"]["features"][0]["name"] == "spend_7d"
    code, out, _ = run(capsys, "describe", "user_spend")
    assert "row_count: 3" in out
    assert "owner: risk-team" in out


def test_cli_errors_exit_1(
    cli_env: FeatureStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "defs.yaml"
    file.write_text(YAML_DEFS.format(table="features.user_spend"))
    assert run(capsys, "apply", str(file))[0] == 0
    code, _, err = run(capsys, "describe", "user_spnd")
    assert code == 1
    assert err.strip() == "Error: Unknown feature view 'user_spnd'. Did you mean 'user_spend'?"
    bad = tmp_path / "bad.yaml"
    bad.write_text("entities: [{name: 'drop table;--'}]")
    code, _, err = run(capsys, "apply", str(bad))
    assert code == 1
    assert "Invalid entity name 'drop table;--'" in err
    assert "Traceback" not in err
    code, _, err = run(capsys, "apply", str(tmp_path / "missing.yaml"))
    assert code == 1
    assert "does not exist" in err
