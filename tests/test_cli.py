"""The command line as a user runs it: real subprocesses, exit codes, one-line errors."""

import json

import pytest

from tests.conftest import assert_usage_error, run_cli

run = run_cli


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["summary", "resnet51"], "resnet50"),
        (["summary", "resnet18", "--input", "3x22a"], "CxHxW"),
        (["summary", "resnet18", "--batch", "0"], "batch"),
        (["summary", "resnet18", "--batch", "-2"], "batch"),
        (["summary", "resnet18", "--dtype", "float64"], "float64"),
        (["summary", "alexnet-2012", "--input", "3x32x32"], "features.pool2"),
        (["summary", "resnet18", "--format", "xml"], "invalid choice"),
        (["summary", "resnet18", "--batch", "many"], "invalid int"),
        (["summary", "resnet18", "--depth", "-1"], "depth"),
        (["kernels", "--kernel", "4"], "kernel"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_input_gives_one_line_and_exit_code_2(args, needle):
    assert_usage_error(run(*args), needle)


def test_summary_table_fits_80_columns_at_the_default_depth():
    for name in ("resnet50", "densenet121", "googlenet"):
        result = run("summary", name)
        assert result.returncode == 0, result.stderr
        widths = [len(line) for line in result.stdout.splitlines()]
        assert max(widths) <= 80, name
        assert "FLOPs = 2 x MACs" in result.stdout


def test_summary_json_is_the_documented_document():
    result = run("summary", "vgg16", "--format", "json", "--input", "3x32x32", "--batch", "4")
    document = json.loads(result.stdout)
    assert document["schema"] == 1
    assert document["model"] == "vgg16" and document["input"] == [3, 32, 32] and document["batch"] == 4
    assert set(document["totals"]) >= {"params", "trainable_params", "macs", "flops", "param_bytes"}
    assert document["totals"]["flops"] == 2 * document["totals"]["macs"]
    layer_keys = {"path", "type", "depth", "input_shape", "output_shape", "params", "macs", "flops",
                  "activation_bytes", "receptive_field", "jump", "kernel_size", "stride", "padding"}  # fmt: skip
    assert all(layer_keys <= set(layer) for layer in document["layers"])
    convs = [layer for layer in document["layers"] if layer["type"] == "Conv2d"]
    assert len(convs) == 13
    assert convs[0]["output_shape"] == [4, 64, 32, 32] and convs[0]["kernel_size"] == [3, 3]
    assert document["layers"][0]["path"] == "features"
    assert document["memory_estimate"]["training_bytes"]["adam"] > document["memory_estimate"]["inference_bytes"]
    assert document["published"]["num_params"] == document["totals"]["params"]
    assert document["totals"]["param_bytes_by_dtype"] == {
        "float32": 4 * document["totals"]["params"], "bfloat16": 2 * document["totals"]["params"],
        "float16": 2 * document["totals"]["params"],
    }  # fmt: skip
    assert sum(layer["macs_share"] for layer in document["layers"] if layer["depth"] == 1) == pytest.approx(1.0)


def test_summary_csv_and_markdown():
    csv_out = run("summary", "resnet20", "--format", "csv", "--depth", "1").stdout.splitlines()
    assert csv_out[0].startswith("path,type,depth,input_shape,output_shape")
    assert csv_out[1].startswith("conv1,Conv2d,1,1x3x32x32,1x16x32x32,3x3,1x1,1x1,1,432,")
    md = run("summary", "resnet20", "--format", "md", "--depth", "1").stdout
    assert "| layer | type | output | params | MACs | MACs% | RF |" in md


def test_course_preset_for_alexnet_2012():
    result = run("summary", "alexnet-2012", "--format", "course")
    assert result.returncode == 0
    assert (
        "| conv1 | Conv2d | 227x227x3 | 11x11 | 96 | 4 | 0 | 55x55x96 | 34,944 | 1.11 | 105.4M | 210.8M | ReLU |"
        in result.stdout
    )


def test_kernels_command():
    result = run("kernels", "--channels", "16", "--size", "8", "--kernel", "7")
    assert result.returncode == 0
    assert "45% fewer params and FLOPs" in result.stdout


def test_list_covers_the_zoo():
    from cnnexplorer import zoo

    rows = json.loads(run("list", "--format", "json").stdout)
    assert [row["name"] for row in rows] == zoo.names()
    vgg16 = next(row for row in rows if row["name"] == "vgg16")
    assert vgg16["params"] == 138_357_544 and vgg16["acc5"] == pytest.approx(90.382)
    assert next(row for row in rows if row["name"] == "wrn-28-10")["acc1"] is None


def test_help_explains_units():
    result = run("--help")
    assert result.returncode == 0
    assert "FLOPs = 2 x MACs" in result.stdout


def test_list_table_shows_every_name_whole_in_80_columns():
    from cnnexplorer import zoo

    result = run("list")
    assert result.returncode == 0
    assert "…" not in result.stdout
    names = {line.split()[0] for line in result.stdout.splitlines() if line.strip()}
    assert set(zoo.names()) <= names
