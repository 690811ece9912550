"""envs.kernels.draws.RowDraws gives the numbers of one ``rng.random`` call, however the rows
are chunked and on whichever thread, and leaves the generator where that call leaves it."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from envs.kernels.draws import RowDraws


def _chunks(n: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    cuts = np.unique(np.concatenate([[0, n], rng.integers(0, n, 4)]))
    return list(zip(cuts[:-1].tolist(), cuts[1:].tolist(), strict=True))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(301, 7), (300, 8), (97,), (40, 3, 5)])  # odd and even float counts
@pytest.mark.parametrize("before", [0, 1, 2])  # float32 numbers drawn first: 1 leaves a spare half
def test_row_chunks_give_one_calls_numbers(dtype, shape, before) -> None:
    reference, chunked = np.random.default_rng(11), np.random.default_rng(11)
    reference.random(before, dtype=np.float32)
    chunked.random(before, dtype=np.float32)
    expected = reference.random(shape, dtype=dtype)
    draws = RowDraws(chunked, shape, dtype)
    chunks = _chunks(shape[0], np.random.default_rng(before))
    with ThreadPoolExecutor(2) as pool:  # out of order, on other threads
        parts = list(pool.map(lambda c: draws.rows(*c), chunks[::-1]))
    assert np.array_equal(draws.out, expected)
    assert sum(len(p) for p in parts) == shape[0]
    # The generator continues as after the one call, in either dtype.
    assert np.array_equal(chunked.random(5, dtype=np.float32), reference.random(5, dtype=np.float32))
    assert np.array_equal(chunked.random(3), reference.random(3))


def test_other_bit_generators_draw_at_once() -> None:
    reference, chunked = np.random.Generator(np.random.MT19937(4)), np.random.Generator(np.random.MT19937(4))
    expected = reference.random((50, 3), dtype=np.float32)
    draws = RowDraws(chunked, (50, 3), np.float32)
    assert np.array_equal(draws.rows(10, 50), expected[10:]) and np.array_equal(draws.rows(0, 10), expected[:10])
    assert chunked.random() == reference.random()


def test_rejects_other_dtypes() -> None:
    with pytest.raises(ValueError, match="float16"):
        RowDraws(np.random.default_rng(0), (3,), np.float16)



@pytest.mark.parametrize("seed", range(8))
def test_compiled_pcg64_gives_numpys_numbers(seed) -> None:
    """envs.kernels.pcg64 writes numpy's numbers from any PCG64 state, a leftover half included."""
    pcg64 = pytest.importorskip("envs.kernels.pcg64")
    rng = np.random.default_rng(seed)
    rng.random(seed % 3, dtype=np.float32)  # odd counts leave an upper half for the next float32
    for dtype, n in ((np.float32, 10_001), (np.float64, 5_000), (np.float32, 1), (np.float64, 0)):
        out = np.empty(n, dtype=dtype)
        pcg64.fill(rng.bit_generator.state, out)
        assert np.array_equal(out, rng.random(n, dtype=dtype)), (dtype, n)


def test_without_numba_numpy_draws_the_chunks(monkeypatch) -> None:
    from envs.kernels import draws as module

    monkeypatch.setattr(module, "pcg64", None)
    reference, chunked = np.random.default_rng(2), np.random.default_rng(2)
    reference.random(1, dtype=np.float32)
    chunked.random(1, dtype=np.float32)
    expected = reference.random((41, 5), dtype=np.float32)
    draws = RowDraws(chunked, (41, 5), np.float32)
    assert np.array_equal(draws.rows(20, 41), expected[20:]) and np.array_equal(draws.rows(0, 20), expected[:20])
