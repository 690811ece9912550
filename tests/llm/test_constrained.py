"""Constrained generation always names a valid (and, when asked, novel) description."""

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llm.config import GenerationConfig, ModelConfig
from llm.errors import DataError, TokenizationError
from llm.generation import ClusterLM
from llm.logits_processor import generate_constrained
from llm.models import build_default_model
from llm.tokenization import build_word_tokenizer
from llm.trie import DescriptionTrie

WORDS = ["alpha", "beta", "gamma", "delta", "eps", "zeta", "eta"]


def tiny_lm(descriptions, seed):
    tok = build_word_tokenizer(descriptions)
    model = build_default_model(tok, ModelConfig(n_embd=16, n_layer=1, n_head=2, n_positions=48), seed)
    return ClusterLM(model, tok, descriptions, num_threads=1)


level = st.lists(st.lists(st.sampled_from(WORDS), min_size=1, max_size=3).map(" ".join),
                 min_size=3, max_size=12, unique=True)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(level, st.integers(0, 2**16), st.sampled_from([0.0, 1.0, 5.0]), st.integers(1, 3), st.booleans())
def test_constrained_always_valid(descriptions, seed, temperature, context_length, exclude):
    if exclude and len(descriptions) <= context_length:
        return
    lm = tiny_lm(descriptions, seed)
    rng = np.random.default_rng(seed)
    histories = rng.integers(0, len(descriptions), size=(20, context_length))
    cfg = GenerationConfig(temperature=temperature, n_samples=2, exclude_history=exclude, batch_size=7)
    out = lm.constrained(histories, cfg, seed=seed)
    assert out.shape == (20, 2)
    assert ((out >= 0) & (out < len(descriptions))).all()
    if exclude:
        assert not (out[:, :, None] == histories[:, None, :]).any()


def test_hand_loop_matches_stock_generate_greedy():
    descriptions = ["alpha", "alpha beta", "beta gamma", "delta", "eps zeta eta", "eps zeta"]
    lm = tiny_lm(descriptions, 3)
    histories = np.random.default_rng(0).integers(0, 6, size=(40, 2))
    cfg = GenerationConfig(temperature=0, batch_size=16)
    np.testing.assert_array_equal(lm.constrained(histories, cfg)[:, 0], generate_constrained(lm, histories, cfg))


def test_sampling_is_seeded():
    lm = tiny_lm(WORDS, 0)
    h = np.random.default_rng(1).integers(0, len(WORDS), size=(50, 2))
    cfg = GenerationConfig(temperature=3.0)
    np.testing.assert_array_equal(lm.constrained(h, cfg, seed=4), lm.constrained(h, cfg, seed=4))
    assert not np.array_equal(lm.constrained(h, cfg, seed=4), lm.constrained(h, cfg, seed=5))
    a, b = lm.free(h, cfg, seed=2), lm.free(h, cfg, seed=2)
    np.testing.assert_array_equal(a.texts, b.texts)


def test_free_generation_unmatched_policies():
    lm = tiny_lm(WORDS, 0)
    h = np.zeros((30, 2), dtype=np.int64)
    dropped = lm.free(h, GenerationConfig(temperature=2.0, unmatched="drop"), seed=0)
    nearest = lm.free(h, GenerationConfig(temperature=2.0, unmatched="nearest"), seed=0)
    assert dropped.n_unmatched == nearest.n_unmatched  # counted the same way
    assert ((dropped.clusters >= 0) == dropped.exact).all()
    assert (nearest.clusters >= 0).sum() >= (dropped.clusters >= 0).sum()


def test_trie_rejects_prefix_and_duplicates():
    with pytest.raises(DataError, match="prefix"):
        DescriptionTrie.from_sequences([[1, 2], [1, 2, 3]], ["a", "b"])
    with pytest.raises(DataError, match="same tokens"):
        DescriptionTrie.from_sequences([[1, 2], [1, 2]], ["a", "b"])


def test_unencodable_description_names_it():
    tok = build_word_tokenizer(["alpha beta"])
    model = build_default_model(tok, ModelConfig(n_embd=16, n_layer=1, n_head=2), 0)
    with pytest.raises(TokenizationError, match="'alpha omega'"):
        ClusterLM(model, tok, ["alpha beta", "alpha omega"], num_threads=1)


def test_history_out_of_range():
    lm = tiny_lm(WORDS, 0)
    with pytest.raises(DataError, match="cluster id 7"):
        lm.constrained(np.array([[0, 7]]))


def test_processor_blocks_everything_outside_the_trie():
    from llm.logits_processor import TrieLogitsProcessor

    lm = tiny_lm(["alpha beta", "gamma"], 0)
    proc = TrieLogitsProcessor(lm.trie, 3, lm.tokenizer.eos_token_id)
    scores = proc(torch.zeros((1, 3), dtype=torch.long), torch.zeros((1, len(lm.tokenizer))))
    allowed = set(torch.isfinite(scores[0]).nonzero().ravel().tolist())
    assert allowed == {lm.tokenizer.convert_tokens_to_ids("alpha"), lm.tokenizer.convert_tokens_to_ids("gamma")}


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(level, st.integers(0, 2**16), st.integers(1, 3))
def test_scores_are_the_log_probability_of_each_whole_answer(descriptions, seed, context_length):
    lm = tiny_lm(descriptions, seed)
    histories = np.random.default_rng(seed).integers(0, len(descriptions), size=(5, context_length))
    scores = lm.score(histories, max_rows=7)  # several small batches
    assert scores.shape == (5, len(descriptions)) and (scores < 0).all()
    # Answers are prefix-free, so their probabilities are disjoint events: they sum to at most 1.
    assert (np.exp(scores.astype(np.float64)).sum(axis=1) <= 1 + 1e-4).all()
    # The same number from one plain forward pass over prompt + answer, without the shared cache.
    h, c = 0, len(descriptions) - 1
    prompt = [t for part in lm.rows(histories[h:h + 1])[0] for t in part]
    ids = torch.tensor([prompt + lm.encoder.answers[c]])
    with torch.inference_mode():
        logp = torch.log_softmax(lm.model(input_ids=ids).logits[0].float(), dim=-1)
    plain = sum(logp[len(prompt) - 1 + j, t].item() for j, t in enumerate(lm.encoder.answers[c]))
    assert scores[h, c] == pytest.approx(plain, abs=1e-4)


def test_a_trained_model_ranks_the_rule_first(trained_lm):
    from tests.llm.conftest import M, rule

    histories = np.stack([np.arange(M), (np.arange(M) + 1) % M], axis=1)
    top = trained_lm.score(histories).argmax(axis=1)
    assert (top == rule(histories[:, 1])).mean() > 0.8
