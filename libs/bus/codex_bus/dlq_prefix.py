"""Short ids and fingerprints, as git takes short hashes: a unique prefix names the whole value.

A value equal to what was typed wins over longer values that start with it; two or more longer
values and no equal one make the prefix ambiguous, and it is refused naming the candidates.
Memory stays bounded on a large queue: at most `_KEPT` candidates are remembered per prefix.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from codex_bus.dead_letter import DeadLetter

__all__ = ["AmbiguousPrefix", "PrefixMatch", "UnknownPrefix"]

_KEPT = 10


class UnknownPrefix(LookupError):
    """No dead letter has an id (or fingerprint) that is or starts with this."""

    def __init__(self, kind: str, prefix: str) -> None:
        super().__init__(
            f"no dead letter has {'an id' if kind == 'id' else 'a fingerprint'} starting with {prefix!r}"
        )
        self.kind, self.prefix = kind, prefix


class AmbiguousPrefix(LookupError):
    """Several ids (or fingerprints) start with this prefix; `candidates` names them (the first ten)."""

    def __init__(self, kind: str, prefix: str, candidates: list[str], more: bool) -> None:
        listed = ", ".join(candidates) + (", ..." if more else "")
        super().__init__(f"{kind} prefix {prefix!r} is ambiguous; candidates: {listed}")
        self.kind, self.prefix, self.candidates = kind, prefix, candidates


@dataclass
class _Seen:
    exact: DeadLetter | None = None
    exact_seen: bool = False
    candidates: dict[str, DeadLetter | None] = field(default_factory=dict)
    more: bool = False


class PrefixMatch:
    """Feed every value of a pass to `see()`, then ask `resolved()` or `letter()`."""

    def __init__(self, kind: str, prefixes: list[str], *, keep_letters: bool = False) -> None:
        self.kind = kind
        self._seen = {prefix: _Seen() for prefix in prefixes}
        self._keep_letters = keep_letters

    def see(self, value: str, letter: DeadLetter | None = None) -> None:
        """One value (an id or a fingerprint) met in the queue, with its dead letter for `letter()`."""
        for prefix, seen in self._seen.items():
            if not value.startswith(prefix):
                continue
            kept = letter if self._keep_letters else None
            if value == prefix:
                seen.exact_seen = True
                seen.exact = _newer(seen.exact, kept)
            elif value in seen.candidates:
                seen.candidates[value] = _newer(seen.candidates[value], kept)
            elif len(seen.candidates) < _KEPT:
                seen.candidates[value] = kept
            else:
                seen.more = True

    def resolved(self) -> list[str]:
        """The whole value of each prefix, in the order given; raises when one names none or several."""
        return [self._whole(prefix) for prefix in self._seen]

    def letter(self, prefix: str) -> DeadLetter | None:
        """The newest dead letter the prefix names, or None when it names none."""
        try:
            whole = self._whole(prefix)
        except UnknownPrefix:
            return None
        seen = self._seen[prefix]
        return seen.exact if whole == prefix else seen.candidates[whole]

    def _whole(self, prefix: str) -> str:
        seen = self._seen[prefix]
        if seen.exact_seen:
            return prefix
        if not seen.candidates:
            raise UnknownPrefix(self.kind, prefix)
        if len(seen.candidates) > 1 or seen.more:
            raise AmbiguousPrefix(self.kind, prefix, sorted(seen.candidates), seen.more)
        return next(iter(seen.candidates))


def _newer(kept: DeadLetter | None, letter: DeadLetter | None) -> DeadLetter | None:
    if kept is None or letter is None:
        return letter or kept
    kept_at, at = kept.dead_lettered_at, letter.dead_lettered_at
    return letter if kept_at is None or (at is not None and at >= kept_at) else kept
