"""Make recsim-ng 0.1.2 import and run on current numpy, scipy, TensorFlow and gym.

recsim-ng's last release (0.1.2, 2022) and its dependency edward2 0.0.2 predate numpy 2,
Keras 3 and recent scipy. Rather than edit installed files, :func:`ensure` patches the
running process once, before anything of recsim_ng is imported. Each fix is one small
function below whose comment says what breaks without it. The fixes are idempotent and
only ever widen what the patched object accepts, so code that worked before still works.

Order matters: the Keras switch must precede the first ``import tensorflow`` and the
edward2 fix the first ``import edward2`` (recsim_ng imports both at module level).
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import io
import operator
import os
import sys
import warnings
from typing import Any

import numpy as np

from envs.errors import MissingExtraError

EXTRA = "recsim-ng"
PURPOSE = "Running RecSim NG simulations (envs.recsim_ng)"

# (module to import, distribution that provides it): everything the extra installs that
# recsim_ng or the fixes below import.
REQUIRED_MODULES: tuple[tuple[str, str], ...] = (
    ("tensorflow", "tensorflow"),
    ("tf_keras", "tf-keras"),
    ("tensorflow_probability", "tensorflow-probability"),
    ("edward2", "edward2"),
    ("gym", "gym"),
    ("gin", "gin-config"),
    ("recsim_ng", "recsim-ng"),
)

_applied = False


class LegacyKerasWarning(RuntimeWarning):
    """TensorFlow was imported with Keras 3 as ``tf.keras`` before the compatibility layer ran."""


def ensure() -> None:
    """Check the extra is installed and apply every fix (once per process).

    Raises :class:`envs.errors.MissingExtraError` naming ``pip install 'noveltygym[recsim-ng]'``
    when a package of the extra is missing."""
    global _applied
    if _applied:
        return
    check_installed()
    use_legacy_keras()
    alias_numpy_inf()
    skip_edward2_numpy_backend()
    import_gym_quietly()
    accept_tensor_shapes_in_gym_box()
    _applied = True


def check_installed() -> None:
    """Raise MissingExtraError for the first package of the extra that cannot be found."""
    for module, distribution in REQUIRED_MODULES:
        try:
            # None also for a ``None`` entry in sys.modules (how tests hide a package).
            found = importlib.util.find_spec(module) is not None
        except ValueError:  # imported, but without a spec (e.g. built in by a test double)
            found = True
        if not found:
            raise MissingExtraError(distribution, EXTRA, PURPOSE)


def use_legacy_keras() -> None:
    """Keras 2 (``tf_keras``) as ``tf.keras``.

    recsim_ng's recommenders subclass ``tf.keras.Model`` and are trained through
    ``tf.Module.trainable_variables``. Under Keras 3 those weights are Keras variables that
    ``tf.Module`` does not collect, so RecSim NG's training loops silently optimize nothing.
    TensorFlow picks its Keras once, at import, from ``TF_USE_LEGACY_KERAS``; a value the
    user set explicitly is kept. If TensorFlow is already imported with Keras 3 we cannot
    switch any more: simulation still runs, but trainable recommenders will not learn, so warn.
    """
    if "tensorflow" not in sys.modules:
        os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
        return
    tf = sys.modules["tensorflow"]
    version = getattr(getattr(tf, "keras", None), "version", None)
    if callable(version) and str(version()).startswith("3."):
        warnings.warn(
            "TensorFlow was imported before envs.recsim_ng with Keras 3 as tf.keras, so RecSim NG's "
            "trainable recommenders will have no trainable variables. Set TF_USE_LEGACY_KERAS=1 before "
            "importing tensorflow (or import envs.recsim_ng first).",
            LegacyKerasWarning,
            stacklevel=3,
        )


def alias_numpy_inf() -> None:
    """numpy 2 removed ``np.Inf``; recsim_ng uses it in its specs and choice models (at call
    time, so the alias must stay). ``np.Inf`` was always exactly ``np.inf``."""
    if "Inf" not in np.__dict__:
        np.Inf = np.inf  # type: ignore[attr-defined]  # noqa: NPY201 (restoring it is the point)


def skip_edward2_numpy_backend() -> None:
    """Do not load edward2's NumPy backend.

    edward2 0.0.2 wraps ``rvs`` of every distribution in ``scipy.stats`` when its NumPy
    backend loads; recent scipy has distributions without ``rvs``, so ``import edward2``
    dies with AttributeError. recsim_ng only uses the TensorFlow backend, and the wrapping
    would alter scipy for the whole process anyway. A ``None`` entry in ``sys.modules`` makes
    that import raise ImportError, which edward2 catches (it then warns; we silence that, and
    tensorflow-probability's own DeprecationWarning about distutils as edward2 imports it)."""
    if "edward2" in sys.modules:
        return
    sys.modules.setdefault("edward2.numpy", None)  # type: ignore[arg-type]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="NumPy backend for Edward2 is not available")
        warnings.filterwarnings("ignore", message="distutils Version classes are deprecated")
        import edward2  # noqa: F401


def import_gym_quietly() -> None:
    """Import gym without its start-up notice.

    gym 0.26 prints (to stderr, on every import) that it is unmaintained and should be
    replaced by gymnasium. recsim_ng only uses ``gym.spaces`` to describe its value specs, and
    noveltygym's envs are gymnasium's, so the notice would only mislead our users."""
    if "gym" in sys.modules:
        return
    with contextlib.redirect_stderr(io.StringIO()):
        import gym  # noqa: F401


def accept_tensor_shapes_in_gym_box() -> None:
    """Let ``gym.spaces.Box`` take shapes whose entries are scalar integer tensors.

    recsim_ng builds its value specs as ``Box(..., shape=(num_users, tf.shape(x)[-1]))``;
    gym >= 0.24 asserts every entry is a Python or numpy int and rejects the TensorFlow
    scalars. ``operator.index`` turns integer scalars of any library into ints and still
    refuses floats and None, so anything gym rejected for a real reason is still rejected."""
    from gym.spaces import Box

    original = Box.__init__
    if getattr(original, "_noveltygym_int_shapes", False):
        return

    @functools.wraps(original)
    def __init__(self: Box, *args: Any, **kwargs: Any) -> None:
        if kwargs.get("shape") is not None:
            kwargs["shape"] = _int_shape(kwargs["shape"])
        elif len(args) >= 3 and args[2] is not None:
            args = (*args[:2], _int_shape(args[2]), *args[3:])
        original(self, *args, **kwargs)

    __init__._noveltygym_int_shapes = True  # type: ignore[attr-defined]
    Box.__init__ = __init__  # type: ignore[method-assign]


def _int_shape(shape: Any) -> Any:
    try:
        return tuple(operator.index(d) for d in shape)
    except TypeError:
        return shape  # not integer-like: let gym raise its own message
