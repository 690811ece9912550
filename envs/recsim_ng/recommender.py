"""The recommender entity the adapter puts into a RecSim NG story: it serves the agent's slate."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from envs.recsim_ng import compat

compat.ensure()  # before TensorFlow and recsim_ng load (see compat's module docstring)

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from recsim_ng.core import value  # noqa: E402
from recsim_ng.entities.recommendation import recommender  # noqa: E402
from recsim_ng.lib.tensorflow import field_spec  # noqa: E402


class ExternalSlateRecommender(recommender.BaseRecommender):  # type: ignore[misc]
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
        super().__init__(config, name=name)
        self._slate = slate
        self._doc_fields = doc_fields

    def specs(self) -> value.ValueSpec:
        slate = value.ValueSpec(**{f: field_spec.FieldSpec() for f in self._doc_fields})
        return value.ValueSpec(state=value.ValueSpec(), slate=slate)

    def initial_state(self) -> value.Value:
        return value.Value()

    def next_state(self, previous_state: value.Value, user_response: value.Value, slate_docs: value.Value) -> Any:
        del previous_state, user_response, slate_docs
        return value.Value()

    def slate_docs(self, previous_state: value.Value, user_obs: value.Value, available_docs: value.Value) -> Any:
        del previous_state, user_obs
        indices = tf.convert_to_tensor(self._slate)
        return available_docs.map(lambda field: tf.gather(field, indices))


class RandomSlateRecommender(recommender.BaseRecommender):  # type: ignore[misc]
    """Slates of ``slate_size`` distinct documents drawn uniformly at random inside the graph.

    RecSim NG ships no random recommender; this is its collaborative-filtering recommender
    (``recsys_partially_observable_rl.recommender``) without the model: the same selector,
    ``IteratedMultinomialLogitChoiceModel`` (multinomial logit without replacement, an edward2
    random variable per user), over equal scores, so every slate of distinct documents is
    equally likely. Stateless. ``doc_fields`` names the fields of the story's available
    documents; build a story with it through ``random_slate_recommender(doc_fields)``.
    """

    def __init__(self, config: Mapping[str, Any], doc_fields: tuple[str, ...], name: str = "Recommender") -> None:
        super().__init__(config, name=name)
        from recsim_ng.entities.choice_models import selectors

        self._doc_fields = doc_fields
        self._num_docs = int(config["num_docs"])
        self._sampler = selectors.IteratedMultinomialLogitChoiceModel(
            self._slate_size, (self._num_users,), -np.inf * tf.ones(self._num_users)
        )

    def specs(self) -> value.ValueSpec:
        slate = value.ValueSpec(**{f: field_spec.FieldSpec() for f in self._doc_fields})
        return value.ValueSpec(state=value.ValueSpec(), slate=slate)

    def initial_state(self) -> value.Value:
        return value.Value()

    def next_state(self, previous_state: value.Value, user_response: value.Value, slate_docs: value.Value) -> Any:
        del previous_state, user_response, slate_docs
        return value.Value()

    def slate_docs(self, previous_state: value.Value, user_obs: value.Value, available_docs: value.Value) -> Any:
        del previous_state, user_obs
        scores = tf.zeros((self._num_users, self._num_docs))
        indices = self._sampler.choice(scores).get("choice")
        return available_docs.map(lambda field: tf.gather(field, indices))
