"""``cnnexplorer diff`` as a user runs it: JSON schema, table, one-line errors."""

import json

import pytest

from cnnexplorer.diff import STATUSES
from tests.conftest import assert_usage_error, run_cli

SIDE_KEYS = {"path", "type", "output_shape", "params", "macs"}
ROW_KEYS = {"status", "depth", "is_leaf", "changed", "changes", "left", "right", "delta"}
TOTALS = {"params", "macs", "activation_bytes", "weight_layers"}


def run(*args, env=None):
    return run_cli("diff", *args, env=env)


@pytest.fixture(scope="module")
def alexnet_json():
    result = run("alexnet", "alexnet-2012", "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_json_document_has_the_documented_keys(alexnet_json):
    doc = alexnet_json
    assert doc["schema"] == 1
    assert doc["left"] == {"model": "alexnet", "input": [3, 224, 224]}
    assert doc["right"] == {"model": "alexnet-2012", "input": [3, 227, 227]}
    assert doc["batch"] == 1 and doc["dtype"] == "float32"
    assert set(doc["totals"]) == TOTALS
    assert set(doc["leaf_counts"]) == set(STATUSES)
    for row in doc["rows"]:
        assert set(row) == ROW_KEYS
        assert row["status"] in STATUSES
        for side in ("left", "right"):
            assert row[side] is None or set(row[side]) == SIDE_KEYS


def test_json_rows_null_the_missing_side_and_carry_right_minus_left(alexnet_json):
    for row in alexnet_json["rows"]:
        assert (row["left"] is None) == (row["status"] == "added")
        assert (row["right"] is None) == (row["status"] == "removed")
        assert (row["changed"] == []) == (row["status"] in ("same", "added", "removed"))
        assert row["changed"] == list(row["changes"])
        for figure in ("params", "macs"):
            left = row["left"][figure] if row["left"] else 0
            right = row["right"][figure] if row["right"] else 0
            assert row["delta"][figure] == right - left


def test_json_totals_and_counts_agree_with_the_rows(alexnet_json):
    doc = alexnet_json
    for total in doc["totals"].values():
        assert total["delta"] == total["right"] - total["left"]
    assert doc["totals"]["params"]["left"] == 61_100_840  # torchvision's AlexNet
    top = [row for row in doc["rows"] if row["depth"] == 1]
    assert sum(row["delta"]["params"] for row in top) == doc["totals"]["params"]["delta"]
    leaves = [row for row in doc["rows"] if row["is_leaf"]]
    assert doc["leaf_counts"] == {s: sum(row["status"] == s for row in leaves) for s in STATUSES}


def test_json_changes_hold_both_values(alexnet_json):
    conv1 = next(row for row in alexnet_json["rows"] if row["right"] and row["right"]["path"] == "features.conv1")
    assert conv1["status"] == "changed"
    assert conv1["changes"]["out_channels"] == [64, 96]
    assert conv1["left"]["path"] == "features.0" and conv1["left"]["output_shape"] == [1, 64, 55, 55]


def test_json_only_diff_drops_the_same_rows():
    result = run("vgg16", "vgg19", "--format", "json", "--only-diff")
    rows = json.loads(result.stdout)["rows"]
    assert [row["status"] for row in rows] == ["changed"] + ["added"] * 6
    assert [row["right"]["type"] for row in rows[1:]] == ["Conv2d", "ReLU"] * 3


def test_table_reads_without_colour_in_80_columns():
    result = run("alexnet", "alexnet-2012", env={"NO_COLOR": "1"})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "\x1b[" not in result.stdout
    assert any(line.startswith("~") and "features" in line and "children 13→15" in line for line in lines)
    assert any(line.startswith("+") and "LocalResponse" in line for line in lines)
    assert any(line.startswith("-") and "avgpool" in line for line in lines)


def test_markdown_has_both_sides_paths():
    result = run("resnet18", "resnet34", "--format", "md", "--only-diff")
    assert result.returncode == 0, result.stderr
    assert "| `+` |" in result.stdout and "`layer3.5`" in result.stdout
    assert "| `~` |" in result.stdout and "`layer1`" in result.stdout


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["vgg17", "vgg19"], "vgg16"),
        (["vgg16", "resnet51"], "resnet50"),
        (["alexnet", "alexnet-2012", "--input", "63"], "right (alexnet-2012)"),
        (["alexnet-2012", "alexnet", "--input", "63"], "left (alexnet-2012)"),
        (["alexnet", "vgg16", "--input", "3x2a"], "CxHxW"),
        (["alexnet", "vgg16", "--batch", "0"], "batch"),
        (["alexnet", "vgg16", "--depth", "0"], "depth"),
        (["alexnet", "vgg16", "--format", "csv"], "invalid choice"),
        (["alexnet"], "required"),
    ],
)
def test_bad_input_gives_one_line_and_exit_code_2(args, needle):
    result = run(*args)
    assert_usage_error(result, needle)
    assert result.stdout == ""


def test_an_input_one_side_cannot_take_names_the_layer():
    result = run("alexnet", "alexnet-2012", "--input", "63")
    assert "features.pool3" in result.stderr and "--input" in result.stderr
