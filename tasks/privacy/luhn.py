"""The Luhn (mod 10) checksum of payment card numbers, shared by the card recognizer and the leak guard (no Presidio import)."""

from __future__ import annotations


def luhn_valid(digits: str) -> bool:
    """Return True when a digit string passes the Luhn (mod 10) checksum."""
    if not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0
