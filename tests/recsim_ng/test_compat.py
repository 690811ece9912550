"""The compatibility layer: each fix does what its docstring says, and RecSim NG's own
interest-evolution application runs on this machine's numpy, scipy, TensorFlow and gym."""

from __future__ import annotations

import sys
import warnings

import numpy as np
import pytest

from envs.recsim_ng import compat


@pytest.fixture(scope="module", autouse=True)
def _compat() -> None:
    compat.ensure()


def test_numpy_inf_alias_is_inf() -> None:
    assert np.Inf == np.inf  # noqa: NPY201 (the alias under test)


def test_gym_box_takes_tensor_shapes_and_still_rejects_floats() -> None:
    import tensorflow as tf
    from gym.spaces import Box

    box = Box(-np.inf, np.inf, shape=(tf.constant(3), tf.shape(tf.zeros((2, 5)))[-1]))
    assert box.shape == (3, 5)
    with pytest.raises(AssertionError):
        Box(0.0, 1.0, shape=(2.5,))


def test_ensure_is_idempotent() -> None:
    from gym.spaces import Box

    before = Box.__init__
    compat.ensure()
    compat.accept_tensor_shapes_in_gym_box()
    assert Box.__init__ is before


def test_edward2_loads_without_touching_scipy() -> None:
    import edward2
    import scipy.stats

    assert hasattr(edward2, "Normal")  # the TensorFlow backend recsim_ng uses
    assert sys.modules.get("edward2.numpy") is None
    assert not hasattr(scipy.stats.norm.rvs, "__wrapped__")  # edward2's numpy backend wraps rvs


def test_tf_keras_is_legacy_keras() -> None:
    import tensorflow as tf
    import tf_keras

    assert tf.keras.Model is tf_keras.Model


def test_interest_evolution_application_runs_and_its_recommender_is_trainable() -> None:
    from recsim_ng.applications.recsys_partially_observable_rl import simulation_config
    from recsim_ng.core import network as network_lib
    from recsim_ng.lib.tensorflow import runtime

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*Box bound precision lowered.*")
        variables, trainable = simulation_config.create_interest_evolution_simulation_network(num_users=16)
    # Under Keras 3 this list is empty: the recommender's weights would never be trained.
    assert len(trainable) > 0
    value = runtime.TFRuntime(network_lib.Network(variables), graph_compile=False).execute(num_steps=3)
    reward = np.asarray(value["metrics state"].get("cumulative_reward"))
    assert reward.shape == (16,)
    assert np.isfinite(reward).all() and (reward >= 0).all()
