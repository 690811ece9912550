import numpy as np
import pytest

from llm.config import GenerationConfig
from llm.errors import TableError
from llm.histories import histories_at
from llm.table import LazyTransitionTable, TransitionTable, build_table
from tests.llm.conftest import DESCRIPTIONS, M


class Interrupt(Exception):
    pass


def _build(trained, trained_lm, out, **kw):
    args = dict(context_length=2, n_samples=2, temperature=1.0, seed=7, out_path=out, batch_size=64,
                chunk_size=100, progress=False, lm=trained_lm, num_threads=1)
    args.update(kw)
    return build_table(trained.model_dir, DESCRIPTIONS, **args)


def test_interrupted_then_resumed_equals_uninterrupted(trained, trained_lm, tmp_path):
    full = _build(trained, trained_lm, tmp_path / "full")

    def stop_after_two(chunk):
        if chunk == 2:
            raise Interrupt

    with pytest.raises(Interrupt):
        _build(trained, trained_lm, tmp_path / "cut", on_chunk=stop_after_two)
    with pytest.raises(TableError, match="resume=True"):  # a half-built table never loads
        TransitionTable.load(tmp_path / "cut")
    resumed = _build(trained, trained_lm, tmp_path / "cut")
    np.testing.assert_array_equal(full.answers, resumed.answers)
    assert not (tmp_path / "cut" / "chunks").exists()


def test_resume_with_other_settings_is_refused(trained, trained_lm, tmp_path):
    with pytest.raises(Interrupt):
        _build(trained, trained_lm, tmp_path / "t", on_chunk=lambda c: (_ for _ in ()).throw(Interrupt()))
    with pytest.raises(TableError, match="other settings"):
        _build(trained, trained_lm, tmp_path / "t", seed=8)
    fresh = _build(trained, trained_lm, tmp_path / "t", seed=8, resume=False)
    assert fresh.meta.seed == 8


def test_table_roundtrip_and_lookup(trained, trained_lm, tmp_path):
    table = _build(trained, trained_lm, tmp_path / "t", temperature=0.0, n_samples=1)
    loaded = TransitionTable.load(tmp_path / "t")
    np.testing.assert_array_equal(table.answers, loaded.answers)
    assert loaded.meta == table.meta and loaded.answers.shape == (M * M, 1)
    h = np.random.default_rng(0).integers(0, M, size=(500, 2))
    direct = trained_lm.constrained(h, GenerationConfig(temperature=0.0))
    np.testing.assert_array_equal(loaded.lookup(h), direct)
    np.testing.assert_array_equal(loaded.lookup(h), loaded.answers[h[:, 0] * M + h[:, 1]])
    assert not (loaded.answers[:, 0, None] == histories_at(np.arange(M * M), M, 2)).any()  # novel
    with pytest.raises(TableError):
        TransitionTable.load(tmp_path / "nothing")


def test_lookup_validates(trained, trained_lm, tmp_path):
    table = _build(trained, trained_lm, tmp_path / "t", n_samples=1)
    from llm.errors import DataError

    with pytest.raises(DataError, match="length 3"):
        table.lookup(np.zeros((2, 3), dtype=np.int64))
    with pytest.raises(DataError, match=f"cluster id {M}"):
        table.lookup(np.array([[0, M]]))


def test_lazy_table_caches(trained_lm):
    lazy = LazyTransitionTable(trained_lm, 2, GenerationConfig(temperature=0.0))
    h = np.array([[0, 1], [2, 3], [0, 1]])
    first = lazy.lookup(h)
    assert len(lazy) == 2
    np.testing.assert_array_equal(first, trained_lm.constrained(h, GenerationConfig(temperature=0.0)))
    np.testing.assert_array_equal(lazy.lookup(h[:1]), first[:1])
    assert len(lazy) == 2


def test_a_table_written_before_the_context_length_rename_loads(trained, trained_lm, tmp_path):
    import json

    table = _build(trained, trained_lm, tmp_path / "t")
    meta_path = tmp_path / "t" / "table.json"
    meta = json.loads(meta_path.read_text())
    meta["history_length"] = meta.pop("context_length")
    meta_path.write_text(json.dumps(meta))
    old = TransitionTable.load(tmp_path / "t")
    assert old.context_length == 2
    np.testing.assert_array_equal(old.answers, table.answers)
