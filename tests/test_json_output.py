"""Every ``--json`` output of every subcommand is strict JSON (RFC 8259):
undefined figures are null, never NaN or Infinity."""
import json
import subprocess
import sys

import numpy as np
import pytest

from layerpipe.hw import strict_json


def layerpipe(*args):
    return subprocess.run([sys.executable, "-m", "layerpipe.scripts.cli", *args], capture_output=True, text=True)


def test_strict_parser_refuses_what_python_writes_for_non_finite_numbers():
    for text in ('{"x": NaN}', '{"x": Infinity}', '[-Infinity]'):
        with pytest.raises(ValueError, match="is not JSON"):
            strict_json.loads(text)
    value = {"a": float("nan"), "b": [1.5, float("inf"), np.float64("-inf")], "c": (np.int64(3), None)}
    assert json.dumps({"a": float("nan")}) == '{"a": NaN}'          # what plain json.dumps writes
    assert strict_json.loads(strict_json.dumps(value)) == {"a": None, "b": [1.5, None, None], "c": [3, None]}


COMMANDS = {
    "train": ["train", "--net", "4-8-3", "--dataset", "iris", "--epochs", "2"],
    "train --float": ["train", "--net", "4-8-3", "--dataset", "iris", "--epochs", "2", "--float"],
    "schedule": ["schedule", "--net", "64-32-64-10", "--processors", "5"],
    "schedule --sweep": ["schedule", "--net", "64-32-10", "--sweep", "2..3"],
    "schedule --list": ["schedule", "--list"],
    "generate": ["generate", "--net", "4-8-3", "--mode", "pipedream", "--out", "{tmp}/gen"],
}


@pytest.mark.parametrize("name", COMMANDS)
def test_every_json_output_parses_strictly(name, tmp_path):
    r = layerpipe(*[a.format(tmp=tmp_path) for a in COMMANDS[name]], "--json")
    assert r.returncode == 0, r.stderr
    assert isinstance(strict_json.loads(r.stdout), dict)
    if name == "generate":
        assert strict_json.loads((tmp_path / "gen" / "manifest.json").read_text())["mode"] == "pipedream"


def test_sim_json_of_a_run_too_short_for_a_steady_state_has_null_figures():
    """One sample has no steady state: its cycles per sample are undefined, so null."""
    r = layerpipe("sim", "--net", "4-8-3", "--dataset", "iris", "--samples", "1", "--json")
    assert r.returncode == 0, r.stderr
    out = strict_json.loads(r.stdout)
    assert out["bit_exact"] is True and out["samples"] == 1
    assert out["cycles_per_sample"] is None and out["mac_bound_ratio"] is None
