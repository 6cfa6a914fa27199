"""The step time measured before training: the model of the configuration, on random faces."""

from __future__ import annotations

from dataclasses import replace

import pytest

from facetransfer.errors import ConfigError
from facetransfer.presets import get_preset
from facetransfer.train import RunConfig
from facetransfer.train.timing import measure_seconds_per_step

TINY = get_preset("tiny")


def test_the_tiny_model_measures_a_short_positive_step() -> None:
    seconds = measure_seconds_per_step(RunConfig(TINY.model, replace(TINY.train, batch_size=2)), repeats=1)
    assert 0.0 < seconds < 5.0


def test_the_configured_architecture_is_the_one_measured() -> None:
    with pytest.raises(ConfigError, match="no such model"):
        measure_seconds_per_step(RunConfig(replace(TINY.model, name="nonexistent"), TINY.train))
