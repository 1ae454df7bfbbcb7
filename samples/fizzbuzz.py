"""FizzBuzz, generalised: any divisors, any words, any range.

Run it:

    python fizzbuzz.py                # the classic game, 1 to 100
    python fizzbuzz.py 40 --rule 3=Fizz --rule 5=Buzz --rule 7=Bazz
    python fizzbuzz.py --check        # run the built-in self-test

Each number is replaced by the words of every rule whose divisor divides it,
joined in rule order; a number no rule matches is printed as itself.
"""

from __future__ import annotations

import argparse
import sys
from typing import Iterator

DEFAULT_RULES = ((3, "Fizz"), (5, "Buzz"))


def parse_rule(text: str) -> tuple[int, str]:
    """Turn 'N=Word' into (N, 'Word'); N must be a whole number above zero."""
    number, sep, word = text.partition("=")
    if not sep or not word:
        raise argparse.ArgumentTypeError(f"expected N=Word, got {text!r}")
    try:
        divisor = int(number)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{number!r} is not a whole number") from None
    if divisor < 1:
        raise argparse.ArgumentTypeError(f"divisor must be at least 1, got {divisor}")
    return divisor, word


def say(n: int, rules: tuple[tuple[int, str], ...] = DEFAULT_RULES) -> str:
    """What to say for the number n."""
    words = [word for divisor, word in rules if n % divisor == 0]
    return "".join(words) if words else str(n)


def game(stop: int, rules: tuple[tuple[int, str], ...] = DEFAULT_RULES, start: int = 1) -> Iterator[str]:
    """Yield what to say for every number from start to stop, inclusive."""
    for n in range(start, stop + 1):
        yield say(n, rules)


def self_test() -> int:
    """Check a handful of known answers; return the number of failures."""
    cases = [
        (1, DEFAULT_RULES, "1"),
        (3, DEFAULT_RULES, "Fizz"),
        (10, DEFAULT_RULES, "Buzz"),
        (15, DEFAULT_RULES, "FizzBuzz"),
        (98, DEFAULT_RULES, "98"),
        (21, DEFAULT_RULES + ((7, "Bazz"),), "FizzBazz"),
        (105, DEFAULT_RULES + ((7, "Bazz"),), "FizzBuzzBazz"),
        (4, ((2, "Even"),), "Even"),
    ]
    failures = 0
    for n, rules, expected in cases:
        got = say(n, rules)
        if got != expected:
            failures += 1
            print(f"FAIL say({n}) = {got!r}, expected {expected!r}")
    counts = {"Fizz": 0, "Buzz": 0, "FizzBuzz": 0}
    for word in game(100):
        if word in counts:
            counts[word] += 1
    if counts != {"Fizz": 27, "Buzz": 14, "FizzBuzz": 6}:
        failures += 1
        print(f"FAIL counts for 1..100: {counts}")
    print("self-test passed" if failures == 0 else f"{failures} self-test failure(s)")
    return failures


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description="Play FizzBuzz with any rules.")
    parser.add_argument("stop", nargs="?", type=int, default=100, help="last number (default 100)")
    parser.add_argument("--start", type=int, default=1, help="first number (default 1)")
    parser.add_argument("--rule", type=parse_rule, action="append", metavar="N=WORD",
                        help="add a rule; repeat for more (replaces the default 3=Fizz 5=Buzz)")
    parser.add_argument("--check", action="store_true", help="run the self-test and exit")
    args = parser.parse_args(argv)
    if args.check:
        return 1 if self_test() else 0
    rules = tuple(args.rule) if args.rule else DEFAULT_RULES
    for line in game(args.stop, rules, args.start):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
