"""Change (compiler/live/changeset.py): the masked view of an object apply adds is made only when asked for."""
from __future__ import annotations

from compiler.kube.discovery import Resource
from compiler.live import changeset
from compiler.live.changeset import ADD, Change

SECRETS = Resource("", "v1", "Secret", "secrets", True)


def secret() -> dict:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "pull", "namespace": "vision"},
            "data": {"token": "c2VjcmV0LXZhbHVl"}}


def test_a_lazy_view_equals_the_eager_one_and_masks_secret_values():
    lazy = Change(ADD, "cpu-west/vision/secret-pull.yaml", secret(), SECRETS, None, changeset._DESIRED_VIEW)
    eager = Change(ADD, "cpu-west/vision/secret-pull.yaml", secret(), SECRETS, None, changeset._view(secret()))
    assert lazy.after_view is changeset._DESIRED_VIEW  # nothing made yet
    assert lazy.after == eager.after
    assert lazy.after is not None and "c2VjcmV0LXZhbHVl" not in repr(lazy.after)
    assert lazy.after["metadata"]["name"] == "pull"
    assert lazy.desired["data"]["token"] == "c2VjcmV0LXZhbHVl"  # what apply sends is untouched
    assert lazy.after is lazy.after  # made once


def test_an_explicit_view_or_none_is_kept_as_given():
    assert Change(ADD, "p", secret(), SECRETS).after is None
    assert Change(ADD, "p", secret(), SECRETS, None, {"kind": "Secret"}).after == {"kind": "Secret"}
