"""``calibrate`` command module: its options, and a bad target refused by name."""

from __future__ import annotations

import pytest

from enrichment.cli import calibrate
from enrichment.config import ConfigError
from tests.unit.cli.parser import help_of, run

pytestmark = pytest.mark.unit


def test_help_names_the_manifest_and_output(capsys):
    text = help_of(calibrate, ["calibrate"], capsys)
    assert "--manifest" in text and "--output" in text and "--no-clip" in text


def test_an_impossible_target_precision_is_refused(tmp_path):
    manifest = tmp_path / "m.csv"
    manifest.write_text("sku,image,title,description\n")
    with pytest.raises(ConfigError, match="--target-precision"):
        run(calibrate, ["calibrate", "--manifest", str(manifest), "--output", str(tmp_path / "c"),
                        "--labels", str(manifest), "--target-precision", "1.5"])  # fmt: skip
