"""The private photo store: random names, atomic writes, strict name checks, no leftovers."""

import errno
import os
import re
import stat
from pathlib import Path

import pytest

from backend.refunds.photos import (
    PhotoNameInvalid,
    PhotoNotFound,
    PhotoStore,
    PhotoStoreIsPublic,
    random_storage_name,
)


@pytest.fixture
def store(tmp_path: Path) -> PhotoStore:
    return PhotoStore(tmp_path / "private" / "return-photos")


def test_a_saved_photo_reads_back_under_its_random_name(store: PhotoStore) -> None:
    name = store.save(b"jpeg bytes")
    assert re.fullmatch(r"[0-9a-f]{32}", name)
    assert store.read(name) == b"jpeg bytes"
    assert os.listdir(store.directory) == [name]


def test_files_are_private_to_the_service_user(store: PhotoStore) -> None:
    name = store.save(b"x")
    assert stat.S_IMODE(os.stat(store.path_of(name)).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(store.directory).st_mode) == 0o700


def test_names_are_unguessable_and_never_repeat() -> None:
    names = {random_storage_name() for _ in range(1000)}
    assert len(names) == 1000
    assert all(re.fullmatch(r"[0-9a-f]{32}", name) for name in names)


def test_delete_removes_the_file_and_may_run_twice(store: PhotoStore) -> None:
    name = store.save(b"x")
    store.delete(name)
    store.delete(name)
    assert os.listdir(store.directory) == []
    with pytest.raises(PhotoNotFound):
        store.read(name)


VALID = "0123456789abcdef0123456789abcdef"
TRICKS = [
    "../../etc/passwd",
    "/etc/passwd",
    "..",
    ".",
    "",
    f"../{VALID}",
    f"/{VALID}",
    f"{VALID}/../../etc/passwd",
    f"{VALID}\x00",
    f"{VALID[:16]}\x00{VALID[16:]}",
    "..\\..\\windows\\system32",
    f"sub\\{VALID}",
    f"{VALID}\n",
    f" {VALID}",
    VALID.upper(),
    VALID[:-1],
    VALID + "0",
    f"{VALID}.jpg",
    "%2e%2e%2fetc%2fpasswd",
    "０123456789abcdef0123456789abcdef",  # full-width digit
    VALID.encode(),
    None,
]


@pytest.mark.parametrize("name", TRICKS)
@pytest.mark.parametrize("operation", ["read", "delete", "path_of"])
def test_names_that_are_not_generated_names_are_refused(
    store: PhotoStore, tmp_path: Path, name: object, operation: str
) -> None:
    bait = tmp_path / "private" / "secret.txt"
    bait.write_bytes(b"do not touch")
    with pytest.raises(PhotoNameInvalid):
        getattr(store, operation)(name)
    assert bait.read_bytes() == b"do not touch"


def test_a_symlink_planted_under_a_valid_name_is_not_followed(
    store: PhotoStore, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"secret")
    os.symlink(secret, store.directory / VALID)
    with pytest.raises(OSError) as refused:
        store.read(VALID)
    assert refused.value.errno == errno.ELOOP


FAILURES = [
    ("disk full while syncing the file", "fsync", 1),
    ("rename refused", "replace", 1),
    ("directory sync failed after the rename", "fsync", 2),
]


@pytest.mark.parametrize(("name", "call", "failing_call"), FAILURES)
def test_a_failed_write_leaves_nothing_behind(
    store: PhotoStore, monkeypatch: pytest.MonkeyPatch, name: str, call: str, failing_call: int
) -> None:
    real = getattr(os, call)
    calls = []

    def failing(*args: object) -> object:
        calls.append(args)
        if len(calls) == failing_call:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(*args)

    monkeypatch.setattr(os, call, failing)
    with pytest.raises(OSError):
        store.save(b"x" * 1000)
    monkeypatch.undo()
    assert os.listdir(store.directory) == []


def test_the_store_refuses_a_directory_the_web_server_publishes(tmp_path: Path) -> None:
    static = tmp_path / "portal" / "static"
    static.mkdir(parents=True)
    with pytest.raises(PhotoStoreIsPublic):
        PhotoStore(static / "uploads", public_roots=[static])
    with pytest.raises(PhotoStoreIsPublic):
        PhotoStore(static / "a" / ".." / "uploads", public_roots=[static])
    assert not (static / "uploads").exists()
    assert PhotoStore(tmp_path / "var" / "photos", public_roots=[static]).directory.is_dir()
