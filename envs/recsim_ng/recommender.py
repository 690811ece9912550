"""The recommender entity the adapter puts into a RecSim NG story: it serves the agent's slate."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from envs.recsim_ng import compat

compat.ensure()  # before TensorFlow and recsim_ng load (see compat's module docstring)

import tensorflow as tf  # noqa: E402
from recsim_ng.core import value  # noqa: E402
from recsim_ng.entities.recommendation import recommender  # noqa: E402
from recsim_ng.lib.tensorflow import field_spec  # noqa: E402


class _StatelessRecommender(recommender.BaseRecommender):  # type: ignore[misc]
    """A recommender with no state of its own, whose slates hold the fields ``doc_fields`` of
    the story's available documents; subclasses say which documents (``slate_docs``)."""

    def __init__(self, config: Mapping[str, Any], doc_fields: tuple[str, ...], name: str) -> None:
        super().__init__(config, name=name)
        self._doc_fields = doc_fields

    def specs(self) -> value.ValueSpec:
        slate = value.ValueSpec(**{f: field_spec.FieldSpec() for f in self._doc_fields})
        return value.ValueSpec(state=value.ValueSpec(), slate=slate)

    def initial_state(self) -> value.Value:
        return value.Value()

    def next_state(self, previous_state: value.Value, user_response: value.Value, slate_docs: value.Value) -> Any:
        del previous_state, user_response, slate_docs
        return value.Value()


class ExternalSlateRecommender(_StatelessRecommender):
    """Serves slates chosen outside the simulation, by a gymnasium agent.

    ``slate`` is a (num_users, slate_size) int32 ``tf.Variable`` of document indices (rows of
    the corpus' available documents) that the adapter assigns before each step; the slate's
    documents are gathered from the available ones field by field, as RecSim NG's own
    recommenders do. It has no state of its own: what the agent remembers stays in the agent.
    ``doc_fields`` names the fields of the story's available documents.
    """

    def __init__(
        self, config: Mapping[str, Any], slate: tf.Variable, doc_fields: tuple[str, ...], name: str = "Recommender"
    ) -> None:
        super().__init__(config, doc_fields, name)
        self._slate = slate

    def slate_docs(self, previous_state: value.Value, user_obs: value.Value, available_docs: value.Value) -> Any:
        del previous_state, user_obs
        indices = tf.convert_to_tensor(self._slate)
        return available_docs.map(lambda field: tf.gather(field, indices))


class RandomSlateRecommender(_StatelessRecommender):
    """Slates of ``slate_size`` distinct documents drawn uniformly at random inside the graph.

    RecSim NG ships no random recommender. Its collaborative-filtering recommender draws a
    slate with ``IteratedMultinomialLogitChoiceModel`` over a score per user and document;
    over equal scores that is a uniform slate too, but it costs a logit and a Gumbel draw per
    document and user at every step (at 100,000 users it ran RecSim NG's engine at ~0.65M
    user-steps/s, slower than stepping it from Python). Here the j-th pick is one edward2
    ``Uniform`` per user over the ``num_docs - j`` documents not taken yet, moved up past each
    taken document it reaches, smallest first: O(slate_size^2) per user, every slate of
    distinct documents equally likely. Stateless. ``doc_fields`` names the fields of the
    story's available documents (``envs.recsim_ng.simulation.random_slate_network`` builds a
    story with it).
    """

    def __init__(self, config: Mapping[str, Any], doc_fields: tuple[str, ...], name: str = "Recommender") -> None:
        super().__init__(config, doc_fields, name)
        self._num_docs = int(config["num_docs"])

    def slate_docs(self, previous_state: value.Value, user_obs: value.Value, available_docs: value.Value) -> Any:
        del previous_state, user_obs
        import edward2 as ed

        picks: list[tf.Tensor] = []
        for j in range(self._slate_size):
            left = self._num_docs - j  # documents not taken yet
            u = ed.Uniform(low=tf.zeros(self._num_users), high=tf.fill([self._num_users], float(left)))
            x = tf.minimum(tf.cast(tf.convert_to_tensor(u), tf.int32), left - 1)
            if picks:
                taken = tf.sort(tf.stack(picks, axis=-1), axis=-1)
                for c in range(j):
                    x += tf.cast(x >= taken[:, c], tf.int32)
            picks.append(x)
        indices = tf.stack(picks, axis=-1)
        return available_docs.map(lambda field: tf.gather(field, indices))
