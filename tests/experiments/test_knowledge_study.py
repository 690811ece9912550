"""experiments.knowledge_study: replicates vary every source of chance, the text-alone
reference carries the knowledge and loses it at fidelity 0, and the summary pairs by replicate."""

import pytest

from experiments import knowledge_study as study
from experiments.config import config_from_dict


def test_replicates_vary_world_logs_model_and_users():
    a, b = (config_from_dict(study.replicate_config(r, 1.0, [])) for r in (0, 1))
    assert a.world.seed != b.world.seed and a.logs.seed != b.logs.seed
    assert a.llm.seed != b.llm.seed and a.eval.seeds != b.eval.seeds
    zero = config_from_dict(study.replicate_config(0, 0.0, ["logs.n_users=500"]))
    assert zero.llm.settings["train"]["knowledge_fidelity"] == 0.0 and zero.logs.n_users == 500


def test_the_text_alone_names_interests_only_when_the_knowledge_is_true():
    """Journeys that follow the words entirely: proposing a stated neighbour hits far above
    chance at fidelity 1 and falls to chance's order at fidelity 0."""
    def rate(fidelity: float) -> float:
        raw = study.replicate_config(0, fidelity, ["world.journey_semantic_share=1.0"])
        return study.text_alone_hit_rate(config_from_dict(raw))

    assert rate(1.0) > 0.3 > 0.05 > rate(0.0)


def test_summary_pairs_the_language_model_with_counts_by_replicate():
    def run(lm: float, counts: float) -> dict:
        return {"selectors": {study.LM: lm, study.COUNTS: counts},
                "by_history": {p: {study.LM: lm, study.COUNTS: counts} for p in study.PARTS[1:]},
                "text alone": 0.2, "chance": 0.01, "ceiling": 0.5, "seen_share": 0.4}

    summary = study.summarize({1.0: [run(0.3, 0.2), run(0.5, 0.4)]})["1.0"]
    assert summary["lm - counts, unseen"]["mean"] == pytest.approx(0.1)
    assert summary["lm - counts, unseen"]["ci95"][0] == pytest.approx(0.1)  # the same gap twice: no spread
    assert summary[study.LM]["unseen"]["mean"] == pytest.approx(0.4)
    assert "| 1.0 | hierarchical-llm | 40.0 ± " in study.table({"1.0": summary}, 2)
