"""Sort keys the roster model orders its rows by, as pure Python (no Qt).

The model (model.py) computes a row's key once and compares key strings natively (bisection,
``list.sort``) instead of calling a Python ``lessThan`` per comparison; the keys were made for
QString::compare (UTF-16 code units, case sensitive), whose order is Python's code-point order
here. Each key encodes, for its column, the column's order (natural order for names and teams)
with ties broken by the natural name key. Encodings are order-preserving and self-delimiting,
and never contain a surrogate code unit, so UTF-16 order equals the order of the encoded code
points.
"""

from __future__ import annotations

import functools
import re
import struct

_DIGITS = re.compile(r"(\d+)")

TERM = "\x00"  # ends a text part: below every encoded character (they start at U+0001)
SEP = "\x00"  # between a team's key and the name's: below a number's length character
LOWEST = ""  # below every key
HIGHEST = "\uffff"  # above every key


@functools.lru_cache(maxsize=1 << 15)
def natural_key(text: str) -> tuple:
    """Sort key where digits compare as numbers: agent-2 < agent-10 (a tuple, for Python sorts)."""
    return tuple(int(p) if p.isdigit() else p for p in _DIGITS.split(text.casefold()))


def enc_text(text: str) -> str:
    """Code points -> a string whose code-unit order is ``text``'s code-point order, plus TERM."""
    out = []
    for ch in text:
        cp = ord(ch)
        if cp < 0xD7FF:
            out.append(chr(cp + 1))
        else:  # above the surrogates in code-point order: two units from U+E000 up
            off = cp - 0xD7FF
            out.append(chr(0xE000 + (off >> 12)) + chr(0xE000 + (off & 0xFFF)))
    out.append(TERM)
    return "".join(out)


_NINES = str.maketrans("0123456789", "9876543210")


def enc_int(n: int) -> str:
    """Integers in numeric order: a sign mark, a length character, then the digits."""
    digits = str(abs(n))
    if n >= 0:
        return "\x03" + chr(len(digits) + 1) + digits
    # longer magnitudes first, and digits reversed, so -10 < -9 < -1
    return "\x02" + chr(0xD7FF - len(digits)) + digits.translate(_NINES)


def enc_float(x: float) -> str:
    """IEEE-754 bits made order-preserving (sign flipped, negatives inverted): 8 fixed chars."""
    (bits,) = struct.unpack(">Q", struct.pack(">d", x + 0.0))  # + 0.0: -0.0 == 0.0 sorts as one
    bits = bits ^ 0xFFFFFFFFFFFFFFFF if bits >> 63 else bits | (1 << 63)
    return "".join(chr(b + 1) for b in bits.to_bytes(8, "big"))


@functools.lru_cache(maxsize=1 << 16)
def natural_sort_key(text: str) -> str:
    """:func:`natural_key` as a string with the same order (``a < b`` exactly when
    ``natural_key(a) < natural_key(b)``; equal when those are equal): text parts compare by code
    point, digit runs by value. Cached: a name is encoded once, not per comparison."""
    parts = _DIGITS.split(text.casefold())
    # odd parts are digit runs (int() reads any Unicode decimal digit); even parts are text, also
    # when they look numeric to str.isdigit (superscripts): natural_key raised on those
    return "".join(enc_text(p) if i % 2 == 0 else enc_int(int(p)) for i, p in enumerate(parts))
