"""The text every strategy draws: short, near the limit, padded with whitespace, unicode.

A leaf, so that :mod:`trio_webhook.testing.strategies` and the component strategies it
builds on (:mod:`trio_webhook.testing._component_strategies`) share it without importing
each other.
"""

from __future__ import annotations

from hypothesis import strategies as st

__all__ = ["draw_text"]

# No surrogates (not encodable), no control characters; whitespace is added on purpose.
_CHARS = st.characters(exclude_categories=("Cs", "Cc"))
_SOLID = st.characters(exclude_categories=("Cs", "Cc", "Zs", "Zl", "Zp"))
_SPACE = st.sampled_from([" ", "\n", "\t", "\u00a0", "\u3000"])
_WIDE = st.sampled_from(["x", "é", "語", "🎉", "W"])


_KIND = st.sampled_from(["short", "short", "long", "padded"])
_OFFSET = st.integers(0, 3)
_SHORT = st.text(_CHARS, max_size=40)
_CORE = st.text(_SOLID, min_size=1, max_size=20)
_PAD = st.text(_SPACE, max_size=3)


def draw_text(draw: st.DrawFn, max_size: int, required: bool) -> str:
    """Draw text of at most ``max_size`` characters (``texts`` is its strategy).

    Args:
        draw: The composite strategy's ``draw``.
        max_size: The most characters; below 1, the text is empty.
        required: Whether the text must hold a non-whitespace character.
    """
    # Only module-level strategies are drawn from here: building strategies per draw
    # made messages() several times slower.
    if max_size < 1:
        return ""
    kind = draw(_KIND)
    if kind == "long":
        return draw(_WIDE) * max(1, max_size - draw(_OFFSET))
    if kind == "padded":
        core = draw(_CORE)[:max_size]
        padded = draw(_PAD) + core + draw(_PAD)
        return padded if len(padded) <= max_size else core
    if required:
        return (draw(_CORE) + draw(_SHORT))[:max_size]
    return draw(_SHORT)[:max_size]
