"""Argument types the command lines share (standard library only: the serving process imports this too)."""

from __future__ import annotations

import argparse


def positive_int(text: str) -> int:
    """A whole number, at least 1; otherwise argparse's error names the option, the value and the rule."""
    if not text.isdigit() or int(text) < 1:
        msg = f"{text!r} (rule: a whole number, at least 1)"
        raise argparse.ArgumentTypeError(msg)
    return int(text)
