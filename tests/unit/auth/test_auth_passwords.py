"""argon2id hashing off the event loop, and rehash detection."""

from __future__ import annotations

from codex_auth.passwords import Argon2Params, PasswordHasher

CHEAP = Argon2Params(time_cost=1, memory_cost_kib=1024, parallelism=1)


async def test_a_hash_verifies_its_password_only() -> None:
    hasher = PasswordHasher(CHEAP, max_concurrency=2)
    hashed = await hasher.hash("correct horse battery")
    assert hashed.startswith("$argon2id$v=19$m=1024,t=1,p=1$")
    assert await hasher.verify(hashed, "correct horse battery")
    assert not await hasher.verify(hashed, "correct horse battery!")
    assert not await hasher.verify("not a hash", "correct horse battery")
    await hasher.verify_nothing("anything")  # costs a verification, reveals nothing
    hasher.close()


async def test_hashes_made_with_other_parameters_need_a_rehash() -> None:
    old = PasswordHasher(CHEAP)
    new = PasswordHasher(Argon2Params(time_cost=2, memory_cost_kib=2048, parallelism=1))
    hashed = await old.hash("correct horse battery")
    assert not old.needs_rehash(hashed)
    assert new.needs_rehash(hashed)
    assert new.needs_rehash("garbage")
    assert await new.verify(hashed, "correct horse battery")  # still verifies meanwhile
    old.close()
    new.close()


def test_the_defaults_are_rfc_9106s_second_recommendation() -> None:
    assert Argon2Params() == Argon2Params(time_cost=3, memory_cost_kib=65536, parallelism=4)
