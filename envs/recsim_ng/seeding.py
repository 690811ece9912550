"""Seeded randomness for RecSim NG stories, through edward2's own tracing hook.

RecSim NG draws every random quantity as an edward2 random variable (``ed.Categorical``,
``ed.Normal``, ...), and edward2 samples them from TensorFlow's *stateful* generators: their
streams live in TensorFlow's global state, and once a step is compiled to a graph they are
fixed when the graph is traced, so no later seed reaches them. :class:`StatelessSampling` is
an edward2 tracer (``ed.trace``, the hook edward2 provides for changing how random variables
are drawn) that draws each one with a stateless sampler instead, its seed folded from a
``tf.Variable`` the caller sets before every step, the network variable being computed and
the draw's position within it.
Same seed, same draws: in eager mode and in a compiled graph alike.
"""

from __future__ import annotations

import dataclasses
import functools
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from envs.recsim_ng import compat

compat.ensure()  # before TensorFlow and recsim_ng load (see compat's module docstring)

import edward2 as ed  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_probability as tfp  # noqa: E402


class StatelessSampling:
    """An edward2 tracer drawing random variables from ``seed`` (an int32 ``tf.Variable`` of
    shape (2,)).

    The k-th random variable drawn while computing network variable ``v`` gets the seed
    ``fold_in(fold_in(seed, crc32(v)), k)``. Keying by variable name (not by the order of
    draws in the whole step) matters: RecSim NG orders a network's variables through sets, so
    two networks of the same story may compute them in different orders. Use ``attach`` on
    the story's variables, then ``with sampling.active(): network.step(...)``.
    """

    def __init__(self, seed: tf.Variable) -> None:
        self.seed = seed
        self._key = 0
        self._count = 0

    def attach(self, variables: Iterable[Any]) -> None:
        """Wrap each variable's value functions so that draws inside are keyed by its name."""
        for var in variables:
            initial, step = var.initial_value, var.value  # read both before setting either
            var.initial_value = dataclasses.replace(initial, fn=self._keyed(var.name, initial.fn))
            var.value = dataclasses.replace(step, fn=self._keyed(var.name, step.fn))

    @contextmanager
    def active(self) -> Iterator[None]:
        with ed.trace(self):
            yield

    def _keyed(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        key = zlib.crc32(name.encode()) & 0x7FFFFFFF  # stable across processes, unlike hash()

        @functools.wraps(fn)
        def run(*args: Any) -> Any:
            self._key, self._count = key, 0
            return fn(*args)

        return run

    def __call__(self, f: Any, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("value") is not None:  # the story gave the value itself
            return f(*args, **kwargs)
        sample_shape = kwargs.pop("sample_shape", ())
        kwargs.pop("value", None)
        # edward2 makes ed.<Name> from tfp.distributions.<Name>, keeping the name.
        distribution = getattr(tfp.distributions, f.__name__)(*args, **kwargs)
        self._count += 1
        fold = tf.random.experimental.stateless_fold_in
        seed = fold(fold(self.seed, self._key), self._count)
        value = distribution.sample(sample_shape, seed=seed)
        return f(*args, sample_shape=sample_shape, value=value, **kwargs)


def stateful_random_ops(graph: tf.Graph) -> set[str]:
    """Stateful random op types in a traced graph and the functions it calls (while loops,
    conditionals): draws that bypass edward2, which :class:`StatelessSampling` cannot seed."""
    graph_def = graph.as_graph_def()
    ops = {n.op for n in graph_def.node}
    ops |= {n.op for f in graph_def.library.function for n in f.node_def}
    return {
        op for op in ops
        if ("Random" in op or "Multinomial" in op or op.startswith("Stateful"))
        and not op.startswith("Stateless") and op != "RandomIndexShuffle"
    }
