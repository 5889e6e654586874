"""Reading a spec file: whole, never more than the cap plus one byte, whatever fstat said."""
from __future__ import annotations

import os

import pytest

from compiler.load import limits
from compiler.load.limits import read_at_most
from compiler.load.sources import read_capped


@pytest.mark.parametrize("size", [0, 1, 4095, 4096, 65537, 200_000])
@pytest.mark.parametrize("claimed", ["exact", "smaller", "zero", "larger"])
def test_every_byte_up_to_the_limit_whatever_the_size_claimed(tmp_path, size, claimed):
    """`size` (from fstat) is only a first guess: a file that grew or shrank since is read as it is."""
    path = tmp_path / "f"
    data = os.urandom(size)
    path.write_bytes(data)
    guess = {"exact": size, "smaller": size // 3, "zero": 0, "larger": size * 2 + 10}[claimed]
    for limit in (size + 1, size, max(size - 7, 0), 100):
        fd = os.open(path, os.O_RDONLY)
        try:
            assert read_at_most(fd, limit, guess) == data[:limit]
        finally:
            os.close(fd)


def test_the_cap_of_a_spec_file(tmp_path):
    at_cap = tmp_path / "a.yaml"
    at_cap.write_bytes(b"x" * limits.MAX_FILE_BYTES)
    assert len(read_capped(at_cap, tmp_path)) == limits.MAX_FILE_BYTES
    over = tmp_path / "b.yaml"
    over.write_bytes(b"x" * (limits.MAX_FILE_BYTES + 1))
    with pytest.raises(OSError, match="larger than"):
        read_capped(over, tmp_path)
    os.mkfifo(tmp_path / "c.yaml")
    with pytest.raises(OSError, match="not a regular file"):
        read_capped(tmp_path / "c.yaml", tmp_path)
