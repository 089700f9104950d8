"""Hostile Keras files: each is refused with a sentence that says why, before anything in it could run."""

import pytest

from rnnviz import from_keras
from rnnviz.errors import CheckpointError
from tests.unit.keras_hostile_files import hostile_files


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("hostile")
    marker = workdir / "ran-code"
    return hostile_files(workdir, marker), marker


CASES = ["lambda", "module", "custom", "external-link", "soft-link", "external-dataset", "virtual-dataset", "zip-bomb",
         "truncated", "huge-dataset", "nan", "shapes", "weights-only", "text", "hard-sigmoid", "go-backwards",
         "reset-before", "conv", "masking", "stateful", "mask-zero"]


@pytest.mark.parametrize("case", CASES)
def test_refused_with_a_sentence(files, case):
    cases, marker = files
    name, data, says = cases[case]
    with pytest.raises(CheckpointError, match=says) as err:
        from_keras(data)
    message = str(err.value)
    assert message.endswith((".", ")")) and "Traceback" not in message and len(message) < 400
    assert not marker.exists(), "code planted in the file ran"


def test_cases_are_all_listed(files):
    assert sorted(files[0]) == sorted(CASES)


def test_unsupported_layers_name_what_is_supported(files):
    with pytest.raises(CheckpointError, match="SimpleRNN, LSTM, GRU, Bidirectional, Dropout and Dense"):
        from_keras(files[0]["lambda"][1])
