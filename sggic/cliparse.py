"""An argparse parser that suggests the option a user probably meant (``--bbp`` -> ``--bpp``)."""

from __future__ import annotations

import argparse
import difflib
import re


def _options(parser: argparse.ArgumentParser) -> list[str]:
    return [s for a in parser._actions for s in a.option_strings if s.startswith("--")]


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for a in parser._actions:
        if isinstance(a, argparse._SubParsersAction):
            return dict(a.choices)
    return {}


class SuggestingParser(argparse.ArgumentParser):
    """Adds "did you mean --X?" to "unrecognized arguments" errors.

    Candidates are the options of the subcommand on the command line (the top-level
    parser sees the subcommand's leftovers), else of every subcommand.
    """

    _argv: list[str] = []

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
        import sys

        self._argv = list(sys.argv[1:] if args is None else args)
        return super().parse_known_args(args, namespace)

    def suggestion(self, message: str) -> str:
        m = re.match(r"unrecognized arguments: (.*)", message)
        if not m:
            return ""
        subs = _subparsers(self)
        chosen = next((subs[t] for t in self._argv if t in subs), None)
        pool = _options(chosen) if chosen is not None else _options(self) + [
            o for p in subs.values() for o in _options(p)]
        hints = []
        for token in m.group(1).split():
            if token.startswith("-"):
                flag = token.split("=", 1)[0]
                close = difflib.get_close_matches(flag, sorted(set(pool)), n=1, cutoff=0.6)
                if close:
                    hints.append(f"did you mean {close[0]} (not {flag})?")
        return "; " + " ".join(hints) if hints else ""

    def error(self, message: str):  # type: ignore[override]
        """One ``sggic: error:`` line (not argparse's usage dump), with the suggestion if any."""
        from .terminal import printable

        self.exit(2, f"sggic: error: {printable(message + self.suggestion(message))} (see {self.prog} --help)\n")
